//! What the UI remembers between frames: the view, the metric, the window, the filter,
//! overlays, the replay clock's speed. Keys change it through [`super::update::update`];
//! the app loop changes it only for what it alone learns (the recording's end, an
//! export's outcome, a signal to quit).

use chrono_tz::Tz;

use crate::engine::explain::Baseline;
use crate::engine::probes::ProbeMetric;
use crate::engine::query::filter::Filter;
use crate::engine::query::metric::Metric;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Timeline,
    Histogram,
    District,
    Map,
    Probes,
    Explain,
}

impl View {
    pub const ALL: [View; 7] = [
        View::Overview,
        View::Timeline,
        View::Histogram,
        View::District,
        View::Map,
        View::Probes,
        View::Explain,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Timeline => "Timeline",
            View::Histogram => "Histogram",
            View::District => "District",
            View::Map => "Map",
            View::Probes => "Probes",
            View::Explain => "Explain",
        }
    }

    /// The name used by `--snapshot` and in export file names.
    pub fn name(self) -> &'static str {
        match self {
            View::Overview => "overview",
            View::Timeline => "timeline",
            View::Histogram => "histogram",
            View::District => "district",
            View::Map => "map",
            View::Probes => "probes",
            View::Explain => "explain",
        }
    }

    pub fn from_name(name: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// Sliding windows the TUI offers (DESIGN §5).
pub const WINDOWS_MS: [i64; 4] = [10_000, 60_000, 300_000, 900_000];
/// Timeline ranges; `None` is the whole recording (or everything received).
pub const RANGES_MS: [Option<i64>; 5] = [
    Some(900_000),
    Some(3_600_000),
    Some(6 * 3_600_000),
    Some(24 * 3_600_000),
    None,
];
/// Replay speeds; `None` is as fast as the engine goes.
pub const SPEEDS: [Option<u32>; 12] = [
    Some(1),
    Some(2),
    Some(5),
    Some(10),
    Some(30),
    Some(60),
    Some(120),
    Some(300),
    Some(600),
    Some(1800),
    Some(3600),
    None,
];
/// Metrics the histogram can show: per-peer values (not counts of peers). A peer has
/// one startup delay, so startup is one histogram (its p50 and p90 are the markers).
pub const HISTOGRAM_METRICS: [Metric; 7] = [
    Metric::Qoe,
    Metric::Continuity,
    Metric::UpKbps,
    Metric::DownKbps,
    Metric::Contribution,
    Metric::P2pShare,
    Metric::StartupP90,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    None,
    Isp,
    Channel,
}

impl Split {
    pub fn label(self) -> &'static str {
        match self {
            Split::None => "no split",
            Split::Isp => "by ISP",
            Split::Channel => "by channel",
        }
    }
}

/// Where the Timeline's time cursor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// On the newest point, following the clock.
    Newest,
    /// At a time (ms), kept while the clock moves.
    At(i64),
}

/// What a probe path's latest value is compared with (view 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeBasis {
    /// The other probes' paths to the same destination.
    OtherProbes,
    /// The path's own usual value.
    OwnUsual,
}

impl ProbeBasis {
    pub fn label(self) -> &'static str {
        match self {
            ProbeBasis::OtherProbes => "vs other probes",
            ProbeBasis::OwnUsual => "vs its usual",
        }
    }

    #[must_use]
    pub fn other(self) -> ProbeBasis {
        match self {
            ProbeBasis::OtherProbes => ProbeBasis::OwnUsual,
            ProbeBasis::OwnUsual => ProbeBasis::OtherProbes,
        }
    }
}

/// Which of the filter panel's three columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facet {
    Isp,
    Channel,
    District,
}

impl Facet {
    pub const ALL: [Facet; 3] = [Facet::Isp, Facet::Channel, Facet::District];

    pub fn title(self) -> &'static str {
        match self {
            Facet::Isp => "ISP",
            Facet::Channel => "Channel",
            Facet::District => "District",
        }
    }

    /// The filter's set for this facet.
    pub fn values(self, filter: &mut Filter) -> &mut std::collections::BTreeSet<String> {
        match self {
            Facet::Isp => &mut filter.isps,
            Facet::Channel => &mut filter.channels,
            Facet::District => &mut filter.districts,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    /// The key list, scrolled down this many lines.
    Help {
        scroll: usize,
    },
    Filters {
        facet: Facet,
        row: usize,
    },
    /// Typing a time to go to.
    GoTo {
        text: String,
        error: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Replay,
    Live,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UiState {
    pub mode: Mode,
    pub view: View,
    /// Index into `Metric::ALL` (Overview highlight, Timeline).
    pub metric: usize,
    /// Index into `HISTOGRAM_METRICS`.
    pub histogram_metric: usize,
    pub window: usize,
    pub range: usize,
    pub split: Split,
    pub filter: Filter,
    pub overlay: Overlay,
    /// Selected row of the Overview's ranked lists: (list 0 = ISPs, 1 = channels, row).
    pub ranked: (usize, usize),
    /// The district and the map area selected in views 4 and 5, by name.
    pub district: Option<String>,
    pub area: Option<String>,
    /// View 6: index into `ProbeMetric::ALL`, the selected destination row, the first
    /// probe column shown, and the destination whose probe × time heatmap is open.
    pub probe_metric: usize,
    pub probe_row: usize,
    pub probe_column: usize,
    pub probe_dest: Option<String>,
    /// What view 6 compares each path with.
    pub probe_basis: ProbeBasis,
    /// View 7: what the change is measured against, and the selected row.
    pub explain_baseline: Baseline,
    pub explain_row: usize,
    /// View 2: the time cursor, where the Timeline reads every figure; `None` until
    /// h, l, n or N.
    pub cursor: Option<Cursor>,
    /// The configured zone: clocks are shown in it (unless `utc`) from the first frame
    /// on, before any data has come.
    pub tz: Tz,
    pub utc: bool,
    pub paused: bool,
    pub speed: usize,
    /// A one-line message for the status bar (export path, errors).
    pub message: Option<String>,
    /// The terminal's columns × rows, as last drawn: how far the help can scroll.
    pub screen: (u16, u16),
    pub quit: bool,
}

impl UiState {
    pub fn new(mode: Mode, window_ms: i64, tz: Tz) -> Self {
        let window = WINDOWS_MS.iter().position(|w| *w >= window_ms).unwrap_or(1);
        UiState {
            mode,
            view: View::Overview,
            metric: 0,
            histogram_metric: 0,
            window,
            range: 1,
            split: Split::None,
            filter: Filter::default(),
            overlay: Overlay::None,
            ranked: (0, 0),
            district: None,
            area: None,
            probe_metric: 0,
            probe_row: 0,
            probe_column: 0,
            probe_dest: None,
            probe_basis: ProbeBasis::OtherProbes,
            explain_baseline: Baseline::TrailingHour,
            explain_row: 0,
            cursor: None,
            tz,
            utc: false,
            paused: false,
            speed: 5,
            message: None,
            screen: (80, 24),
            quit: false,
        }
    }

    pub fn window_ms(&self) -> i64 {
        WINDOWS_MS[self.window.min(WINDOWS_MS.len() - 1)]
    }

    pub fn range_ms(&self) -> Option<i64> {
        RANGES_MS[self.range.min(RANGES_MS.len() - 1)]
    }

    pub fn metric(&self) -> Metric {
        Metric::ALL[self.metric % Metric::ALL.len()]
    }

    /// Puts `metric` in focus (the Timeline's, the maps', view 7's).
    pub fn focus(&mut self, metric: Metric) {
        self.metric = Metric::ALL.iter().position(|m| *m == metric).unwrap_or(0);
    }

    pub fn histogram_metric(&self) -> Metric {
        HISTOGRAM_METRICS[self.histogram_metric % HISTOGRAM_METRICS.len()]
    }

    pub fn probe_metric(&self) -> ProbeMetric {
        ProbeMetric::ALL[self.probe_metric % ProbeMetric::ALL.len()]
    }

    pub fn speed(&self) -> Option<u32> {
        SPEEDS[self.speed.min(SPEEDS.len() - 1)]
    }

    /// Sets the speed to the listed one nearest to `x`.
    pub fn set_speed(&mut self, x: f64) {
        self.speed = SPEEDS
            .iter()
            .enumerate()
            .min_by(|a, b| {
                let d = |s: &Option<u32>| s.map_or(f64::MAX, |v| (f64::from(v) - x).abs());
                d(a.1).total_cmp(&d(b.1))
            })
            .map_or(5, |(i, _)| i);
    }
}

/// "10 s", "1 min", "6 h".
pub fn span_label(ms: i64) -> String {
    if ms % 3_600_000 == 0 {
        format!("{} h", ms / 3_600_000)
    } else if ms % 60_000 == 0 {
        format!("{} min", ms / 60_000)
    } else {
        format!("{} s", ms / 1000)
    }
}
