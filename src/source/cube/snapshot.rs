//! A [`Snapshot`] from the cubes: each series, window and breakdown a view asks for is
//! one SQL query over the cells the filter takes, grouped by bucket or by cell, so its
//! cost is set by the buckets and cells it covers, not by the records behind them. Each
//! ratio is the engine's own [`BucketStats::figures`]; startup percentiles come from the
//! cubes' histograms (the lower end of the bin holding the rank).
//!
//! Conventions are the engine's (`Monitor::snapshot`): a window ending at `end` takes
//! the buckets starting in `[end − span, end)`; online peers at `end` count the changes
//! of every bucket ending at or before it; a new peer is one whose first record of all
//! falls in the window, counted in the cell of that record.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::clickhouse::ClickHouse;
use crate::clickhouse::read::{
    CELL, DATA, SUM_COUNT, SUMS, at_or_after, histogram, online_at_sql, rows_of, sums_of,
};
use crate::engine::aggregate::bucket::{BucketStats, Figures};
use crate::engine::cube::{BUCKET_MS, histogram_rank};
use crate::engine::query::filter::Filter;
use crate::engine::query::snapshot::{Breakdown, Histogram, Point, Query, Snapshot, SplitBy};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
/// The timelines split by ISP or channel: the largest few, as the engine draws.
const SPLIT_GROUPS: usize = 6;

/// One bucket's sums under the filter: the engine's sums, the online change, and the
/// startup histogram (lower end of bin → sessions).
#[derive(Debug, Clone, Default)]
pub(super) struct Bucket {
    pub stats: BucketStats,
    pub online_delta: i64,
    pub startups: BTreeMap<u32, u64>,
}

impl Bucket {
    fn merge(&mut self, o: &Bucket) {
        self.stats.merge_sums(&o.stats);
        self.online_delta += o.online_delta;
        for (bin, n) in &o.startups {
            *self.startups.entry(*bin).or_default() += n;
        }
    }

    pub fn figures(&self) -> Figures {
        let bins: Vec<(u32, u64)> = self.startups.iter().map(|(b, n)| (*b, *n)).collect();
        Figures {
            startup_p50_ms: histogram_rank(&bins, 50.0),
            startup_p90_ms: histogram_rank(&bins, 90.0),
            startup_p99_ms: histogram_rank(&bins, 99.0),
            ..self.stats.figures()
        }
    }
}

/// Buckets of one width from `from` on, with the online peers at `from`.
#[derive(Debug, Clone, Default)]
struct Series {
    width: i64,
    base: i64,
    buckets: Vec<(i64, Bucket)>,
}

impl Series {
    /// The window `[end − span, end)`'s figures and the online peers at `end`. A window
    /// narrower than a bucket takes the bucket holding its last instant.
    fn point(&self, end: i64, span: i64) -> Point {
        let mut online = self.base;
        let mut merged = Bucket::default();
        let from = if span < self.width {
            (end - 1).div_euclid(self.width) * self.width
        } else {
            end - span
        };
        for (start, b) in &self.buckets {
            if start + self.width <= end {
                online += b.online_delta;
            }
            if *start >= from && *start < end {
                merged.merge(b);
            }
        }
        Point {
            at: end,
            online,
            figures: merged.figures(),
        }
    }
}

/// A cell's names, in [`CELL`]'s order.
pub(super) type CellNames = [String; 4];

/// What reads the cubes for one frame: the server, the filter as SQL, whether the
/// narrow cube can answer (the filter names no district or area), and where the 10 s
/// cube begins (`ship --keep-days` drops older days: before it, the minute cubes).
pub(super) struct Reader<'a> {
    pub ch: &'a ClickHouse,
    pub cells: String,
    pub narrow: bool,
    pub fine_from: i64,
}

impl Reader<'_> {
    fn db(&self) -> &str {
        &self.ch.target.database
    }

    fn rows(&self, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
        rows_of(self.ch, sql)
    }

    /// The cube holding buckets of `width` (10 s, 1 min or 1 h), for `group`.
    fn cube(&self, width: i64, group: Option<&str>) -> &'static str {
        let by_place = group.is_some_and(|g| g.contains("district") || g.contains("area"));
        match width {
            HOUR_MS => "cube_1h",
            MINUTE_MS if self.narrow && !by_place => "overview_1m",
            MINUTE_MS => "cube_1m",
            _ => "cube_10s",
        }
    }

    /// The buckets of `width` starting in `[from, to)` per `group` (SQL columns; `None`:
    /// one series, keyed ""), each with the online peers at `from` if `with_base` (0
    /// otherwise). `from` is a multiple of the width.
    fn series(
        &self,
        width: i64,
        (from, to): (i64, i64),
        group: Option<&str>,
        with_base: bool,
    ) -> anyhow::Result<BTreeMap<String, Series>> {
        // A bucket is whole: one starting before `to` counts, and so do its new peers.
        let to = to.div_euclid(width) * width + if to % width == 0 { 0 } else { width };
        let db = self.db();
        let cells = &self.cells;
        let (cols, by, keys) = match group {
            Some(g) => (format!("{g}, "), format!("{g}, "), g.split(',').count()),
            None => (String::new(), String::new(), 0),
        };
        let key = |row: &[String]| row[..keys].join("\u{1f}");
        let mut out: BTreeMap<String, Series> = BTreeMap::new();
        let mut buckets: BTreeMap<(String, i64), Bucket> = BTreeMap::new();
        for r in self.rows(&format!(
            "SELECT {cols}toUInt32(bucket) AS b, {SUMS}, sumMapMerge(startup) FROM {db}.{} \
             WHERE {DATA} AND {cells} AND bucket >= {} AND bucket < {} GROUP BY {by}b",
            self.cube(width, group),
            at_or_after(from),
            at_or_after(to)
        ))? {
            let start = crate::clickhouse::read::seconds_to_ms(&r[keys])?;
            let (stats, online_delta) = sums_of(&r[keys + 1..=keys + SUM_COUNT])?;
            let startups = histogram(&r[keys + SUM_COUNT + 1])?.into_iter().collect();
            buckets.insert(
                (key(&r), start),
                Bucket {
                    stats,
                    online_delta,
                    startups,
                },
            );
        }
        for (k, start, n) in self.new_peers(width, from, to, group)? {
            buckets.entry((k, start)).or_default().stats.new_peers = n;
        }
        if with_base {
            for r in self.rows(&online_at_sql(db, from, cells, group.unwrap_or("")))? {
                series_in(&mut out, width, key(&r)).base =
                    r[keys].parse().context("online peers from ClickHouse")?;
            }
        }
        for ((k, start), b) in buckets {
            series_in(&mut out, width, k).buckets.push((start, b));
        }
        if group.is_none() {
            series_in(&mut out, width, String::new());
        }
        Ok(out)
    }

    /// The whole service's one-minute points ending at each minute end in `(from, to]`
    /// (multiples of a minute), in order: what alerts are judged on.
    pub fn minute_points(&self, from: i64, to: i64) -> anyhow::Result<Vec<Point>> {
        let series = self
            .series(MINUTE_MS, (from, to), None, true)?
            .remove("")
            .unwrap_or_default();
        let mut online = series.base;
        let mut buckets = series.buckets.iter().peekable();
        let mut points = Vec::new();
        let mut end = from + MINUTE_MS;
        while end <= to {
            let mut minute = Bucket::default();
            while let Some((start, b)) = buckets.next_if(|(s, _)| s + MINUTE_MS <= end) {
                online += b.online_delta;
                if *start >= end - MINUTE_MS {
                    minute.merge(b);
                }
            }
            points.push(Point {
                at: end,
                online,
                figures: minute.figures(),
            });
            end += MINUTE_MS;
        }
        Ok(points)
    }

    /// Peers whose first record of all falls in `[from, to)` in a cell the filter takes,
    /// per `group` and bucket of `width`: (group key, bucket start, peers).
    fn new_peers(
        &self,
        width: i64,
        from: i64,
        to: i64,
        group: Option<&str>,
    ) -> anyhow::Result<Vec<(String, i64, u32)>> {
        let (cols, keys) = match group {
            Some(g) => (format!("{g}, "), g.split(',').count()),
            None => (String::new(), 0),
        };
        let rows = self.rows(&format!(
            "SELECT {cols}intDiv(f, {width}) * {width} AS b, count() FROM ({}) \
             WHERE {} AND f >= {from} AND f < {to} GROUP BY {cols}b",
            first_records(self.db()),
            self.cells
        ))?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r[..keys].join("\u{1f}"),
                    r[keys].parse().context("a first record's bucket")?,
                    r[keys + 1].parse().context("new peers")?,
                ))
            })
            .collect()
    }

    /// Each cell's sums over the buckets starting in `[from, to)` under the filter,
    /// with its new peers.
    /// Before the 10 s cube's first day, by the minute (a span narrower than one: the
    /// minute holding its last instant).
    pub fn cells_over(&self, from: i64, to: i64) -> anyhow::Result<BTreeMap<CellNames, Bucket>> {
        let width = if (from % MINUTE_MS == 0 && to % MINUTE_MS == 0) || from < self.fine_from {
            MINUTE_MS
        } else {
            BUCKET_MS
        };
        // The buckets starting at or after `from`.
        let from = if to - from < width {
            (to - 1).div_euclid(width) * width
        } else {
            from.div_euclid(width) * width + if from % width == 0 { 0 } else { width }
        };
        let mut out = BTreeMap::new();
        for (k, s) in self.series(width, (from, to), Some(CELL), false)? {
            let mut total = Bucket::default();
            for (_, b) in &s.buckets {
                total.merge(b);
            }
            out.insert(cell_names(&k), total);
        }
        Ok(out)
    }

    /// Online peers per cell at `end` (a multiple of 10 s), under `cells`.
    pub fn online_by_cell(
        &self,
        end: i64,
        cells: &str,
    ) -> anyhow::Result<BTreeMap<CellNames, i64>> {
        let mut out = BTreeMap::new();
        for r in self.rows(&online_at_sql(self.db(), end, cells, CELL))? {
            let n: i64 = r[4].parse().context("online peers from ClickHouse")?;
            if n != 0 {
                out.insert([r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone()], n);
            }
        }
        Ok(out)
    }
}

/// Each peer's first record of all, with the cell it was in: `peer_first` holds the
/// first per cell, the earliest of them is the peer's first.
fn first_records(db: &str) -> String {
    format!(
        "SELECT peer, min(first) AS f, argMin(i, first) AS isp, argMin(c, first) AS channel, \
         argMin(d, first) AS district, argMin(a, first) AS area FROM \
         (SELECT peer, isp AS i, channel AS c, district AS d, area AS a, minMerge(first_ms) AS first \
          FROM {db}.peer_first GROUP BY peer, i, c, d, a) GROUP BY peer"
    )
}

/// The series of `key` in `out`, added empty if new.
fn series_in(out: &mut BTreeMap<String, Series>, width: i64, key: String) -> &mut Series {
    out.entry(key).or_insert_with(|| Series {
        width,
        ..Series::default()
    })
}

/// A scoped thread's answer, its panic carried on.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn cell_names(key: &str) -> CellNames {
    let mut parts = key.split('\u{1f}').map(str::to_owned);
    std::array::from_fn(|_| parts.next().unwrap_or_default())
}

/// The coarsest cube width that a series of `step` and ends at multiples of it can read.
fn width_for(step: i64) -> i64 {
    [HOUR_MS, MINUTE_MS, BUCKET_MS]
        .into_iter()
        .find(|w| step % w == 0)
        .unwrap_or(BUCKET_MS)
}

/// Whether the filter takes a cell.
pub(super) fn takes(filter: &Filter, cell: &CellNames) -> bool {
    Filter::takes(&filter.isps, &cell[0])
        && Filter::takes(&filter.channels, &cell[1])
        && Filter::takes(&filter.districts, &cell[2])
        && Filter::takes(&filter.areas, &cell[3])
}

/// What the filter panel and the breakdowns read besides the series.
pub(super) struct Frame<'a> {
    /// Every name per dimension (isp, channel, district, area) the cubes hold.
    pub names: &'a [Vec<String>; 4],
    /// Whether the map's areas are drawn (the engine breaks down by area only then).
    pub areas: bool,
    pub accepted: u64,
}

/// The snapshot of `q` from the cubes, and whether some of it was read by the minute
/// for want of 10 s buckets.
pub(super) fn snapshot(
    reader: &Reader,
    q: &Query,
    frame: &Frame,
) -> anyhow::Result<(Snapshot, bool)> {
    let now = q.now;
    let fine = |from: i64, width: i64| {
        if width == BUCKET_MS && from < reader.fine_from {
            MINUTE_MS
        } else {
            width
        }
    };
    // The recent windows, by the 10 s bucket.
    let recent_from = now - q.window_ms * q.recent_windows.max(1) as i64;
    let recent_width = fine(recent_from, BUCKET_MS);
    let recent_from = recent_from.div_euclid(recent_width) * recent_width;
    // The timeline, from the coarsest cube its step allows.
    let step = q.timeline_step_ms.max(BUCKET_MS);
    let last = now.div_euclid(step) * step;
    let count = (q.timeline_range_ms / step).max(1);
    let ends: Vec<i64> = (0..count).rev().map(|k| last - k * step).collect();
    let width = fine(ends[0] - step, width_for(step));
    let timeline_from = (ends[0] - step).div_euclid(width) * width;
    let window_from = now - q.window_ms;
    let coarse = [recent_from, timeline_from, window_from]
        .iter()
        .any(|&from| from < reader.fine_from);
    // The one-minute points.
    let last_minute = now.div_euclid(MINUTE_MS) * MINUTE_MS;
    let minute_ends: Vec<i64> = (0..q.minutes_range_ms / MINUTE_MS)
        .rev()
        .map(|k| last_minute - k * MINUTE_MS)
        .collect();
    let online_end = now.div_euclid(BUCKET_MS) * BUCKET_MS;

    // The queries are independent: ask them together.
    let (recent, timeline, minutes, cells, online) = std::thread::scope(|s| {
        let recent = s.spawn(|| reader.series(recent_width, (recent_from, now), None, true));
        let timeline = s.spawn(|| reader.series(width, (timeline_from, last), None, true));
        let minutes = s.spawn(|| match minute_ends.first() {
            Some(first) => reader.series(MINUTE_MS, (first - MINUTE_MS, last_minute), None, true),
            None => Ok(BTreeMap::new()),
        });
        let cells = s.spawn(|| reader.cells_over(window_from, now));
        let online = reader.online_by_cell(online_end, "1");
        (
            join(recent),
            join(timeline),
            join(minutes),
            join(cells),
            online,
        )
    });
    let one = |m: anyhow::Result<BTreeMap<String, Series>>| -> anyhow::Result<Series> {
        Ok(m?.remove("").unwrap_or_default())
    };
    let (recent, timeline, minutes, cells, online) =
        (one(recent)?, one(timeline)?, one(minutes)?, cells?, online?);

    let current = recent.point(now, q.window_ms);
    let mut recent_points: Vec<Point> = (1..q.recent_windows.max(1))
        .rev()
        .map(|k| recent.point(now - k as i64 * q.window_ms, q.window_ms))
        .collect();
    recent_points.push(current);

    let breakdown = |d: usize| breakdown(&cells, &online, &q.filter, d, now);
    let (by_isp, by_channel, by_district) = (breakdown(0), breakdown(1), breakdown(2));
    let by_area = if frame.areas {
        breakdown(3)
    } else {
        Vec::new()
    };
    let timeline_span = (width, timeline_from, last);
    let split = match q.split {
        Some(SplitBy::Isp) => split(reader, &by_isp, "isp", &ends, step, timeline_span)?,
        Some(SplitBy::Channel) => {
            split(reader, &by_channel, "channel", &ends, step, timeline_span)?
        }
        None => Vec::new(),
    };
    let counts = |d: usize| counts(&online, &frame.names[d], d);
    let snapshot = Snapshot {
        at: now,
        window_ms: q.window_ms,
        filter: q.filter.clone(),
        current,
        recent: recent_points,
        timeline: ends.iter().map(|&e| timeline.point(e, step)).collect(),
        timeline_step_ms: step,
        minutes: minute_ends
            .iter()
            .map(|&e| minutes.point(e, MINUTE_MS))
            .collect(),
        split,
        // Per-peer distributions are not in the cubes: the view says so.
        histogram: Histogram {
            metric: q.histogram,
            ..Histogram::default()
        },
        by_isp,
        by_channel,
        by_district,
        by_area,
        isp_counts: counts(0),
        channel_counts: counts(1),
        district_counts: counts(2),
        duplicates: 0,
        accepted: frame.accepted,
    };
    Ok((snapshot, coarse))
}

/// The window's figures and the online peers at `now` per name of dimension `d`, of
/// the cells the filter takes; most online first.
fn breakdown(
    cells: &BTreeMap<CellNames, Bucket>,
    online: &BTreeMap<CellNames, i64>,
    filter: &Filter,
    d: usize,
    now: i64,
) -> Vec<Breakdown> {
    let mut groups: BTreeMap<&str, (Bucket, i64)> = BTreeMap::new();
    for (cell, b) in cells {
        let g = &mut groups.entry(cell[d].as_str()).or_default().0;
        g.merge(b);
    }
    for (cell, n) in online.iter().filter(|(c, _)| takes(filter, c)) {
        groups.entry(cell[d].as_str()).or_default().1 += n;
    }
    let mut rows: Vec<Breakdown> = groups
        .into_iter()
        .map(|(name, (b, online))| Breakdown {
            name: name.to_owned(),
            point: Point {
                at: now,
                online,
                figures: b.figures(),
            },
        })
        .collect();
    Breakdown::rank(&mut rows);
    rows
}

/// Online peers now per name of dimension `d` over every cell (the filter panel's
/// counts, whatever the filter); every name the cubes hold, most online first.
fn counts(online: &BTreeMap<CellNames, i64>, names: &[String], d: usize) -> Vec<(String, i64)> {
    let mut all: BTreeMap<&str, i64> = names.iter().map(|n| (n.as_str(), 0)).collect();
    for (cell, n) in online {
        *all.entry(cell[d].as_str()).or_default() += n;
    }
    let mut v: Vec<(String, i64)> = all.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// The timeline of each of the largest groups of `rows`, grouped by `column`, from
/// buckets of `width` over `[from, to)`.
fn split(
    reader: &Reader,
    rows: &[Breakdown],
    column: &str,
    ends: &[i64],
    step: i64,
    (width, from, to): (i64, i64, i64),
) -> anyhow::Result<Vec<(String, Vec<Point>)>> {
    let mut by = reader.series(width, (from, to), Some(column), true)?;
    Ok(rows
        .iter()
        .take(SPLIT_GROUPS)
        .map(|row| {
            let series = by.remove(&row.name).unwrap_or(Series {
                width,
                ..Series::default()
            });
            let points = ends.iter().map(|&e| series.point(e, step)).collect();
            (row.name.clone(), points)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(records: u32, online_delta: i64) -> Bucket {
        Bucket {
            stats: BucketStats {
                records,
                ..BucketStats::default()
            },
            online_delta,
            startups: BTreeMap::new(),
        }
    }

    #[test]
    fn points_follow_the_engines_conventions() {
        let s = Series {
            width: 10_000,
            base: 5,
            buckets: vec![
                (0, bucket(1, 2)),
                (10_000, bucket(3, -1)),
                (20_000, bucket(7, 4)),
            ],
        };
        // A window takes the buckets starting in [end - span, end); online counts
        // the changes of the buckets ending by `end`.
        let p = s.point(20_000, 20_000);
        assert_eq!((p.figures.records, p.online), (4, 6));
        let p = s.point(25_000, 10_000);
        assert_eq!((p.figures.records, p.online), (7, 6));
        let p = s.point(30_000, 10_000);
        assert_eq!((p.figures.records, p.online), (7, 10));
    }

    #[test]
    fn widths_divide_the_step() {
        assert_eq!(width_for(86_400_000), HOUR_MS);
        assert_eq!(width_for(900_000), MINUTE_MS);
        assert_eq!(width_for(10_000), BUCKET_MS);
    }

    #[test]
    fn startup_percentiles_come_from_the_bins() {
        let mut b = bucket(0, 0);
        b.startups = [(1_000, 9), (5_000, 1)].into_iter().collect();
        let f = b.figures();
        assert_eq!(
            (f.startup_p50_ms, f.startup_p99_ms),
            (Some(1_000), Some(5_000))
        );
    }
}
