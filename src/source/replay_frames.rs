//! A recording as a [`FrameSource`]: the replay engine and probe replay placed at each
//! request's clock, the service's alerts as they stood then, and what the recording
//! holds that could not be read. `peerscope replay` opens one; so do the view snapshots' tests and
//! the TUI benchmark, so they draw exactly what the command draws.
//!
//! First appearances (for exact "new peers"), the list of damaged files and the
//! service's minutes that alerts are judged on come from a pass over the whole
//! recording: [`ReplayFrames::read_whole`] makes it before the next frame (a
//! `--snapshot`), [`ReplayFrames::read_whole_in_background`] on its own thread (the
//! TUI, which says "reading the whole recording…" until it is done, and meanwhile
//! judges alerts on the minutes the views hold).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};

use anyhow::Context;
use chrono_tz::Tz;

use super::causes::AlertCauses;
use super::frames::{FrameData, FrameRequest, FrameSource, SourceHealth, SourceState};
use super::probe_replay::ProbeReplay;
use super::replay::{DamagedFiles, ReplayEngine, ReplayIndex, WholePass};
use crate::config::Settings;
use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::alerts::{AlertLog, AlertRules, evaluate};
use crate::engine::explain::{Cube, explain};
use crate::engine::geography::Geography;
use crate::engine::geography::location::IpGeo;
use crate::engine::query::filter::Filter;
use crate::geodata::{load_geography, load_ip_geo};
use crate::recording::scan::Recording;

pub struct ReplayFrames {
    engine: ReplayEngine,
    /// Placed at an old alert whose history `engine` no longer holds, to explain it.
    explainer: ReplayEngine,
    causes: AlertCauses,
    probes: ProbeReplay,
    index: Arc<ReplayIndex>,
    whole_pass: Option<Receiver<WholePass>>,
    /// Files that could not be read whole, from the scan and the whole-recording pass.
    damaged: DamagedFiles,
    /// Channels the recording holds, once the whole-recording pass is done.
    channels: Vec<String>,
    rules: AlertRules,
    /// The service's alerts over the whole recording, once it has been read.
    alerts: Option<AlertLog>,
    /// The location table and QoE parameters the whole-recording pass counts with.
    service: (IpGeo, QoeParams),
    tz: Tz,
    name: String,
    geography: Result<Arc<Geography>, String>,
}

impl ReplayFrames {
    /// Opens the recording in `dir` with the settings' IP location, map, QoE, alert and
    /// route-change parameters. A directory holding no minute files opens too (its
    /// frames are empty); one that cannot be read is an error.
    pub fn open(dir: &Path, settings: &Settings) -> anyhow::Result<ReplayFrames> {
        let recording = Recording::scan(dir)
            .with_context(|| format!("cannot read recording {}", dir.display()))?;
        let probes = ProbeReplay::new(recording.probes.clone(), settings.route_change);
        let index = Arc::new(ReplayIndex::new(recording));
        let damaged: DamagedFiles = index
            .problems()
            .iter()
            .map(|p| (p.path.clone(), p.message.clone()))
            .collect();
        let geography = load_geography(settings);
        let geo = load_ip_geo(settings, geography.clone().ok())?;
        let service = (geo.clone(), settings.qoe);
        let mut engine = ReplayEngine::new(Arc::clone(&index), geo.clone(), settings.qoe);
        let mut explainer = ReplayEngine::new(Arc::clone(&index), geo, settings.qoe);
        if let Ok(g) = &geography {
            engine.set_geography(Arc::clone(g));
            explainer.set_geography(Arc::clone(g));
        }
        Ok(ReplayFrames {
            engine,
            explainer,
            causes: AlertCauses::default(),
            probes,
            index,
            whole_pass: None,
            damaged,
            channels: Vec::new(),
            rules: settings.alerts,
            alerts: None,
            service,
            tz: settings.timezone,
            // Its own name: the path it was given can be long, and the panel is narrow.
            name: format!(
                "recording {}",
                dir.file_name().map_or_else(
                    || dir.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            ),
            geography,
        })
    }

    /// Reads the whole recording now: every frame after this has exact "new peers" and
    /// every damaged file listed.
    pub fn read_whole(&mut self) {
        let pass = self
            .index
            .read_whole(2, self.service.0.clone(), self.service.1);
        self.take_whole_pass(pass);
    }

    /// Reads the whole recording on a thread of its own; frames use it once it is done.
    pub fn read_whole_in_background(&mut self) -> anyhow::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let index = Arc::clone(&self.index);
        let (geo, qoe) = self.service.clone();
        std::thread::Builder::new()
            .name("whole-recording".into())
            .spawn(move || {
                let _ = tx.send(index.read_whole(1, geo, qoe));
            })
            .context("cannot start the indexing thread")?;
        self.whole_pass = Some(rx);
        Ok(())
    }

    fn take_whole_pass(&mut self, pass: WholePass) {
        self.engine.set_first_seen(Arc::new(pass.first_seen));
        self.damaged.extend(pass.damaged);
        self.channels = pass.channels.into_iter().collect();
        let mut alerts = AlertLog::new(self.rules);
        for minute in pass.minutes {
            alerts.push(minute);
        }
        self.alerts = Some(alerts);
    }

    /// Checks that every value a filter names is one the recording holds (ISPs and
    /// districts of the location table, channels seen by [`Self::read_whole`]).
    pub fn check_filter(&self, filter: &Filter) -> Result<(), String> {
        let channels: Vec<&str> = self.channels.iter().map(String::as_str).collect();
        filter.check_names(&self.engine.monitor().catalog().geo, &channels)
    }
}

impl FrameSource for ReplayFrames {
    fn frame(&mut self, request: &FrameRequest) -> FrameData {
        let mut loading = None;
        if let Some(rx) = &self.whole_pass {
            match rx.try_recv() {
                Ok(pass) => {
                    self.take_whole_pass(pass);
                    self.whole_pass = None;
                }
                Err(TryRecvError::Empty) => loading = Some("reading the whole recording…".into()),
                Err(TryRecvError::Disconnected) => self.whole_pass = None,
            }
        }
        let clock = request.query.now;
        self.engine.seek(clock, request.lookback_ms);
        let snapshot = self.engine.monitor().snapshot(&request.query);
        // Until the whole recording is read, the alerts of the minutes the views hold.
        let mut alerts = match &self.alerts {
            Some(log) => log.as_of(clock),
            None => evaluate(&snapshot.minutes, &self.rules),
        };
        let slow = self.rules.startup_p90_above_ms;
        let (engine, explainer) = (&self.engine, &mut self.explainer);
        self.causes.annotate(&mut alerts, clock, |q| {
            if engine.holds_history_from(q.reads_from()) {
                return Some(engine.monitor().explain_cube(q, slow));
            }
            explainer.seek(q.moment, q.moment - q.reads_from());
            Some(explainer.monitor().explain_cube(q, slow))
        });
        let explanation = request.explain.as_ref().map(|q| {
            // The window is within what the views hold; a baseline a day back is read by
            // the second engine rather than making every seek read a day.
            let baseline = q.baseline.span(q.moment, q.window_ms);
            let actual = self
                .engine
                .monitor()
                .cell_sums(q, q.window(), slow, Some(q.moment));
            let expected = if self.engine.holds_history_from(baseline.0) {
                self.engine.monitor().cell_sums(q, baseline, slow, None)
            } else {
                self.explainer.seek(baseline.1, baseline.1 - baseline.0);
                self.explainer.monitor().cell_sums(q, baseline, slow, None)
            };
            explain(&Cube::pair(&actual, &expected), q.target)
        });
        self.probes.seek(clock);
        FrameData {
            snapshot,
            probes: self.probes.snapshot(&request.probes),
            alerts,
            next_alert: self
                .alerts
                .as_ref()
                .and_then(|log| log.next_fired_after(clock)),
            rules: self.rules,
            sources: vec![SourceHealth {
                name: self.name.clone(),
                state: SourceState::Ok,
                lag_ms: None,
                last_error: None,
                bytes: 0,
            }],
            skipped: self.engine.skipped().total() + self.probes.skipped(),
            damaged: damaged_list([&self.damaged, self.engine.damaged(), self.probes.damaged()]),
            start: self.index.start(),
            end: self.index.end(),
            loading,
            tz: self.tz,
            geography: self.geography.clone(),
            explanation,
        }
    }

    fn span(&self) -> (Option<i64>, Option<i64>) {
        (self.index.start(), self.index.end())
    }
}

/// The union of what several readers found damaged, by path.
fn damaged_list(parts: [&DamagedFiles; 3]) -> Vec<(PathBuf, String)> {
    let mut all = DamagedFiles::new();
    for part in parts {
        for (path, why) in part {
            all.entry(path.clone()).or_insert_with(|| why.clone());
        }
    }
    all.into_iter().collect()
}
