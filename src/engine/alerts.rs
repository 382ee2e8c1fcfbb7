//! Alert rules over a series of one-minute points: low QoE, low continuity, slow
//! startup, a flash crowd (concurrency rising by more than a share within a span of
//! minutes) and a stale source.
//!
//! An alert fires on the minute a condition starts to hold and stays active while it
//! holds, so a long dip is one alert with a start and, once it clears, an end, not one
//! per minute. Rules that are set to 0 are off.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::engine::explain::Target;
use crate::engine::query::metric::Metric;
use crate::engine::query::snapshot::Point;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertRules {
    /// QoE (MOS) of the minute below this.
    pub qoe_below: f64,
    /// Continuity of the minute below this.
    pub continuity_below: f64,
    /// Startup delay p90 of the minute above this many ms.
    pub startup_p90_above_ms: i64,
    /// Online peers up by more than this many percent…
    pub flash_crowd_pct: f64,
    /// …within this many minutes (from the lowest count in them)…
    pub flash_crowd_span_min: u32,
    /// …from at least this many peers (small counts jump by chance).
    pub flash_crowd_min_peers: i64,
    /// A source with nothing new for this many seconds (live only).
    pub source_stale_s: u64,
    /// QoE, continuity and startup conditions fire once they have held this many
    /// consecutive minutes (a flash crowd fires at once): one noisy minute is not news.
    pub hold_minutes: u32,
}

impl AlertRules {
    /// Whether `value` of `metric` is past the threshold of the metric's rule (only QoE,
    /// continuity and startup p90 have one).
    pub fn breached(&self, metric: Metric, value: f64) -> bool {
        match metric {
            Metric::Qoe => on(self.qoe_below).is_some_and(|t| value < t),
            Metric::Continuity => on(self.continuity_below).is_some_and(|t| value < t),
            Metric::StartupP90 => {
                self.startup_p90_above_ms > 0 && value > self.startup_p90_above_ms as f64
            }
            _ => false,
        }
    }
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            qoe_below: 3.5,
            continuity_below: 0.98,
            startup_p90_above_ms: 5000,
            flash_crowd_pct: 50.0,
            flash_crowd_span_min: 10,
            flash_crowd_min_peers: 50,
            source_stale_s: 60,
            hold_minutes: 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlertKind {
    LowQoe,
    LowContinuity,
    SlowStartup,
    FlashCrowd,
    StaleSource,
}

impl AlertKind {
    /// What an explanation of it explains (a stale source is no change in the figures).
    pub fn target(self) -> Option<Target> {
        match self {
            AlertKind::LowQoe => Some(Target::Qoe),
            AlertKind::LowContinuity => Some(Target::Continuity),
            AlertKind::SlowStartup => Some(Target::Startup),
            AlertKind::FlashCrowd => Some(Target::Online),
            AlertKind::StaleSource => None,
        }
    }

    /// A word for a marker on a chart.
    pub fn short(self) -> &'static str {
        match self {
            AlertKind::LowQoe => "QoE",
            AlertKind::LowContinuity => "cont.",
            AlertKind::SlowStartup => "startup",
            AlertKind::FlashCrowd => "crowd",
            AlertKind::StaleSource => "stale",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AlertKind::LowQoe => "QoE low",
            AlertKind::LowContinuity => "continuity low",
            AlertKind::SlowStartup => "startup slow",
            AlertKind::FlashCrowd => "flash crowd",
            AlertKind::StaleSource => "source stale",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub kind: AlertKind,
    /// The minute the condition started to hold (its end, ms).
    pub at: i64,
    /// The minute it had held long enough to fire (its end, ms).
    pub fired_at: i64,
    /// The first minute it no longer held (its end, ms); `None` while it holds.
    pub until: Option<i64>,
    /// The value that crossed the threshold, and the threshold.
    pub value: f64,
    pub threshold: f64,
    /// A flash crowd's rise took this many minutes (0 for the other kinds).
    pub rise_min: u32,
    /// Still holding at the last point.
    pub active: bool,
    /// Where it is: the explanation's one line ("71 % HKBN × Sha Tin"), when a frame
    /// source has worked it out.
    pub cause: Option<String>,
}

impl Alert {
    /// A short line for a list: what crossed which threshold.
    pub fn describe(&self) -> String {
        let (what, reading) = self.describe_parts();
        format!("{what} {reading}")
    }

    /// What the alert is about, and its reading: a narrow list puts the reading on a
    /// line of its own rather than cut it.
    pub fn describe_parts(&self) -> (&'static str, String) {
        let (v, t) = (self.value, self.threshold);
        match self.kind {
            AlertKind::LowQoe => ("QoE", format!("{v:.2} < {t:.2}")),
            AlertKind::LowContinuity => ("continuity", format!("{v:.3} < {t:.3}")),
            AlertKind::SlowStartup => (
                "startup p90",
                format!("{:.1} s > {:.1} s", v / 1000.0, t / 1000.0),
            ),
            AlertKind::FlashCrowd => (
                "flash crowd:",
                format!("online +{v:.0} % in {} min", self.rise_min),
            ),
            AlertKind::StaleSource => ("source stale:", format!("{v:.0} s > {t:.0} s")),
        }
    }
}

/// A threshold, unless it is 0 (off).
fn on(threshold: f64) -> Option<f64> {
    (threshold > 0.0).then_some(threshold)
}

/// How a condition holds at a point: the value, the threshold, and for a flash crowd
/// the minutes its rise took.
type Breach = (f64, f64, u32);

/// The breach of `kind` at point `at`, if the condition holds there.
fn breach(rules: &AlertRules, kind: AlertKind, points: &[Point], at: usize) -> Option<Breach> {
    let point = &points[at];
    let f = &point.figures;
    match kind {
        AlertKind::LowQoe => {
            let (v, t) = (f.qoe?, on(rules.qoe_below)?);
            (v < t).then_some((v, t, 0))
        }
        AlertKind::LowContinuity => {
            let (v, t) = (f.continuity?, on(rules.continuity_below)?);
            (v < t).then_some((v, t, 0))
        }
        AlertKind::SlowStartup => {
            let (v, t) = (
                f.startup_p90_ms?,
                Some(rules.startup_p90_above_ms).filter(|t| *t > 0)?,
            );
            (v > t).then_some((v as f64, t as f64, 0))
        }
        AlertKind::FlashCrowd => {
            // The rise from the lowest count of the span before this minute (of those
            // with a base to count from), however it climbed.
            let t = on(rules.flash_crowd_pct)?;
            let span = rules.flash_crowd_span_min.max(1) as usize;
            let (low_at, low) = points[at.saturating_sub(span)..at]
                .iter()
                .enumerate()
                .filter(|(_, p)| p.online >= rules.flash_crowd_min_peers.max(1))
                .map(|(i, p)| (at.saturating_sub(span) + i, p.online))
                .min_by_key(|&(i, online)| (online, std::cmp::Reverse(i)))?;
            let pct = (point.online - low) as f64 * 100.0 / low as f64;
            let minutes = u32::try_from(at - low_at).unwrap_or(u32::MAX);
            (pct > t).then_some((pct, t, minutes))
        }
        AlertKind::StaleSource => None,
    }
}

/// A live source with nothing new for longer than the rule allows, as an active alert
/// at `now`; `lag_ms` is how far its newest record is behind the clock.
pub fn stale_source(rules: &AlertRules, lag_ms: Option<i64>, now: i64) -> Option<Alert> {
    let limit_ms = i64::try_from(rules.source_stale_s)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    let lag = lag_ms?;
    (limit_ms > 0 && lag > limit_ms).then(|| Alert {
        kind: AlertKind::StaleSource,
        at: now,
        fired_at: now,
        until: None,
        value: lag as f64 / 1000.0,
        threshold: rules.source_stale_s as f64,
        rise_min: 0,
        active: true,
        cause: None,
    })
}

/// The kinds judged on one-minute points (a stale source is judged on a live source).
const MINUTE_KINDS: [AlertKind; 4] = [
    AlertKind::LowQoe,
    AlertKind::LowContinuity,
    AlertKind::SlowStartup,
    AlertKind::FlashCrowd,
];

/// Where a kind's condition stands: the run of minutes it has held, and the alert it
/// fired, if the run lasted the hold time.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    /// The run's first minute (its end, ms), how it held there, and its length.
    first: Option<(i64, Breach, usize)>,
    /// Index in `fired` of the alert this run fired.
    fired: Option<usize>,
}

/// Alerts judged minute by minute, in time order, over a whole stream: what a
/// recording holds, or what a live source delivered. An alert's start and end then
/// depend only on the minutes, never on how far back a view happens to look.
#[derive(Debug, Clone)]
pub struct AlertLog {
    rules: AlertRules,
    /// The last minutes, as many as a flash crowd's span looks back, and the newest.
    recent: VecDeque<Point>,
    runs: [Run; 4],
    fired: Vec<Alert>,
}

impl AlertLog {
    pub fn new(rules: AlertRules) -> Self {
        AlertLog {
            rules,
            recent: VecDeque::new(),
            runs: [Run::default(); 4],
            fired: Vec::new(),
        }
    }

    /// The end of the newest minute judged.
    pub fn last_minute(&self) -> Option<i64> {
        self.recent.back().map(|p| p.at)
    }

    /// Judges the next minute (its `at` is the minute's end, after the previous one's).
    pub fn push(&mut self, point: Point) {
        let span = self.rules.flash_crowd_span_min.max(1) as usize;
        if self.recent.len() > span {
            self.recent.pop_front();
        }
        self.recent.push_back(point);
        let points = self.recent.make_contiguous();
        let at = points.len() - 1;
        for (kind, run) in MINUTE_KINDS.iter().zip(self.runs.iter_mut()) {
            let Some(b) = breach(&self.rules, *kind, points, at) else {
                if let Some(i) = run.fired {
                    self.fired[i].until = Some(point.at);
                    self.fired[i].active = false;
                }
                *run = Run::default();
                continue;
            };
            let (first, (value, threshold, rise_min), length) =
                run.first.get_or_insert((point.at, b, 0));
            *length += 1;
            let hold = if *kind == AlertKind::FlashCrowd {
                1
            } else {
                self.rules.hold_minutes.max(1) as usize
            };
            if run.fired.is_none() && *length >= hold {
                run.fired = Some(self.fired.len());
                self.fired.push(Alert {
                    kind: *kind,
                    at: *first,
                    fired_at: point.at,
                    until: None,
                    value: *value,
                    threshold: *threshold,
                    rise_min: *rise_min,
                    active: true,
                    cause: None,
                });
            }
        }
    }

    /// Every alert fired so far, oldest first.
    pub fn alerts(&self) -> Vec<Alert> {
        let mut all = self.fired.clone();
        all.sort_by(|a, b| a.at.cmp(&b.at).then(a.kind.cmp(&b.kind)));
        all
    }

    /// The alerts as they stood at `clock`: those fired by then, active if they had
    /// not yet cleared.
    pub fn as_of(&self, clock: i64) -> Vec<Alert> {
        let mut then: Vec<Alert> = self
            .fired
            .iter()
            .filter(|a| a.fired_at <= clock)
            .map(|a| match a.until {
                Some(until) if until > clock => Alert {
                    until: None,
                    active: true,
                    ..a.clone()
                },
                _ => a.clone(),
            })
            .collect();
        then.sort_by(|a, b| a.at.cmp(&b.at).then(a.kind.cmp(&b.kind)));
        then
    }
}

impl AlertLog {
    /// The first alert to fire after `clock`: where replay's "next alert" goes.
    pub fn next_fired_after(&self, clock: i64) -> Option<Alert> {
        self.fired
            .iter()
            .filter(|a| a.fired_at > clock)
            .min_by_key(|a| (a.fired_at, a.at))
            .cloned()
    }
}

/// Alerts over consecutive one-minute points (oldest first).
pub fn evaluate(points: &[Point], rules: &AlertRules) -> Vec<Alert> {
    let mut log = AlertLog::new(*rules);
    for p in points {
        log.push(*p);
    }
    log.alerts()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::aggregate::bucket::Figures;

    fn minute(i: i64, online: i64, qoe: f64) -> Point {
        Point {
            at: i * 60_000,
            online,
            figures: Figures {
                qoe: Some(qoe),
                continuity: Some(0.995),
                ..Figures::default()
            },
        }
    }

    #[test]
    fn a_source_is_stale_past_its_limit_and_never_when_the_rule_is_off() {
        let rules = AlertRules::default();
        assert_eq!(stale_source(&rules, Some(60_000), 5), None);
        let a = stale_source(&rules, Some(61_000), 5).expect("stale");
        assert_eq!((a.kind, a.at, a.active), (AlertKind::StaleSource, 5, true));
        assert!((a.value - 61.0).abs() < 1e-9);
        assert_eq!(stale_source(&rules, None, 5), None);
        let off = AlertRules {
            source_stale_s: 0,
            ..rules
        };
        assert_eq!(stale_source(&off, Some(1 << 40), 5), None);
    }

    #[test]
    fn a_dip_fires_once_and_is_active_while_it_lasts() {
        let points = [
            minute(1, 100, 3.8),
            minute(2, 100, 3.2),
            minute(3, 100, 3.1),
            minute(4, 100, 3.9),
            minute(5, 100, 3.3),
        ];
        let rules = AlertRules {
            hold_minutes: 1,
            ..AlertRules::default()
        };
        let alerts = evaluate(&points, &rules);
        let qoe: Vec<(i64, bool)> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::LowQoe)
            .map(|a| (a.at / 60_000, a.active))
            .collect();
        assert_eq!(qoe, [(2, false), (5, true)]);
    }

    #[test]
    fn a_condition_must_hold_for_the_hold_time() {
        let points = [
            minute(1, 100, 3.2), // one bad minute alone: not news
            minute(2, 100, 3.9),
            minute(3, 100, 3.3),
            minute(4, 100, 3.1), // the second in a row: fires, dated from minute 3
            minute(5, 100, 3.0),
        ];
        let alerts = evaluate(&points, &AlertRules::default());
        let qoe: Vec<(i64, bool, f64)> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::LowQoe)
            .map(|a| (a.at / 60_000, a.active, a.value))
            .collect();
        assert_eq!(qoe, [(3, true, 3.3)]);
    }

    #[test]
    fn a_flash_crowd_is_a_rise_within_the_span_from_a_base() {
        let points = [
            minute(1, 10, 3.8),
            minute(2, 30, 3.8),  // +200 % but from 10 peers: noise
            minute(3, 200, 3.8), // +567 % from 30: still under the 50-peer base
            minute(4, 260, 3.8), // +30 % from 200
            minute(5, 290, 3.8), // +45 % from 200
            minute(6, 320, 3.8), // +60 % from 200 in 3 minutes: fires
            minute(7, 330, 3.8), // still +65 %
            minute(8, 330, 3.8),
            minute(9, 330, 3.8),
            minute(10, 330, 3.8),
            minute(11, 330, 3.8),
            minute(12, 330, 3.8),
            minute(13, 330, 3.8),
            minute(14, 330, 3.8), // 200 has left the 10-minute span: cleared
        ];
        let alerts = evaluate(&points, &AlertRules::default());
        let crowd: Vec<(i64, Option<i64>, u32, bool)> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::FlashCrowd)
            .map(|a| {
                (
                    a.at / 60_000,
                    a.until.map(|u| u / 60_000),
                    a.rise_min,
                    a.active,
                )
            })
            .collect();
        assert_eq!(crowd, [(6, Some(14), 3, false)]);
        assert!((alerts[0].value - 60.0).abs() < 1e-9);
        assert_eq!(alerts[0].describe(), "flash crowd: online +60 % in 3 min");
        // With a one-minute span (the old rule) the same climb never fires: no single
        // step reaches +50 %.
        let one_minute = AlertRules {
            flash_crowd_span_min: 1,
            ..AlertRules::default()
        };
        assert!(
            evaluate(&points[3..], &one_minute)
                .iter()
                .all(|a| a.kind != AlertKind::FlashCrowd)
        );
    }

    #[test]
    fn an_alert_that_clears_has_an_end() {
        let points = [
            minute(1, 100, 3.2),
            minute(2, 100, 3.1),
            minute(3, 100, 3.0),
            minute(4, 100, 3.9),
            minute(5, 100, 3.2),
            minute(6, 100, 3.2),
        ];
        let alerts = evaluate(&points, &AlertRules::default());
        let qoe: Vec<(i64, Option<i64>, bool)> = alerts
            .iter()
            .map(|a| (a.at / 60_000, a.until.map(|u| u / 60_000), a.active))
            .collect();
        assert_eq!(qoe, [(1, Some(4), false), (5, None, true)]);
    }

    #[test]
    fn the_log_shows_each_alert_as_it_stood_at_a_clock() {
        let mut log = AlertLog::new(AlertRules::default());
        for p in [
            minute(1, 100, 3.9),
            minute(2, 100, 3.2), // starts to hold
            minute(3, 100, 3.1), // held two minutes: fires, dated from minute 2
            minute(4, 100, 3.0),
            minute(5, 100, 3.9), // cleared
            minute(6, 100, 3.9),
        ] {
            log.push(p);
        }
        assert_eq!(log.last_minute(), Some(6 * 60_000));
        let at = |m: i64| -> Vec<(i64, i64, Option<i64>, bool)> {
            log.as_of(m * 60_000)
                .iter()
                .map(|a| {
                    (
                        a.at / 60_000,
                        a.fired_at / 60_000,
                        a.until.map(|u| u / 60_000),
                        a.active,
                    )
                })
                .collect()
        };
        assert_eq!(at(2), [], "not fired while the hold time runs");
        assert_eq!(at(3), [(2, 3, None, true)]);
        assert_eq!(at(4), [(2, 3, None, true)], "its end is not known yet");
        assert_eq!(at(5), [(2, 3, Some(5), false)]);
        assert_eq!(at(60), [(2, 3, Some(5), false)]);
        assert_eq!(log.as_of(60 * 60_000), log.alerts());
    }

    #[test]
    fn rules_that_are_off_never_fire() {
        let rules = AlertRules {
            qoe_below: 0.0,
            continuity_below: 0.0,
            startup_p90_above_ms: 0,
            flash_crowd_pct: 0.0,
            flash_crowd_span_min: 10,
            flash_crowd_min_peers: 1,
            source_stale_s: 0,
            hold_minutes: 1,
        };
        let points = [minute(1, 1, 1.0), minute(2, 1000, 1.0)];
        assert!(evaluate(&points, &rules).is_empty());
    }
}
