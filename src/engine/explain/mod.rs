//! Explaining a change: which ISP, channel, district or area — or which combination of
//! two or three of them — holds the difference between a window and its baseline.
//!
//! The input is a [`Cube`]: one [`Leaf`] per (ISP, channel, district, area) cell with
//! the explained measure's additive sums in the window and in the baseline. Every
//! measure is a ratio of sums (QoE = Σ MOS ÷ reports, continuity = Σ play ÷ Σ (play +
//! stall), the share of slow startups, rates) or a count (online peers).
//!
//! **Expected value.** A leaf's expected value is its own baseline value (a leaf with no
//! baseline takes the whole baseline's). For a ratio, the change a leaf carries is
//! `(actual − expected) × its weight ÷ the total weight`, weights being the actual
//! denominators; these add up exactly to the total's change at the window's mix, so a
//! set of cells has a *share* of the change (the way Adtributor treats derived
//! measures: a cell that merely grew does not look broken). For a count it is `actual −
//! expected`.
//!
//! **Search** ([`search`]). A cause is a set of up to three elements of one *cuboid* (a
//! choice of one, two or three dimensions). It is scored by how much of the leaves'
//! weighted squared deviation it removes when every leaf under one of its elements is
//! allowed one common shift (a ratio moves by the same amount, a count by the same
//! proportion): the fit is exact only when the whole of the element and nothing else
//! changed, so "HKBN" loses to "HKBN × Sha Tin" when the rest of HKBN is healthy
//! (Squeeze's and RiskLoc's ripple-effect assumption). Each element costs a little per
//! dimension, so the most succinct cause that fits wins; "everywhere" (one shift for all
//! leaves) competes too, and wins when the change is spread evenly. Deterministic, pure,
//! a few milliseconds for thousands of cells.
//!
//! [`adtributor`] is the plain single-dimension method (explanatory power and
//! surprise), kept as the accuracy benchmark's baseline.

mod adtributor;
mod cube;
mod search;
#[cfg(test)]
mod tests;

pub use adtributor::adtributor;
pub use cube::{CellSums, Cube, Leaf, Sums};
pub use search::explain;

use serde::Serialize;

/// The dimensions a cause is made of, in the order of a leaf's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Isp,
    Channel,
    District,
    Area,
}

pub const DIMENSIONS: usize = 4;

impl Dimension {
    pub const ALL: [Dimension; DIMENSIONS] = [
        Dimension::Isp,
        Dimension::Channel,
        Dimension::District,
        Dimension::Area,
    ];

    /// The name of a row's column and of a JSON field.
    pub fn key(self) -> &'static str {
        match self {
            Dimension::Isp => "isp",
            Dimension::Channel => "channel",
            Dimension::District => "district",
            Dimension::Area => "area",
        }
    }
}

/// What is explained: a metric of DESIGN §5 as additive sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// QoE (MOS): Σ MOS ÷ reports with playback.
    Qoe,
    /// Σ play ÷ Σ (play + stall).
    Continuity,
    /// The share of startups slower than the alert rule's p90 threshold: the additive
    /// measure behind "startup p90 above the threshold" (p90 is above it exactly when
    /// more than 10 % are).
    Startup,
    /// Online peers at the moment.
    Online,
    /// Period-weighted upload rate.
    Up,
    /// Period-weighted download rate.
    Down,
}

impl Target {
    pub const ALL: [Target; 6] = [
        Target::Qoe,
        Target::Continuity,
        Target::Startup,
        Target::Online,
        Target::Up,
        Target::Down,
    ];

    /// Its name on the command line and in exports.
    pub fn key(self) -> &'static str {
        match self {
            Target::Qoe => "qoe",
            Target::Continuity => "continuity",
            Target::Startup => "startup",
            Target::Online => "online",
            Target::Up => "up",
            Target::Down => "down",
        }
    }

    pub fn parse(name: &str) -> Option<Target> {
        Target::ALL
            .into_iter()
            .find(|t| t.key().eq_ignore_ascii_case(name.trim()))
    }

    /// In a title: "QoE (MOS)".
    pub fn label(self) -> &'static str {
        match self {
            Target::Qoe => "QoE (MOS)",
            Target::Continuity => "continuity",
            Target::Startup => "slow startups",
            Target::Online => "online peers",
            Target::Up => "upload kbps",
            Target::Down => "download kbps",
        }
    }

    /// Decimals a value is printed with.
    pub fn decimals(self) -> usize {
        match self {
            Target::Qoe => 2,
            Target::Continuity => 4,
            Target::Startup => 3,
            Target::Online | Target::Up | Target::Down => 0,
        }
    }

    /// Counts change in proportion to a cell's size; ratios by an amount.
    pub fn is_count(self) -> bool {
        self == Target::Online
    }
}

/// What a window is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// The hour before the window.
    TrailingHour,
    /// The same window a day earlier.
    DayBefore,
    /// A chosen interval `[from, to)`, ms.
    Between(i64, i64),
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

impl Baseline {
    /// Its span `[from, to)` for the window `[moment − window, moment)`.
    pub fn span(self, moment: i64, window_ms: i64) -> (i64, i64) {
        match self {
            Baseline::TrailingHour => (moment - window_ms - HOUR_MS, moment - window_ms),
            Baseline::DayBefore => (moment - window_ms - DAY_MS, moment - DAY_MS),
            Baseline::Between(from, to) => (from, to),
        }
    }

    /// How far back of the moment an engine must hold history for it (`None` for an
    /// interval of its own).
    pub fn lookback_ms(self, window_ms: i64) -> Option<i64> {
        match self {
            Baseline::TrailingHour => Some(window_ms + HOUR_MS),
            Baseline::DayBefore => Some(window_ms + DAY_MS),
            Baseline::Between(..) => None,
        }
    }

    /// For a title: "the hour before".
    pub fn describe(self) -> String {
        match self {
            Baseline::TrailingHour => "the hour before".to_owned(),
            Baseline::DayBefore => "the day before".to_owned(),
            Baseline::Between(..) => "the chosen interval".to_owned(),
        }
    }
}

/// One element of a cause: a name per dimension it is made of, `None` elsewhere.
pub type Cause = [Option<String>; DIMENSIONS];

/// One place that holds part of the change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contributor {
    pub cause: Cause,
    /// Its part of the total change (1.0 = all of it).
    pub share: f64,
    /// Its value in the window, and what its cells' baselines expected.
    pub actual: Option<f64>,
    pub expected: Option<f64>,
    /// Online peers in it at the moment.
    pub peers: i64,
}

impl Contributor {
    /// "HKBN × Sha Tin".
    pub fn name(&self) -> String {
        cause_name(&self.cause)
    }
}

/// The names of a cause's dimensions, joined by "×"; "everywhere" for none.
pub fn cause_name(cause: &Cause) -> String {
    let parts: Vec<&str> = cause.iter().flatten().map(String::as_str).collect();
    if parts.is_empty() {
        "everywhere".to_owned()
    } else {
        parts.join(" × ")
    }
}

/// How the change came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The contributors hold it.
    Located,
    /// It is spread evenly: no single place.
    Everywhere,
    /// The window is as its baseline expects, or differs by no more than noise.
    NoChange,
    /// The baseline has nothing to compare with.
    NoBaseline,
    /// The window holds nothing.
    NoData,
}

impl Verdict {
    /// A sentence for a report's heading and view 7.
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::Located => "located",
            Verdict::Everywhere => "everywhere alike: no single place",
            Verdict::NoChange => "within the baseline's noise",
            Verdict::NoBaseline => "no baseline to compare with",
            Verdict::NoData => "no data in the window",
        }
    }

    /// A few words for an alert line, where room is short.
    pub fn brief(self) -> &'static str {
        match self {
            Verdict::Located => "located",
            Verdict::Everywhere => "everywhere alike",
            Verdict::NoChange => "within noise",
            Verdict::NoBaseline => "no baseline",
            Verdict::NoData => "no data",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub target: Target,
    /// The whole window's value, and what the cells' baselines expect of it at the
    /// window's mix.
    pub actual: Option<f64>,
    pub expected: Option<f64>,
    pub verdict: Verdict,
    /// The cause, largest share first (empty unless located).
    pub contributors: Vec<Contributor>,
    /// Context: the single ISPs, channels, districts and areas with the largest shares
    /// of the change that are not the cause themselves, largest first.
    pub others: Vec<Contributor>,
}

impl Explanation {
    /// One line for an alert: the largest contributor's share and name ("71 % HKBN ×
    /// Sha Tin", "+1" when there are more), or why there is no place.
    pub fn summary(&self) -> String {
        match (self.verdict, self.contributors.first()) {
            (Verdict::Located, Some(top)) => {
                let more = self.contributors.len() - 1;
                let rest = if more > 0 {
                    format!(" +{more}")
                } else {
                    String::new()
                };
                format!("{:.0} % {}{rest}", top.share * 100.0, top.name())
            }
            (verdict, _) => verdict.brief().to_owned(),
        }
    }
}
