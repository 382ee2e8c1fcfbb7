//! Alert explanations for the frame sources: each alert line says where its change
//! is ("QoE 3.34 < 3.50 · 71 % HKBN × Sha Tin"). An explanation is worked out once per
//! alert and window end, and only for the newest alerts, which are the ones a screen
//! shows: an old one may need history the engine at hand no longer holds.
//!
//! A replay keeps what it worked out in a file beside the recording's index
//! ([`AlertCauses::keep_in`]): an old alert's explanation reads an hour and more of
//! records, seconds at full scale, and the next frame or run that shows it reads the
//! line instead. The file is named by everything an explanation depends on (the
//! recording's files, the QoE parameters, the alert rules, the maps), and carries a
//! checksum: one that does not match is set aside and its lines worked out again.

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::engine::alerts::{Alert, AlertKind};
use crate::engine::explain::{Cube, explain};
use crate::engine::monitor::ExplainQuery;
use crate::recording::digest::fnv1a;
use crate::recording::index::{remove_others_beside, write_whole};

/// The newest alerts that get an explanation.
const EXPLAINED_ALERTS: usize = 8;
/// Bumped whenever an explanation's line would come out differently.
const KEPT_VERSION: u32 = 1;

/// One line per (kind, start, window end).
type Key = (AlertKind, i64, i64);

#[derive(Debug, Default)]
pub struct AlertCauses {
    known: FxHashMap<Key, String>,
    /// The file the lines are kept in, if any.
    kept: Option<PathBuf>,
    /// Lines worked out since the file was last written.
    unsaved: bool,
}

/// The kept file: its lines, and a checksum of them.
#[derive(Serialize, Deserialize)]
struct Kept {
    version: u32,
    sum: u64,
    lines: Vec<(Key, String)>,
}

impl AlertCauses {
    /// Keeps the lines in the file at `path` from now on, taking those it holds; a
    /// file that cannot be read, of another version or whose checksum differs is
    /// not used (the next save replaces it), and other files of its kind beside the
    /// same index, which earlier files or parameters left, are removed.
    pub fn keep_in(&mut self, path: PathBuf) {
        if let Some(lines) = load(&path) {
            self.known.extend(lines);
        }
        remove_others_beside(&path);
        self.kept = Some(path);
    }

    /// Fills in the `cause` of the newest of `alerts` (oldest first) as they stand at
    /// `clock`; `cube_for` gives the cube of a query, or `None` when it cannot. Lines
    /// worked out here are written to the kept file, if any.
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
            self.unsaved = true;
            alert.cause = Some(line);
        }
        if self.unsaved {
            self.save();
        }
    }

    /// Writes every known line to the kept file. One that cannot be written is tried
    /// again after the next line worked out: it only saves work, so no one is told.
    fn save(&mut self) {
        let Some(path) = &self.kept else { return };
        let mut lines: Vec<(Key, String)> =
            self.known.iter().map(|(k, l)| (*k, l.clone())).collect();
        lines.sort_unstable();
        let kept = Kept {
            version: KEPT_VERSION,
            sum: checksum(&lines),
            lines,
        };
        let Ok(text) = serde_json::to_vec(&kept) else {
            return;
        };
        if write_whole(path, &text).is_ok() {
            self.unsaved = false;
        }
    }
}

fn checksum(lines: &[(Key, String)]) -> u64 {
    fnv1a(&serde_json::to_vec(lines).unwrap_or_default())
}

fn load(path: &Path) -> Option<Vec<(Key, String)>> {
    let kept: Kept = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (kept.version == KEPT_VERSION && kept.sum == checksum(&kept.lines)).then_some(kept.lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::explain::{CellSums, Sums};

    const MINUTE: i64 = 60_000;

    fn alerts() -> Vec<Alert> {
        [10, 50]
            .map(|m| Alert {
                kind: AlertKind::LowQoe,
                at: m * MINUTE,
                fired_at: (m + 2) * MINUTE,
                until: Some((m + 5) * MINUTE),
                value: 3.2,
                threshold: 3.5,
                rise_min: 0,
                active: false,
                cause: None,
            })
            .to_vec()
    }

    /// Two cells, one of which holds the whole drop.
    fn cube(_: &ExplainQuery) -> Cube {
        let cell = |isp: &str, now: f64| CellSums {
            names: [isp.into(), "main".into(), "Sha Tin".into(), String::new()],
            sums: Sums {
                num: now * 100.0,
                den: 100.0,
            },
            peers: 100,
        };
        let base = |isp: &str| CellSums {
            names: [isp.into(), "main".into(), "Sha Tin".into(), String::new()],
            sums: Sums {
                num: 380.0,
                den: 100.0,
            },
            peers: 0,
        };
        Cube::pair(
            &[cell("HKBN", 2.6), cell("PCCW", 3.8)],
            &[base("HKBN"), base("PCCW")],
        )
    }

    #[test]
    fn kept_lines_are_read_back_instead_of_worked_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index.1234.causes");
        let clock = 80 * MINUTE;
        let mut first = AlertCauses::default();
        first.keep_in(path.clone());
        let mut worked = alerts();
        first.annotate(&mut worked, clock, |q| Some(cube(q)));
        assert!(worked.iter().all(|a| a.cause.is_some()), "{worked:?}");

        // Another run: the lines come from the file, no cube is asked for.
        let mut second = AlertCauses::default();
        second.keep_in(path.clone());
        let mut read = alerts();
        second.annotate(&mut read, clock, |_| panic!("worked out again"));
        assert_eq!(read, worked);

        // A line changed behind the checksum's back: the file is set aside.
        let text = std::fs::read_to_string(&path).expect("kept");
        let cause = worked[0].cause.as_deref().expect("a cause");
        assert!(text.contains(cause), "{text}");
        std::fs::write(&path, text.replace(cause, "· 99 % nowhere")).expect("write");
        let mut third = AlertCauses::default();
        third.keep_in(path.clone());
        let mut again = alerts();
        third.annotate(&mut again, clock, |q| Some(cube(q)));
        assert_eq!(again, worked);
        let mut fourth = AlertCauses::default();
        fourth.keep_in(path);
        let mut reread = alerts();
        fourth.annotate(&mut reread, clock, |_| panic!("the rewritten file is used"));
        assert_eq!(reread, worked);
    }

    #[test]
    fn files_of_other_parameters_beside_the_index_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = dir.path().join("aaaa.index");
        let old = dir.path().join("aaaa.0001.causes");
        let other_recording = dir.path().join("bbbb.0001.causes");
        let probes = dir.path().join("aaaa.0001.probes");
        for f in [&index, &old, &other_recording, &probes] {
            std::fs::write(f, "{}").expect("write");
        }
        let mut causes = AlertCauses::default();
        causes.keep_in(dir.path().join("aaaa.0002.causes"));
        assert!(!old.exists());
        assert!(index.exists() && other_recording.exists() && probes.exists());
    }
}
