//! A recording as a [`FrameSource`]: the replay engine and probe replay placed at each
//! request's clock, the service's alerts as they stood then, and what the recording
//! holds that could not be read. `peerscope replay` opens one; so do the view snapshots' tests and
//! the TUI benchmark, so they draw exactly what the command draws.
//!
//! First appearances (for exact "new peers"), the channels, the list of damaged files
//! and the service's minutes that alerts are judged on come from the recording's index
//! ([`RecordingIndex`]), loaded from the cache or built by one pass over the whole
//! recording: [`ReplayFrames::read_index`] before the next frame (a `--snapshot`),
//! [`ReplayFrames::read_index_in_background`] on its own thread (the TUI, which says
//! "indexing the recording…" until it is done, and meanwhile judges alerts on the
//! minutes the views hold).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::thread::JoinHandle;

use anyhow::Context;
use chrono_tz::Tz;

use super::causes::AlertCauses;
use super::frames::{FrameData, FrameRequest, FrameSource, SourceHealth, SourceState, Unanswered};
use super::probe_replay::ProbeReplay;
use super::replay::{DamagedFiles, FeedbackMinutes, ReplayEngine, note_damage};
use crate::config::Settings;
use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::alerts::{AlertLog, AlertRules, evaluate};
use crate::engine::explain::{Cube, explain};
use crate::engine::geography::Geography;
use crate::engine::probes::route_change::RouteChangeParams;
use crate::engine::query::filter::Filter;
use crate::engine::query::snapshot::count_every;
use crate::geodata::{load_geography, load_ip_geo};
use crate::recording::index::{IndexOptions, Opened, RecordingIndex, size_and_modified};
use crate::recording::scan::Recording;

pub struct ReplayFrames {
    engine: ReplayEngine,
    /// Placed at an old alert whose history `engine` no longer holds, to explain it.
    explainer: ReplayEngine,
    causes: AlertCauses,
    probes: ProbeReplay,
    minutes: Arc<FeedbackMinutes>,
    /// The recording's directory, what its index is named by.
    root: PathBuf,
    indexing: Option<Receiver<RecordingIndex>>,
    /// Files that could not be read whole, from the scan and the index.
    damaged: DamagedFiles,
    /// Channels the recording holds, once the index is read.
    channels: Vec<String>,
    rules: AlertRules,
    /// The service's alerts over the whole recording, once the index is read.
    alerts: Option<AlertLog>,
    qoe: QoeParams,
    route_change: RouteChangeParams,
    tz: Tz,
    name: String,
    /// The map's build, until the first frame waits for it.
    map: Option<JoinHandle<Result<Arc<Geography>, String>>>,
    /// The map, or why there is none (once `map` is taken).
    geography: Result<Arc<Geography>, String>,
    /// Where the index is kept, if it is: alert explanations are kept beside it.
    cache: Option<PathBuf>,
    /// What an explanation depends on besides the recording and the QoE parameters.
    explained_with: Vec<u8>,
}

impl ReplayFrames {
    /// Opens the recording in `dir` with the settings' IP location, map, QoE, alert and
    /// route-change parameters. A directory holding no minute files opens too (its
    /// frames are empty); one that cannot be read is an error.
    pub fn open(dir: &Path, settings: &Settings) -> anyhow::Result<ReplayFrames> {
        // Building the map's polygons (about 0.05 s) takes as long as listing a few days
        // of minute files, stat-ing them and reading their index: the map is built on a
        // thread of its own until the first frame needs it.
        let map = {
            let settings = settings.clone();
            std::thread::Builder::new()
                .name("map".into())
                .spawn(move || load_geography(&settings))
                .context("cannot start the map's thread")?
        };
        let recording = Recording::scan(dir)
            .with_context(|| format!("cannot read recording {}", dir.display()))?;
        // City-database coordinates are placed on the map's districts: then it is
        // needed now (the table's own districts do not need it).
        let (map, ready) = if settings.city_db.is_some() {
            (None, Some(built(map)))
        } else {
            (Some(map), None)
        };
        let probes = ProbeReplay::new(recording.probes.clone(), settings.route_change);
        let minutes = Arc::new(FeedbackMinutes::new(recording));
        let damaged: DamagedFiles = minutes
            .problems()
            .iter()
            .map(|p| (p.path.clone(), p.message.clone()))
            .collect();
        let geo = load_ip_geo(settings, ready.clone().and_then(Result::ok))?;
        let engine = ReplayEngine::new(Arc::clone(&minutes), geo.clone(), settings.qoe);
        let explainer = ReplayEngine::new(Arc::clone(&minutes), geo, settings.qoe);
        let mut frames = ReplayFrames {
            engine,
            explainer,
            causes: AlertCauses::default(),
            probes,
            minutes,
            root: dir.to_owned(),
            indexing: None,
            damaged,
            channels: Vec::new(),
            rules: settings.alerts,
            alerts: None,
            qoe: settings.qoe,
            route_change: settings.route_change,
            tz: settings.timezone,
            // Its own name: the path it was given can be long, and the panel is narrow.
            name: format!(
                "recording {}",
                dir.file_name().map_or_else(
                    || dir.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            ),
            map,
            geography: Err("the map is being built".into()),
            cache: None,
            explained_with: explained_with(settings),
        };
        if let Some(geography) = ready {
            frames.take_map(geography);
        }
        Ok(frames)
    }

    /// The map, once built: given to the engines, then to every frame.
    fn take_map(&mut self, geography: Result<Arc<Geography>, String>) {
        if let Ok(g) = &geography {
            self.engine.set_geography(Arc::clone(g));
            self.explainer.set_geography(Arc::clone(g));
        }
        self.geography = geography;
    }

    /// Opens the recording's index now, from `cache` (see [`IndexOptions`]) or by reading
    /// the whole recording: every frame after this has exact "new peers" and every
    /// damaged file listed.
    pub fn read_index(&mut self, cache: Option<PathBuf>, progress: bool) -> Opened {
        self.cache.clone_from(&cache);
        let options = self.index_options(cache, 2, progress);
        let probes = self.probes.minutes();
        let (index, opened) =
            RecordingIndex::open(&self.root, self.minutes.groups(), &probes, &options);
        self.take_index(index);
        opened
    }

    /// Opens the index on a thread of its own; frames use it once it is there. (The
    /// TUI owns the terminal: whether the index was kept is not said.)
    pub fn read_index_in_background(&mut self, cache: Option<PathBuf>) -> anyhow::Result<()> {
        self.cache.clone_from(&cache);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let minutes = Arc::clone(&self.minutes);
        let probes = self.probes.minutes();
        let root = self.root.clone();
        let options = self.index_options(cache, 1, false);
        std::thread::Builder::new()
            .name("index".into())
            .spawn(move || {
                let index = RecordingIndex::open(&root, minutes.groups(), &probes, &options);
                let _ = tx.send(index.0);
            })
            .context("cannot start the indexing thread")?;
        self.indexing = Some(rx);
        Ok(())
    }

    fn index_options(
        &self,
        cache: Option<PathBuf>,
        threads: usize,
        progress: bool,
    ) -> IndexOptions {
        IndexOptions {
            cache,
            qoe: self.qoe,
            route_change: self.route_change,
            threads,
            progress,
        }
    }

    fn take_index(&mut self, mut index: RecordingIndex) {
        self.engine.set_first_seen(Arc::new(index.first_seen()));
        self.engine
            .set_service_history(Arc::new(index.take_service_history()));
        note_damage(&mut self.damaged, index.skipped());
        if let Some(books) = index.take_probe_books() {
            note_damage(&mut self.damaged, books.skipped());
            self.probes.use_stored(Arc::new(books));
        }
        self.channels = index.channels().map(str::to_owned).collect();
        let mut alerts = AlertLog::new(self.rules);
        for minute in index.minutes() {
            alerts.push(*minute);
        }
        self.alerts = Some(alerts);
        if let Some(cache) = &self.cache {
            self.causes
                .keep_in(index.kept_beside(cache, &self.explained_with, "causes"));
        }
    }

    /// Checks that every value a filter names is one the recording holds (ISPs and
    /// districts of the location table, channels of the index).
    pub fn check_filter(&self, filter: &Filter) -> Result<(), String> {
        let channels: Vec<&str> = self.channels.iter().map(String::as_str).collect();
        filter.check_names(&self.engine.monitor().catalog().geo, &channels)
    }
}

impl FrameSource for ReplayFrames {
    fn frame(&mut self, request: &FrameRequest) -> FrameData {
        if let Some(map) = self.map.take() {
            self.take_map(built(map));
        }
        let mut loading = None;
        if let Some(rx) = &self.indexing {
            match rx.try_recv() {
                Ok(index) => {
                    self.take_index(index);
                    self.indexing = None;
                }
                Err(TryRecvError::Empty) => loading = Some("indexing the recording…".into()),
                Err(TryRecvError::Disconnected) => self.indexing = None,
            }
        }
        let clock = request.query.now;
        self.engine
            .seek(clock, request.lookback_ms, request.cells_lookback_ms);
        let mut snapshot = self.engine.monitor().snapshot(&request.query);
        // The filter panel offers every value the recording may hold, not only those of
        // the cells the engine read (as the cubes do): the same list whatever it read.
        let geo = &self.engine.monitor().catalog().geo;
        count_every(&mut snapshot.isp_counts, geo.isps());
        count_every(&mut snapshot.district_counts, geo.districts());
        count_every(
            &mut snapshot.channel_counts,
            self.channels.iter().map(String::as_str),
        );
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
            let lookback = q.moment - q.reads_from();
            explainer.seek(q.moment, lookback, lookback);
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
                let lookback = baseline.1 - baseline.0;
                self.explainer.seek(baseline.1, lookback, lookback);
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
            skipped: self.engine.skipped_lines() + self.probes.skipped(),
            damaged: damaged_list([&self.damaged, self.engine.damaged(), self.probes.damaged()]),
            start: self.minutes.start(),
            end: self.minutes.end(),
            loading,
            tz: self.tz,
            geography: self.geography.clone(),
            explanation,
            unanswered: Unanswered::default(),
        }
    }

    fn span(&self) -> (Option<i64>, Option<i64>) {
        (self.minutes.start(), self.minutes.end())
    }
}

/// What a map's build gave (its panic, if it panicked, goes on here).
fn built(map: JoinHandle<Result<Arc<Geography>, String>>) -> Result<Arc<Geography>, String> {
    map.join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The alert rules, ISP names and map files (by path, size and modification time):
/// which alerts there are, the slow-startup threshold, and which cell a peer is in.
fn explained_with(settings: &Settings) -> Vec<u8> {
    let maps: Vec<(PathBuf, u64, u128)> = [
        Some(&settings.ip_geo),
        Some(&settings.districts),
        Some(&settings.outline),
        settings.city_db.as_ref(),
        settings.asn_db.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|path| {
        let (len, modified) = size_and_modified(path);
        (
            path.canonicalize().unwrap_or_else(|_| path.clone()),
            len,
            modified,
        )
    })
    .collect();
    serde_json::to_vec(&(settings.alerts, &settings.isp_names, maps)).unwrap_or_default()
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
