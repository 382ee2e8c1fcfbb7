//! Answering a [`Query`]: the figures of the windows asked for, under a filter, as an
//! immutable [`Snapshot`].
//!
//! Sums of a window are merged from the cells the filter takes. Online peers: without
//! a filter, from the whole stream's own deltas; with one, from the taken cells' deltas
//! plus the tracker's correction for peers that moved between taken cells, read at the
//! instant the history holds for that point (a point inside a coarse bucket is read at
//! the bucket's start). The present ("now" at or after the newest record) comes from
//! per-peer state.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::{CellKey, Monitor};
use crate::engine::aggregate::bucket::BucketStats;
use crate::engine::aggregate::tiers::{ALL, CellId};
use crate::engine::query::filter::Filter;
use crate::engine::query::snapshot::{Breakdown, Point, Query, Snapshot, SplitBy, count_every};

/// One merged bucket per slot: (start, width, sums).
type MergedSeries = Vec<(i64, i64, BucketStats)>;

impl Monitor {
    pub fn snapshot(&self, q: &Query) -> Snapshot {
        let matching = self.matching_cells(&q.filter);
        let unfiltered = q.filter.is_empty();
        let taken = |c: CellId| c != ALL && matching.get(c as usize).copied().unwrap_or(false);
        let selected = |c: CellId| if unfiltered { c == ALL } else { taken(c) };
        // The history under the filter: one merged bucket per slot, oldest first.
        let series = self.merged_series(&selected);
        let window_point = |end: i64, span: i64| -> Point {
            let (mut p, instant) = point(&series, end, span);
            if !unfiltered {
                p.online += self.online_cells.correction(instant, &taken);
            }
            p
        };

        let mut current = window_point(q.now, q.window_ms);
        // Per-peer state is the present: exact for any instant at or after the newest
        // record. Before that, the count at the last bucket end is the best answer.
        if q.now >= self.latest_recv {
            current.online = if unfiltered {
                self.online_all.online_at(q.now, &|_| true)
            } else {
                self.online_cells.online_at(q.now, &taken)
            };
        }
        let mut recent: Vec<Point> = (1..q.recent_windows.max(1))
            .rev()
            .map(|k| {
                window_point(
                    q.now - i64::try_from(k).unwrap_or(0) * q.window_ms,
                    q.window_ms,
                )
            })
            .collect();
        recent.push(current);

        let step = q.timeline_step_ms.max(1);
        let last = q.now.div_euclid(step) * step;
        let count = (q.timeline_range_ms / step).max(1);
        let ends: Vec<i64> = (0..count).rev().map(|k| last - k * step).collect();
        let timeline = ends.iter().map(|&end| window_point(end, step)).collect();
        let last_minute = q.now.div_euclid(60_000) * 60_000;
        let minutes = (0..q.minutes_range_ms / 60_000)
            .rev()
            .map(|k| window_point(last_minute - k * 60_000, 60_000))
            .collect();

        let window = self.window_cells(q.now - q.window_ms, q.now);
        let geo = &self.catalog.geo;
        let isp = |k: &CellKey| geo.isp_name(k.isp).to_owned();
        let channel = |k: &CellKey| self.catalog.channels.name(k.channel).to_owned();
        let district = |k: &CellKey| geo.district_name(k.district).to_owned();
        let area = |k: &CellKey| self.area_name(k.area).to_owned();
        let by_isp = self.breakdown(&window, &taken, &isp, q);
        let by_channel = self.breakdown(&window, &taken, &channel, q);
        let by_district = self.breakdown(&window, &taken, &district, q);
        let by_area = if self.areas.geography().is_some() {
            self.breakdown(&window, &taken, &area, q)
        } else {
            Vec::new()
        };
        Snapshot {
            at: q.now,
            window_ms: q.window_ms,
            filter: q.filter.clone(),
            current,
            recent,
            timeline,
            timeline_step_ms: step,
            minutes,
            split: match q.split {
                Some(SplitBy::Isp) => self.split_timelines(&by_isp, &taken, &isp, &ends, step),
                Some(SplitBy::Channel) => {
                    self.split_timelines(&by_channel, &taken, &channel, &ends, step)
                }
                None => Vec::new(),
            },
            histogram: q
                .histogram
                .map(|m| self.histogram(m, q, &selected))
                .unwrap_or_default(),
            by_isp,
            by_channel,
            by_district,
            by_area,
            isp_counts: self.counts(q.now, &isp),
            channel_counts: self.counts(q.now, &channel),
            district_counts: self.counts(q.now, &district),
            duplicates: self.catalog.duplicates(),
            accepted: self.accepted,
        }
    }

    /// The whole stream's one-minute points ending at each of `ends`: what alerts are
    /// judged on, whatever a view's filter.
    pub fn service_minutes(&self, ends: impl IntoIterator<Item = i64>) -> Vec<Point> {
        let series = self.merged_series(&|c| c == ALL);
        ends.into_iter()
            .map(|end| point(&series, end, 60_000).0)
            .collect()
    }

    pub(super) fn matching_cells(&self, filter: &Filter) -> Vec<bool> {
        let geo = &self.catalog.geo;
        self.cell_keys
            .iter()
            .map(|k| {
                Filter::takes(&filter.isps, geo.isp_name(k.isp))
                    && Filter::takes(&filter.channels, self.catalog.channels.name(k.channel))
                    && Filter::takes(&filter.districts, geo.district_name(k.district))
                    && Filter::takes(&filter.areas, self.area_name(k.area))
            })
            .collect()
    }

    /// The cell's group name under `key`, per cell.
    fn group_names(&self, key: &dyn Fn(&CellKey) -> String) -> Vec<String> {
        self.cell_keys.iter().map(key).collect()
    }

    /// Online peers now per group, ignoring the filter (the filter panel's counts),
    /// largest first.
    fn counts(&self, now: i64, key: &dyn Fn(&CellKey) -> String) -> Vec<(String, i64)> {
        let names = self.group_names(key);
        let online = self
            .online_cells
            .online_by(now, &|c| names.get(c as usize).cloned());
        let mut all: BTreeMap<String, i64> = names.iter().map(|n| (n.clone(), 0)).collect();
        for (name, n) in online {
            *all.entry(name).or_default() += n;
        }
        let mut v: Vec<(String, i64)> = all.into_iter().collect();
        count_every(&mut v, []);
        v
    }

    /// One merged bucket per slot over the cells `pick` takes, oldest first.
    fn merged_series(&self, pick: &dyn Fn(CellId) -> bool) -> MergedSeries {
        let mut series = Vec::with_capacity(self.history.slot_count());
        for (slot, width) in self.history.slots() {
            let mut merged = BucketStats::default();
            for (cell, stats) in &slot.cells {
                if pick(*cell) {
                    merged.merge(stats);
                }
            }
            series.push((slot.start, width, merged));
        }
        series
    }

    /// The timeline of each of the largest groups (by online peers) under the filter.
    fn split_timelines(
        &self,
        rows: &[Breakdown],
        taken: &dyn Fn(CellId) -> bool,
        key: &dyn Fn(&CellKey) -> String,
        ends: &[i64],
        step: i64,
    ) -> Vec<(String, Vec<Point>)> {
        let names = self.group_names(key);
        rows.iter()
            .take(6)
            .map(|row| {
                let pick =
                    |c: CellId| taken(c) && names.get(c as usize).is_some_and(|n| *n == row.name);
                let series = self.merged_series(&pick);
                let points = ends
                    .iter()
                    .map(|&end| {
                        let (mut p, instant) = point(&series, end, step);
                        p.online += self.online_cells.correction(instant, &pick);
                        p
                    })
                    .collect();
                (row.name.clone(), points)
            })
            .collect()
    }

    /// Each cell's sums over the slots starting in `[from, to)`, in an order that does
    /// not depend on where the engine began reading (cell ids are handed out as cells
    /// are met): float sums merged in it come out the same after any seek.
    fn window_cells(&self, from: i64, to: i64) -> Vec<(CellId, BucketStats)> {
        let mut sums: Vec<Option<BucketStats>> = vec![None; self.cell_keys.len()];
        for (slot, _) in self.history.slots() {
            if slot.start < from || slot.start >= to {
                continue;
            }
            for (cell, stats) in &slot.cells {
                if let Some(sum) = sums.get_mut(*cell as usize) {
                    sum.get_or_insert_with(BucketStats::default).merge(stats);
                }
            }
        }
        let channels = &self.catalog.channels;
        let mut cells: Vec<(CellId, BucketStats)> = sums
            .into_iter()
            .enumerate()
            .filter_map(|(id, sum)| Some((CellId::try_from(id).ok()?, sum?)))
            .collect();
        cells.sort_by(|(a, _), (b, _)| {
            let (a, b) = (&self.cell_keys[*a as usize], &self.cell_keys[*b as usize]);
            (a.isp, a.district, a.area)
                .cmp(&(b.isp, b.district, b.area))
                .then_with(|| channels.name(a.channel).cmp(channels.name(b.channel)))
        });
        cells
    }

    /// The window's figures and the online peers now per group of the cells taken.
    fn breakdown(
        &self,
        window: &[(CellId, BucketStats)],
        taken: &dyn Fn(CellId) -> bool,
        key: &dyn Fn(&CellKey) -> String,
        q: &Query,
    ) -> Vec<Breakdown> {
        let names = self.group_names(key);
        let mut groups: BTreeMap<String, (BucketStats, i64)> = BTreeMap::new();
        for (cell, stats) in window {
            if taken(*cell) {
                groups
                    .entry(names[*cell as usize].clone())
                    .or_default()
                    .0
                    .merge(stats);
            }
        }
        let online: FxHashMap<String, i64> = self.online_cells.online_by(q.now, &|c| {
            taken(c).then(|| names.get(c as usize).cloned()).flatten()
        });
        for (name, n) in online {
            groups.entry(name).or_default().1 += n;
        }
        let mut rows: Vec<Breakdown> = groups
            .into_iter()
            .map(|(name, (stats, online))| Breakdown {
                name,
                point: Point {
                    at: q.now,
                    online,
                    figures: stats.figures(),
                },
            })
            .collect();
        Breakdown::rank(&mut rows);
        rows
    }
}

/// Figures of the window [end − span, end) and online peers at `end` (from bucket ends),
/// with the instant that count holds for: `end`, or the start of a coarse bucket that
/// `end` falls inside of.
fn point(series: &[(i64, i64, BucketStats)], end: i64, span: i64) -> (Point, i64) {
    let mut merged = BucketStats::default();
    let mut online = 0i64;
    let mut instant = end;
    for (start, width, stats) in series {
        if start + width <= end {
            online += i64::from(stats.online_delta);
        } else if *start < end {
            instant = instant.min(*start);
        }
        if *start >= end - span && *start < end {
            merged.merge(stats);
        }
    }
    (
        Point {
            at: end,
            online,
            figures: merged.figures(),
        },
        instant,
    )
}
