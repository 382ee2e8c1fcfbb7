//! What the views read: an immutable picture of the engine at one clock, under one
//! filter and window. Built by [`Monitor::snapshot`](crate::engine::monitor::Monitor::snapshot);
//! owns its data so a UI can keep it while the engine moves on.

use crate::engine::aggregate::bucket::Figures;
use crate::engine::query::filter::Filter;
use crate::engine::query::metric::Metric;

/// The figures of one window ending at `at`, with the online peers at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Point {
    pub at: i64,
    pub online: i64,
    pub figures: Figures,
}

/// Per-peer distribution of one metric over the window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    pub metric: Option<Metric>,
    /// (low edge, high edge, share of peers 0..1); the last bin is open above.
    pub bins: Vec<(f64, f64, f64)>,
    pub peers: usize,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// How a timeline is split into several series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitBy {
    Isp,
    Channel,
}

/// One row of a breakdown by ISP, channel or district.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub name: String,
    pub point: Point,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub at: i64,
    pub window_ms: i64,
    pub filter: Filter,
    /// The current window.
    pub current: Point,
    /// The preceding windows, oldest first, ending with `current`: sparklines and trends.
    pub recent: Vec<Point>,
    /// Points at `step_ms` over the requested range, oldest first.
    pub timeline: Vec<Point>,
    pub timeline_step_ms: i64,
    /// One-minute points over the last `Query::minutes_range_ms`, oldest first,
    /// whatever the timeline's step: the baseline a tile is compared with.
    pub minutes: Vec<Point>,
    /// The timeline per ISP or channel (the largest few by online peers), when asked.
    pub split: Vec<(String, Vec<Point>)>,
    pub histogram: Histogram,
    pub by_isp: Vec<Breakdown>,
    pub by_channel: Vec<Breakdown>,
    pub by_district: Vec<Breakdown>,
    /// By map area (empty without a geography).
    pub by_area: Vec<Breakdown>,
    /// Online peers per filter value, ignoring the filter: the filter panel's counts.
    pub isp_counts: Vec<(String, i64)>,
    pub channel_counts: Vec<(String, i64)>,
    pub district_counts: Vec<(String, i64)>,
    pub duplicates: u64,
    pub accepted: u64,
}

/// Adds each of `names` missing from a filter panel's `counts`, with none online, and
/// ranks the rows as the panel lists them: most online first, then by name.
pub fn count_every<'a>(counts: &mut Vec<(String, i64)>, names: impl IntoIterator<Item = &'a str>) {
    let listed: std::collections::BTreeSet<String> =
        counts.iter().map(|(name, _)| name.clone()).collect();
    for name in names {
        if !listed.contains(name) {
            counts.push((name.to_owned(), 0));
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.dedup_by(|a, b| a.0 == b.0);
}

impl Breakdown {
    /// Rows as the views rank them: most online first, then by name.
    pub fn rank(rows: &mut [Breakdown]) {
        rows.sort_by(|a, b| {
            b.point
                .online
                .cmp(&a.point.online)
                .then_with(|| a.name.cmp(&b.name))
        });
    }
}

/// What a snapshot is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub now: i64,
    pub window_ms: i64,
    pub filter: Filter,
    /// Windows of history for sparklines.
    pub recent_windows: usize,
    pub timeline_range_ms: i64,
    pub timeline_step_ms: i64,
    /// Range of the one-minute points (0: none).
    pub minutes_range_ms: i64,
    pub split: Option<SplitBy>,
    pub histogram: Option<Metric>,
}

impl Query {
    pub fn at(now: i64, window_ms: i64) -> Self {
        Query {
            now,
            window_ms,
            filter: Filter::default(),
            recent_windows: 30,
            timeline_range_ms: 3_600_000,
            timeline_step_ms: 60_000,
            minutes_range_ms: 0,
            split: None,
            histogram: None,
        }
    }
}
