//! What view 6 reads: the probe × destination matrix at one clock, one destination's
//! series per probe, and the route-change events up to the clock. Owns its data.

use crate::engine::probes::ProbeMetric;
pub use crate::engine::probes::change_groups::RouteChangeGroup;

/// A path compared with a reference: the other probes' paths to the same destination,
/// or its own usual value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    MuchBetter,
    Better,
    Similar,
    Worse,
    MuchWorse,
}

impl Comparison {
    pub const ALL: [Comparison; 5] = [
        Comparison::MuchBetter,
        Comparison::Better,
        Comparison::Similar,
        Comparison::Worse,
        Comparison::MuchWorse,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Comparison::MuchBetter => "much better",
            Comparison::Better => "better",
            Comparison::Similar => "similar",
            Comparison::Worse => "worse",
            Comparison::MuchWorse => "much worse",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathCell {
    /// The latest round's value of the chosen metric.
    pub value: f64,
    /// `None` when no other probe has a value for this destination.
    pub comparison: Option<Comparison>,
    /// The path's own usual value, and the value against it (`None` without enough
    /// history): a destination bad for every probe stands out here, not above.
    pub usual: Option<f64>,
    pub vs_usual: Option<Comparison>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DestRow {
    pub dest: String,
    pub group: String,
    /// Median of the latest RTTs to this destination: how rows are ordered.
    pub typical_rtt: Option<f64>,
    /// One per probe, in [`ProbeSnapshot::probes`] order; `None` when the path has no
    /// recent round.
    pub cells: Vec<Option<PathCell>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DestDetail {
    pub dest: String,
    pub group: String,
    pub from: i64,
    pub to: i64,
    /// Per probe: (time, value) of each round (or hourly mean, for old history).
    pub series: Vec<(String, Vec<(i64, f64)>)>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RouteChange {
    pub at: i64,
    pub probe: String,
    pub dest: String,
    pub score: f64,
    /// AS paths of the round before and of the round that scored.
    pub before: Vec<u32>,
    pub after: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeQuery {
    pub now: i64,
    pub metric: ProbeMetric,
    /// The detail series cover `[now − range_ms, now]`.
    pub range_ms: i64,
    /// The destination whose probe × time series to include.
    pub dest: Option<String>,
    pub max_events: usize,
}

impl ProbeQuery {
    pub fn new(now: i64, metric: ProbeMetric) -> Self {
        ProbeQuery {
            now,
            metric,
            range_ms: 3_600_000,
            dest: None,
            max_events: 200,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSnapshot {
    pub metric: ProbeMetric,
    pub now: i64,
    /// Probe names, sorted: the matrix's columns.
    pub probes: Vec<String>,
    /// Destinations, groups nearest first.
    pub rows: Vec<DestRow>,
    pub detail: Option<DestDetail>,
    /// Newest first.
    pub events: Vec<RouteChange>,
    /// The same events as changes of the network, newest first.
    pub changes: Vec<RouteChangeGroup>,
    pub accepted: u64,
}

impl Default for ProbeSnapshot {
    fn default() -> Self {
        ProbeSnapshot {
            metric: ProbeMetric::Rtt,
            now: 0,
            probes: Vec::new(),
            rows: Vec::new(),
            detail: None,
            events: Vec::new(),
            changes: Vec::new(),
            accepted: 0,
        }
    }
}

/// "4528 4637 3356".
pub fn format_as_path(p: &[u32]) -> String {
    if p.is_empty() {
        return "?".into();
    }
    p.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}
