//! The live engine behind `watch` and `replay`: ingests records as they come, keeps
//! history per (ISP, channel, district) cell at decreasing resolution, and answers
//! [`Query`]s with immutable [`Snapshot`]s for any filter.
//!
//! Every record counts in its own cell and in [`ALL`], so unfiltered figures are exact
//! (they equal `report`'s); a filter sums the cells it matches. Online peers are tracked
//! per cell exactly as in [`Aggregator`](super::aggregate::Aggregator); a peer that switched
//! channel less than 2 × period ago is online in both cells, so a filter spanning both
//! counts it twice for that moment.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rustc_hash::{FxHashMap, FxHashSet};

use super::bucket::{BucketStats, ReportSums};
use super::catalog::Catalog;
use super::core::FeedbackCore;
use super::filter::Filter;
use super::first_seen::FirstSeen;
use super::geography::Geography;
use super::location::{DistrictId, IpGeo, IspId};
use super::observation::Observation;
use super::qoe::{QoeParams, nearest_rank};
use super::record::Event;
use super::snapshot::{Breakdown, Histogram, Metric, Point, Query, Snapshot, SplitBy};
use super::tiers::{ALL, CellId, History};

const NO_END: i64 = i64::MIN;
/// Per-peer report samples are kept this long: the longest window the TUI offers.
const SAMPLE_SPAN_MS: i64 = 15 * 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CellKey {
    isp: IspId,
    channel: u32,
    district: DistrictId,
    /// Index into the geography's areas, or `NO_AREA`.
    area: u16,
}

const NO_AREA: u16 = u16::MAX;
/// The name of peers placed in no area (no geography, or nowhere on the map).
pub const UNKNOWN_AREA: &str = "Unknown";

#[derive(Debug, Clone, Copy)]
struct Track {
    cell: CellId,
    last_recv: i64,
    end: i64,
}

/// One report as the histogram needs it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    recv: i64,
    cell: CellId,
    sums: ReportSums,
    startup: Option<i64>,
}

#[derive(Debug, Default)]
struct PeerLive {
    tracks: Vec<Track>,
    samples: VecDeque<Sample>,
}

#[derive(Debug)]
pub struct Monitor {
    catalog: Catalog,
    qoe: QoeParams,
    cells: FxHashMap<CellKey, CellId>,
    cell_keys: Vec<CellKey>,
    history: History,
    peers: Vec<PeerLive>,
    startup_seen: FxHashSet<u32>,
    ends: BinaryHeap<Reverse<(i64, u32, CellId)>>,
    sampled: FxHashSet<u32>,
    clock: i64,
    latest_recv: i64,
    accepted: u64,
    /// First appearances over the whole recording, when known: "new" is then exact
    /// even for an engine started in the middle (a replay seek).
    first_seen: Option<std::sync::Arc<FirstSeen>>,
    geography: Option<std::sync::Arc<Geography>>,
    /// Area per (coordinates, district): a table has few distinct locations.
    area_memo: FxHashMap<(u32, u32, DistrictId), u16>,
}

impl Monitor {
    pub fn new(geo: IpGeo, qoe: QoeParams) -> Self {
        Monitor {
            catalog: Catalog::new(geo),
            qoe,
            cells: FxHashMap::default(),
            cell_keys: Vec::new(),
            history: History::default(),
            peers: Vec::new(),
            startup_seen: FxHashSet::default(),
            ends: BinaryHeap::new(),
            sampled: FxHashSet::default(),
            clock: i64::MIN,
            latest_recv: i64::MIN,
            accepted: 0,
            first_seen: None,
            geography: None,
            area_memo: FxHashMap::default(),
        }
    }

    /// Places peers in the geography's areas, for the Map view and area filters.
    #[must_use]
    pub fn with_geography(mut self, geography: std::sync::Arc<Geography>) -> Self {
        self.geography = Some(geography);
        self
    }

    fn area_name(&self, area: u16) -> &str {
        self.geography
            .as_ref()
            .and_then(|g| g.areas.get(area as usize))
            .map_or(UNKNOWN_AREA, |a| a.name.as_str())
    }

    fn area_of(&mut self, obs: &Observation) -> u16 {
        let Some(g) = &self.geography else {
            return NO_AREA;
        };
        let (lat, lon) = obs
            .location
            .lat_lon
            .map_or((u32::MAX, u32::MAX), |(a, b)| (a.to_bits(), b.to_bits()));
        let key = (lat, lon, obs.location.district);
        if let Some(a) = self.area_memo.get(&key) {
            return *a;
        }
        let district = self.catalog.geo.district_name(obs.location.district);
        let area = g.area_of(obs.location.lat_lon, district).unwrap_or(NO_AREA);
        self.area_memo.insert(key, area);
        area
    }

    /// Judges "new peer" by the recording's first appearances rather than by what this
    /// engine has seen.
    #[must_use]
    pub fn with_first_seen(mut self, first_seen: std::sync::Arc<FirstSeen>) -> Self {
        self.first_seen = Some(first_seen);
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn clock(&self) -> i64 {
        self.clock
    }

    /// Takes one record; duplicates are dropped. Records should come in `recv` order.
    pub fn ingest(&mut self, record: &FeedbackCore<'_>) {
        let Some(obs) = self.catalog.observe(record) else {
            return;
        };
        self.accepted += 1;
        self.latest_recv = self.latest_recv.max(obs.recv);
        let cell = self.cell_of(&obs);
        let peer = obs.peer as usize;
        if peer >= self.peers.len() {
            self.peers.resize_with(peer + 1, PeerLive::default);
        }
        let unseen_here = self.peers[peer].tracks.is_empty();
        let is_new = match &self.first_seen {
            Some(first) => unseen_here && first.first(record.peer) == Some(obs.recv),
            None => unseen_here,
        };
        for c in [ALL, cell] {
            self.track_online(&obs, c);
            let b = self.history.cell_mut(obs.recv, c);
            b.records += 1;
            if is_new {
                b.new_peers += 1;
            }
        }
        if obs.event != Event::Report {
            return;
        }
        let sums = obs.report_sums(&self.qoe);
        let startup = obs
            .startup_ms
            .filter(|_| self.startup_seen.insert(obs.session));
        for c in [ALL, cell] {
            let b = self.history.cell_mut(obs.recv, c);
            b.add_report(&sums);
            if let Some(s) = startup {
                b.startups.push(s);
            }
        }
        self.peers[peer].samples.push_back(Sample {
            recv: obs.recv,
            cell,
            sums,
            startup,
        });
        self.sampled.insert(obs.peer);
    }

    fn cell_of(&mut self, obs: &Observation) -> CellId {
        let key = CellKey {
            isp: obs.location.isp,
            channel: obs.channel,
            district: obs.location.district,
            area: self.area_of(obs),
        };
        if let Some(&id) = self.cells.get(&key) {
            return id;
        }
        let id = CellId::try_from(self.cell_keys.len()).unwrap_or(ALL - 1);
        self.cell_keys.push(key);
        self.cells.insert(key, id);
        id
    }

    fn track_online(&mut self, obs: &Observation, cell: CellId) {
        let live = &mut self.peers[obs.peer as usize];
        let i = if let Some(i) = live.tracks.iter().position(|t| t.cell == cell) {
            i
        } else {
            live.tracks.push(Track {
                cell,
                last_recv: obs.recv,
                end: NO_END,
            });
            live.tracks.len() - 1
        };
        let track = &mut live.tracks[i];
        if obs.recv < track.last_recv {
            return;
        }
        track.last_recv = obs.recv;
        let previous = std::mem::replace(&mut track.end, NO_END);
        if previous != NO_END {
            self.history
                .cell_mut(previous.min(obs.recv) - 1, cell)
                .online_delta -= 1;
        }
        if obs.event != Event::Leave {
            let end = obs.online_until();
            track.end = end;
            self.history.cell_mut(obs.recv - 1, cell).online_delta += 1;
            self.ends.push(Reverse((end, obs.peer, cell)));
        }
    }

    /// Moves the clock: files online ends that ran out, ages history, drops old samples.
    pub fn advance(&mut self, now: i64) {
        self.clock = self.clock.max(now);
        while let Some(Reverse((end, peer, cell))) = self.ends.peek().copied() {
            if end > self.clock {
                break;
            }
            self.ends.pop();
            let Some(live) = self.peers.get_mut(peer as usize) else {
                continue;
            };
            if let Some(t) = live
                .tracks
                .iter_mut()
                .find(|t| t.cell == cell && t.end == end)
            {
                t.end = NO_END;
                self.history.cell_mut(end - 1, cell).online_delta -= 1;
            }
        }
        self.history.compact(self.clock);
        let horizon = self.clock - SAMPLE_SPAN_MS;
        let peers = &mut self.peers;
        self.sampled.retain(|&p| {
            let samples = &mut peers[p as usize].samples;
            while samples.front().is_some_and(|s| s.recv < horizon) {
                samples.pop_front();
            }
            !samples.is_empty()
        });
    }

    fn matching_cells(&self, filter: &Filter) -> Vec<bool> {
        let geo = &self.catalog.geo;
        self.cell_keys
            .iter()
            .map(|k| {
                (filter.isps.is_empty() || filter.isps.contains(geo.isp_name(k.isp)))
                    && (filter.channels.is_empty()
                        || filter
                            .channels
                            .contains(self.catalog.channels.name(k.channel)))
                    && (filter.districts.is_empty()
                        || filter.districts.contains(geo.district_name(k.district)))
                    && (filter.areas.is_empty() || filter.areas.contains(self.area_name(k.area)))
            })
            .collect()
    }

    /// Online peers now, per cell.
    fn online_by_cell(&self, now: i64) -> FxHashMap<CellId, i64> {
        let mut counts: FxHashMap<CellId, i64> = FxHashMap::default();
        for live in &self.peers {
            for t in &live.tracks {
                if t.end != NO_END && t.last_recv <= now && now < t.end {
                    *counts.entry(t.cell).or_default() += 1;
                }
            }
        }
        counts
    }

    pub fn snapshot(&self, q: &Query) -> Snapshot {
        let matching = self.matching_cells(&q.filter);
        let selected = |c: CellId| {
            if q.filter.is_empty() {
                c == ALL
            } else {
                c != ALL && matching.get(c as usize).copied().unwrap_or(false)
            }
        };
        // The history under the filter: one merged bucket per slot, oldest first.
        let series = self.merged_series(&selected);
        let online_now = self.online_by_cell(q.now);
        let online_selected: i64 = online_now
            .iter()
            .filter(|(c, _)| selected(**c))
            .map(|(_, n)| n)
            .sum();
        let window_point = |end: i64, span: i64| -> Point { point(&series, end, span) };

        let mut current = window_point(q.now, q.window_ms);
        // Per-peer state is the present: exact for any instant at or after the newest
        // record. Before that, the count at the last bucket end is the best answer.
        if q.now >= self.latest_recv {
            current.online = online_selected;
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

        let breakdown = |key: &dyn Fn(&CellKey) -> String| -> Vec<Breakdown> {
            self.breakdown(
                &series_window(&self.history, q.now - q.window_ms, q.now),
                &matching,
                &online_now,
                key,
                q,
            )
        };
        let geo = &self.catalog.geo;
        let by_isp = breakdown(&|k| geo.isp_name(k.isp).to_owned());
        let by_channel = breakdown(&|k| self.catalog.channels.name(k.channel).to_owned());
        let by_district = breakdown(&|k| geo.district_name(k.district).to_owned());
        let by_area = if self.geography.is_some() {
            breakdown(&|k| self.area_name(k.area).to_owned())
        } else {
            Vec::new()
        };

        let counts = |key: &dyn Fn(&CellKey) -> String| -> Vec<(String, i64)> {
            let mut m: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
            for (i, k) in self.cell_keys.iter().enumerate() {
                let n = online_now
                    .get(&CellId::try_from(i).unwrap_or(ALL))
                    .copied()
                    .unwrap_or(0);
                *m.entry(key(k)).or_default() += n;
            }
            let mut v: Vec<(String, i64)> = m.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v
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
                Some(SplitBy::Isp) => {
                    self.split_timelines(SplitBy::Isp, &by_isp, &matching, &ends, step)
                }
                Some(SplitBy::Channel) => {
                    self.split_timelines(SplitBy::Channel, &by_channel, &matching, &ends, step)
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
            isp_counts: counts(&|k| geo.isp_name(k.isp).to_owned()),
            channel_counts: counts(&|k| self.catalog.channels.name(k.channel).to_owned()),
            district_counts: counts(&|k| geo.district_name(k.district).to_owned()),
            duplicates: self.catalog.duplicates(),
            accepted: self.accepted,
        }
    }

    /// One merged bucket per slot over the cells `pick` takes, oldest first.
    fn merged_series(&self, pick: &dyn Fn(CellId) -> bool) -> Vec<(i64, i64, BucketStats)> {
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
        by: SplitBy,
        rows: &[Breakdown],
        matching: &[bool],
        ends: &[i64],
        step: i64,
    ) -> Vec<(String, Vec<Point>)> {
        let geo = &self.catalog.geo;
        rows.iter()
            .take(6)
            .map(|row| {
                let pick = |c: CellId| {
                    c != ALL
                        && matching.get(c as usize).copied().unwrap_or(false)
                        && self.cell_keys.get(c as usize).is_some_and(|k| match by {
                            SplitBy::Isp => geo.isp_name(k.isp) == row.name,
                            SplitBy::Channel => self.catalog.channels.name(k.channel) == row.name,
                        })
                };
                let series = self.merged_series(&pick);
                let points = ends.iter().map(|&end| point(&series, end, step)).collect();
                (row.name.clone(), points)
            })
            .collect()
    }

    fn breakdown(
        &self,
        window: &[(CellId, &BucketStats)],
        matching: &[bool],
        online_now: &FxHashMap<CellId, i64>,
        key: &dyn Fn(&CellKey) -> String,
        q: &Query,
    ) -> Vec<Breakdown> {
        let mut groups: std::collections::BTreeMap<String, (BucketStats, i64)> =
            std::collections::BTreeMap::new();
        for (cell, stats) in window {
            if *cell == ALL || !matching.get(*cell as usize).copied().unwrap_or(false) {
                continue;
            }
            groups
                .entry(key(&self.cell_keys[*cell as usize]))
                .or_default()
                .0
                .merge(stats);
        }
        for (cell, n) in online_now {
            if *cell != ALL && matching.get(*cell as usize).copied().unwrap_or(false) {
                groups
                    .entry(key(&self.cell_keys[*cell as usize]))
                    .or_default()
                    .1 += n;
            }
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
        rows.sort_by(|a, b| {
            b.point
                .online
                .cmp(&a.point.online)
                .then_with(|| a.name.cmp(&b.name))
        });
        rows
    }

    fn histogram(&self, metric: Metric, q: &Query, selected: &dyn Fn(CellId) -> bool) -> Histogram {
        let from = q.now - q.window_ms;
        let mut values = Vec::new();
        for &p in &self.sampled {
            let samples = self.peers[p as usize].samples.iter().filter(|s| {
                s.recv >= from && s.recv < q.now && (q.filter.is_empty() || selected(s.cell))
            });
            if let Some(v) = per_peer(metric, samples) {
                values.push(v);
            }
        }
        values.sort_by(f64::total_cmp);
        let (lo, hi, n) = bin_range(metric);
        let width = (hi - lo) / f64::from(n);
        let mut counts = vec![0usize; n as usize];
        for v in &values {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = (((v - lo) / width).floor().max(0.0) as usize).min(counts.len() - 1);
            counts[i] += 1;
        }
        #[allow(clippy::cast_precision_loss)]
        let total = values.len().max(1) as f64;
        Histogram {
            metric: Some(metric),
            bins: counts
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    #[allow(clippy::cast_precision_loss)]
                    let a = lo + width * i as f64;
                    #[allow(clippy::cast_precision_loss)]
                    (a, a + width, *c as f64 / total)
                })
                .collect(),
            peers: values.len(),
            median: nearest_rank(&values, 50.0),
            p90: nearest_rank(&values, 90.0),
        }
    }

    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Buckets held across tiers: bounded whatever the length of the event.
    pub fn history_slots(&self) -> usize {
        self.history.slot_count()
    }
}

/// The cell buckets whose slot starts in [from, to).
fn series_window(history: &History, from: i64, to: i64) -> Vec<(CellId, &BucketStats)> {
    history
        .slots()
        .filter(|(s, _)| s.start >= from && s.start < to)
        .flat_map(|(s, _)| s.cells.iter().map(|(c, b)| (*c, b)))
        .collect()
}

/// Figures of the window [end − span, end) and online peers at `end` (from bucket ends).
fn point(series: &[(i64, i64, BucketStats)], end: i64, span: i64) -> Point {
    let mut merged = BucketStats::default();
    let mut online = 0i64;
    for (start, width, stats) in series {
        if start + width <= end {
            online += i64::from(stats.online_delta);
        }
        if *start >= end - span && *start < end {
            merged.merge(stats);
        }
    }
    Point {
        at: end,
        online,
        figures: merged.figures(),
    }
}

/// A peer's value of `metric` over its samples in the window.
fn per_peer<'a>(metric: Metric, samples: impl Iterator<Item = &'a Sample>) -> Option<f64> {
    let mut b = BucketStats::default();
    let mut startup = None;
    for s in samples {
        b.add_report(&s.sums);
        startup = startup.or(s.startup);
    }
    if b.reports == 0 {
        return None;
    }
    let f = b.figures();
    #[allow(clippy::cast_precision_loss)]
    match metric {
        Metric::UpKbps => f.up_kbps,
        Metric::DownKbps => f.down_kbps,
        Metric::Contribution => f.contribution,
        Metric::P2pShare => f.p2p_share,
        Metric::Continuity => f.continuity,
        Metric::Qoe => f.qoe,
        Metric::StartupP50 | Metric::StartupP90 => startup.map(|v| v as f64),
        Metric::Online | Metric::NewPeers => None,
    }
}

/// Histogram range and bin count per metric (the last bin also holds larger values).
fn bin_range(metric: Metric) -> (f64, f64, u32) {
    match metric {
        Metric::UpKbps | Metric::DownKbps => (0.0, 2000.0, 20),
        Metric::Contribution => (0.0, 2.0, 20),
        Metric::P2pShare | Metric::Continuity => (0.0, 1.0, 20),
        Metric::Qoe => (1.0, 5.0, 16),
        Metric::StartupP50 | Metric::StartupP90 => (0.0, 10_000.0, 20),
        Metric::Online | Metric::NewPeers => (0.0, 1.0, 1),
    }
}
