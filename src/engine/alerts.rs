//! Alert rules over a series of one-minute points: low QoE, low continuity, slow
//! startup, a flash crowd (concurrency jumping by more than a share in a minute) and a
//! stale source.
//!
//! An alert fires on the minute a condition starts to hold and stays active while it
//! holds, so a long dip is one alert with a start, not one per minute. Rules that are
//! set to 0 are off.

use serde::{Deserialize, Serialize};

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
    /// Online peers up by more than this many percent within one minute…
    pub flash_crowd_pct: f64,
    /// …from at least this many peers (small counts jump by chance).
    pub flash_crowd_min_peers: i64,
    /// A source with nothing new for this many seconds (live only).
    pub source_stale_s: u64,
    /// QoE, continuity and startup conditions fire once they have held this many
    /// consecutive minutes (a flash crowd fires at once): one noisy minute is not news.
    pub hold_minutes: u32,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            qoe_below: 3.5,
            continuity_below: 0.98,
            startup_p90_above_ms: 5000,
            flash_crowd_pct: 50.0,
            flash_crowd_min_peers: 50,
            source_stale_s: 60,
            hold_minutes: 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    LowQoe,
    LowContinuity,
    SlowStartup,
    FlashCrowd,
    StaleSource,
}

impl AlertKind {
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
    /// The value that crossed the threshold, and the threshold.
    pub value: f64,
    pub threshold: f64,
    /// Still holding at the last point.
    pub active: bool,
}

impl Alert {
    /// A short line for a list: what crossed which threshold.
    pub fn describe(&self) -> String {
        let (v, t) = (self.value, self.threshold);
        match self.kind {
            AlertKind::LowQoe => format!("QoE {v:.2} < {t:.2}"),
            AlertKind::LowContinuity => format!("continuity {v:.3} < {t:.3}"),
            AlertKind::SlowStartup => {
                format!("startup p90 {:.1} s > {:.1} s", v / 1000.0, t / 1000.0)
            }
            AlertKind::FlashCrowd => format!("flash crowd: online +{v:.0} % in 1 min"),
            AlertKind::StaleSource => format!("source stale: {v:.0} s > {t:.0} s"),
        }
    }
}

/// A threshold, unless it is 0 (off).
fn on(threshold: f64) -> Option<f64> {
    (threshold > 0.0).then_some(threshold)
}

/// The value and threshold of `kind` at point `i` when the condition holds there.
fn breach(rules: &AlertRules, kind: AlertKind, points: &[Point], at: usize) -> Option<(f64, f64)> {
    let point = &points[at];
    let f = &point.figures;
    match kind {
        AlertKind::LowQoe => {
            let (v, t) = (f.qoe?, on(rules.qoe_below)?);
            (v < t).then_some((v, t))
        }
        AlertKind::LowContinuity => {
            let (v, t) = (f.continuity?, on(rules.continuity_below)?);
            (v < t).then_some((v, t))
        }
        AlertKind::SlowStartup => {
            let (v, t) = (
                f.startup_p90_ms?,
                Some(rules.startup_p90_above_ms).filter(|t| *t > 0)?,
            );
            (v > t).then_some((v as f64, t as f64))
        }
        AlertKind::FlashCrowd => {
            let t = on(rules.flash_crowd_pct)?;
            let before = points.get(at.checked_sub(1)?)?.online;
            if before < rules.flash_crowd_min_peers.max(1) {
                return None;
            }
            let pct = (point.online - before) as f64 * 100.0 / before as f64;
            (pct > t).then_some((pct, t))
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
        value: lag as f64 / 1000.0,
        threshold: rules.source_stale_s as f64,
        active: true,
    })
}

/// Alerts over consecutive one-minute points (oldest first).
pub fn evaluate(points: &[Point], rules: &AlertRules) -> Vec<Alert> {
    let kinds = [
        AlertKind::LowQoe,
        AlertKind::LowContinuity,
        AlertKind::SlowStartup,
        AlertKind::FlashCrowd,
    ];
    let mut fired = Vec::new();
    for kind in kinds {
        let hold = if kind == AlertKind::FlashCrowd {
            1
        } else {
            rules.hold_minutes.max(1) as usize
        };
        // The current run of minutes where the condition holds: (first index, its value).
        let mut run: Option<(usize, f64, f64)> = None;
        let mut holding = false;
        for i in 0..points.len() {
            if let Some((value, threshold)) = breach(rules, kind, points, i) {
                let (first, v, t) = *run.get_or_insert((i, value, threshold));
                if !holding && i + 1 - first >= hold {
                    holding = true;
                    fired.push(Alert {
                        kind,
                        at: points[first].at,
                        value: v,
                        threshold: t,
                        active: false,
                    });
                }
            } else {
                run = None;
                holding = false;
            }
        }
        if holding {
            if let Some(last) = fired.iter_mut().rev().find(|a| a.kind == kind) {
                last.active = true;
            }
        }
    }
    fired.sort_by(|a, b| a.at.cmp(&b.at).then(a.kind.cmp(&b.kind)));
    fired
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
    fn a_flash_crowd_needs_a_base_and_a_jump() {
        let points = [
            minute(1, 10, 3.8),
            minute(2, 30, 3.8),  // +200 % but from 10 peers: noise
            minute(3, 200, 3.8), // +567 % from 30: still under the 50-peer base
            minute(4, 320, 3.8), // +60 % from 200: fires
            minute(5, 400, 3.8), // +25 %
        ];
        let alerts = evaluate(&points, &AlertRules::default());
        let crowd: Vec<i64> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::FlashCrowd)
            .map(|a| a.at / 60_000)
            .collect();
        assert_eq!(crowd, [4]);
        assert!((alerts[0].value - 60.0).abs() < 1e-9);
    }

    #[test]
    fn rules_that_are_off_never_fire() {
        let rules = AlertRules {
            qoe_below: 0.0,
            continuity_below: 0.0,
            startup_p90_above_ms: 0,
            flash_crowd_pct: 0.0,
            flash_crowd_min_peers: 1,
            source_stale_s: 0,
            hold_minutes: 1,
        };
        let points = [minute(1, 1, 1.0), minute(2, 1000, 1.0)];
        assert!(evaluate(&points, &rules).is_empty());
    }
}
