//! Alert explanations for the frame sources: each alert line says where its change
//! is ("QoE 3.34 < 3.50 · 71 % HKBN × Sha Tin"). An explanation is worked out once per
//! alert and window end, and only for the newest alerts, which are the ones a screen
//! shows: an old one may need history the engine at hand no longer holds.

use rustc_hash::FxHashMap;

use crate::engine::alerts::{Alert, AlertKind};
use crate::engine::explain::{Cube, explain};
use crate::engine::monitor::ExplainQuery;

/// The newest alerts that get an explanation.
const EXPLAINED_ALERTS: usize = 8;

#[derive(Debug, Default)]
pub struct AlertCauses {
    /// One line per (kind, start, window end).
    known: FxHashMap<(AlertKind, i64, i64), String>,
}

impl AlertCauses {
    /// Fills in the `cause` of the newest of `alerts` (oldest first) as they stand at
    /// `clock`; `cube_for` gives the cube of a query, or `None` when it cannot.
    pub fn annotate(
        &mut self,
        alerts: &mut [Alert],
        clock: i64,
        mut cube_for: impl FnMut(&ExplainQuery) -> Option<Cube>,
    ) {
        let newest = alerts.len().saturating_sub(EXPLAINED_ALERTS);
        for alert in &mut alerts[newest..] {
            let Some(q) = ExplainQuery::for_alert(alert, clock) else {
                continue;
            };
            let key = (alert.kind, alert.at, q.moment);
            if let Some(line) = self.known.get(&key) {
                alert.cause = Some(line.clone());
                continue;
            }
            let Some(cube) = cube_for(&q) else { continue };
            let line = explain(&cube, q.target).summary();
            self.known.insert(key, line.clone());
            alert.cause = Some(line);
        }
    }
}
