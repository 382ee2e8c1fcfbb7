//! The metrics a view can show (DESIGN §5), in one table: what each is called, its
//! unit, how precisely it is printed, which way is better, the values it can take, and
//! its histogram's bins. Views, exports, alerts and the histogram all read it here.

use crate::engine::query::snapshot::Point;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Online,
    NewPeers,
    UpKbps,
    DownKbps,
    Contribution,
    P2pShare,
    StartupP50,
    StartupP90,
    Continuity,
    Qoe,
}

/// Which way a metric gets better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// Neither: more online peers is load, not health.
    Neither,
}

/// Everything said about one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricInfo {
    /// On the command line (`--metric`): "online".
    pub key: &'static str,
    /// In a view's title: "online peers".
    pub label: &'static str,
    /// On a tile that fits 80 columns: "online".
    pub short: &'static str,
    /// Beside a value, or "".
    pub unit: &'static str,
    /// Decimals printed; 0 prints whole numbers with thousands separators.
    pub decimals: usize,
    pub better: Better,
    /// The values it can take: an axis is never drawn past them.
    pub min: f64,
    pub max: Option<f64>,
    /// The histogram's range and bin count (the last bin also holds larger values).
    pub bins: (f64, f64, u32),
}

const fn info(
    (key, label, short): (&'static str, &'static str, &'static str),
    unit: &'static str,
    decimals: usize,
    better: Better,
    (min, max): (f64, Option<f64>),
    bins: (f64, f64, u32),
) -> MetricInfo {
    MetricInfo {
        key,
        label,
        short,
        unit,
        decimals,
        better,
        min,
        max,
        bins,
    }
}

impl Metric {
    pub const ALL: [Metric; 10] = [
        Metric::Online,
        Metric::NewPeers,
        Metric::UpKbps,
        Metric::DownKbps,
        Metric::Contribution,
        Metric::P2pShare,
        Metric::StartupP50,
        Metric::StartupP90,
        Metric::Continuity,
        Metric::Qoe,
    ];

    pub const fn info(self) -> MetricInfo {
        use Better::{Higher, Lower, Neither};
        match self {
            Metric::Online => info(
                ("online", "online peers", "online"),
                "",
                0,
                Neither,
                (0.0, None),
                (0.0, 1.0, 1),
            ),
            Metric::NewPeers => info(
                ("new_peers", "new peers", "new peers"),
                "",
                0,
                Neither,
                (0.0, None),
                (0.0, 1.0, 1),
            ),
            Metric::UpKbps => info(
                ("up", "upload kbps", "up"),
                "kbps",
                0,
                Higher,
                (0.0, None),
                (0.0, 2000.0, 20),
            ),
            Metric::DownKbps => info(
                ("down", "download kbps", "down"),
                "kbps",
                0,
                Higher,
                (0.0, None),
                (0.0, 2000.0, 20),
            ),
            Metric::Contribution => info(
                ("contribution", "contribution", "contrib."),
                "",
                3,
                Higher,
                (0.0, None),
                (0.0, 2.0, 20),
            ),
            Metric::P2pShare => info(
                ("p2p_share", "P2P share", "P2P share"),
                "",
                3,
                Higher,
                (0.0, Some(1.0)),
                (0.0, 1.0, 20),
            ),
            Metric::StartupP50 => info(
                ("startup_p50", "startup p50 ms", "startup p50"),
                "ms",
                0,
                Lower,
                (0.0, None),
                (0.0, 10_000.0, 20),
            ),
            Metric::StartupP90 => info(
                ("startup_p90", "startup p90 ms", "startup p90"),
                "ms",
                0,
                Lower,
                (0.0, None),
                (0.0, 10_000.0, 20),
            ),
            Metric::Continuity => info(
                ("continuity", "continuity", "continuity"),
                "",
                4,
                Higher,
                (0.0, Some(1.0)),
                (0.0, 1.0, 20),
            ),
            Metric::Qoe => info(
                ("qoe", "QoE (MOS)", "QoE"),
                "",
                2,
                Higher,
                (1.0, Some(5.0)),
                (1.0, 5.0, 16),
            ),
        }
    }

    pub fn label(self) -> &'static str {
        self.info().label
    }

    /// The metric named `key` on the command line.
    pub fn from_key(key: &str) -> Option<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| m.info().key.eq_ignore_ascii_case(key.trim()))
    }

    /// This metric's value in a window's figures and online count.
    #[allow(clippy::cast_precision_loss)]
    pub fn of(self, p: &Point) -> Option<f64> {
        let f = &p.figures;
        match self {
            Metric::Online => Some(p.online as f64),
            Metric::NewPeers => Some(f64::from(f.new_peers)),
            Metric::UpKbps => f.up_kbps,
            Metric::DownKbps => f.down_kbps,
            Metric::Contribution => f.contribution,
            Metric::P2pShare => f.p2p_share,
            Metric::StartupP50 => f.startup_p50_ms.map(|v| v as f64),
            Metric::StartupP90 => f.startup_p90_ms.map(|v| v as f64),
            Metric::Continuity => f.continuity,
            Metric::Qoe => f.qoe,
        }
    }
}
