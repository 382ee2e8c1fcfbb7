//! `peerscope replay DIR`: the TUI over a recording, driven by a replay clock.
//!
//! The recording is indexed by minute at start; the engine is placed at the clock by
//! reading only the minutes the views need (see [`crate::source::replay`]). First
//! appearances (for exact "new peers") are indexed on a background thread; until that
//! is done the status bar says so and new peers count from the engine's own start.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};

use anyhow::Context;
use chrono_tz::Tz;

use crate::cli::UsageError;
use crate::config::Settings;
use crate::engine::alerts::{AlertRules, evaluate};
use crate::engine::calendar::Calendar;
use crate::engine::geography::Geography;
use crate::recording::scan::Recording;
use crate::source::probe_replay::ProbeReplay;
use crate::source::replay::{DamagedFiles, ReplayEngine, ReplayIndex, WholePass};

use super::app::{self, AppOptions, Clock, FrameSource};
use super::data::{FrameData, SourceHealth, SourceState, load_geography};
use super::request::{FrameRequest, frame_request};
use super::state::{Mode, UiState, View};

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Recording directory (as written by `serve` or `simulate --out`)
    pub dir: PathBuf,
    /// Start here (local time of the configured zone, e.g. "2012-08-07 09:00"); default:
    /// the recording's start
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Replay speed, × real time (1 … 3600; the nearest offered speed is used)
    #[arg(long, default_value_t = 60.0, value_name = "X")]
    pub speed: f64,
    #[command(flatten)]
    pub view: ViewArgs,
}

/// Flags shared by `replay` and `watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct ViewArgs {
    /// Render one frame of VIEW as plain text to stdout and exit (overview, timeline,
    /// histogram, district, map, probes)
    #[arg(long, value_name = "VIEW")]
    pub snapshot: Option<String>,
    /// Size of the --snapshot frame
    #[arg(long, default_value = "160x48", value_name = "WxH")]
    pub size: String,
    /// Clock of the --snapshot frame (replay; default: the end of the recording)
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Filter for the --snapshot frame or the start, e.g. isp=PCCW,channel=main
    #[arg(long, value_name = "TERMS")]
    pub filter: Option<String>,
    /// Redraws per second at most
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub fps: u32,
    /// Where `e` writes CSV exports
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub export_dir: PathBuf,
}

impl ViewArgs {
    /// The `--snapshot` view and size, checked.
    pub fn snapshot(&self) -> anyhow::Result<Option<(View, u16, u16)>> {
        let Some(name) = &self.snapshot else {
            return Ok(None);
        };
        let view = View::from_name(name).ok_or_else(|| {
            UsageError(format!(
                "unknown view {name:?} for --snapshot (overview, timeline, histogram, district, map, probes)"
            ))
        })?;
        let size = self
            .size
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.parse::<u16>().ok()?, h.parse::<u16>().ok()?)))
            .filter(|(w, h)| *w > 0 && *h > 0)
            .ok_or_else(|| {
                UsageError(format!("--size {:?}: expected WxH, e.g. 160x48", self.size))
            })?;
        Ok(Some((view, size.0, size.1)))
    }

    pub fn initial_filter(&self) -> anyhow::Result<crate::engine::filter::Filter> {
        match &self.filter {
            None => Ok(crate::engine::filter::Filter::default()),
            Some(t) => crate::engine::filter::Filter::parse(t)
                .map_err(|e| UsageError(format!("--filter: {e}")).into()),
        }
    }
}

/// The replay engine as the app loop's frame source.
struct ReplayFrames {
    engine: ReplayEngine,
    probes: ProbeReplay,
    index: Arc<ReplayIndex>,
    first_seen: Option<Receiver<WholePass>>,
    /// Files that could not be read whole, from the scan and the whole-recording pass.
    damaged: DamagedFiles,
    rules: AlertRules,
    tz: Tz,
    name: String,
    geography: Result<Arc<Geography>, String>,
}

impl FrameSource for ReplayFrames {
    fn frame(&mut self, request: &FrameRequest) -> FrameData {
        let mut loading = None;
        if let Some(rx) = &self.first_seen {
            match rx.try_recv() {
                Ok(pass) => {
                    self.engine.set_first_seen(Arc::new(pass.first_seen));
                    self.damaged.extend(pass.damaged);
                    self.first_seen = None;
                }
                Err(TryRecvError::Empty) => loading = Some("indexing first appearances…".into()),
                Err(TryRecvError::Disconnected) => self.first_seen = None,
            }
        }
        let clock = request.query.now;
        self.engine.seek(clock, request.lookback_ms);
        let snapshot = self.engine.monitor().snapshot(&request.query);
        let alerts = evaluate(&snapshot.minutes, &self.rules);
        self.probes.seek(clock);
        FrameData {
            snapshot,
            probes: self.probes.snapshot(&request.probes),
            alerts,
            sources: vec![SourceHealth {
                name: self.name.clone(),
                state: SourceState::Ok,
                lag_ms: None,
                last_error: None,
                bytes: 0,
            }],
            skipped: self.engine.skipped + self.probes.skipped(),
            damaged: damaged_list([&self.damaged, self.engine.damaged(), self.probes.damaged()]),
            start: self.index.start(),
            end: self.index.end(),
            loading,
            tz: self.tz,
            geography: self.geography.clone(),
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

pub fn run(args: &ReplayArgs, settings: &Settings) -> anyhow::Result<()> {
    if !args.dir.is_dir() {
        return Err(UsageError(format!("{} is not a directory", args.dir.display())).into());
    }
    let recording = Recording::scan(&args.dir)
        .with_context(|| format!("cannot read recording {}", args.dir.display()))?;
    let probes = ProbeReplay::new(recording.probes.clone(), settings.route_change);
    let index = Arc::new(ReplayIndex::new(recording));
    let scan_problems: DamagedFiles = index
        .problems()
        .iter()
        .map(|p| (p.path.clone(), p.message.clone()))
        .collect();
    let geography = load_geography(settings);
    let geo = crate::geodata::load_ip_geo(settings, geography.clone().ok())?;
    let calendar = Calendar::new(settings.timezone);
    let parse = |what: &str, text: &str| {
        calendar
            .parse_time(text)
            .ok_or_else(|| UsageError(format!("{what} {text:?}: expected YYYY-MM-DD HH:MM")))
    };
    let snapshot = args.view.snapshot()?;
    let mut ui = UiState::new(Mode::Replay, i64::from(settings.window_s) * 1000);
    ui.filter = args.view.initial_filter()?;
    ui.set_speed(args.speed);
    let mut engine = ReplayEngine::new(Arc::clone(&index), geo, settings.qoe);
    if let Ok(g) = &geography {
        engine.set_geography(Arc::clone(g));
    }
    let mut frames = ReplayFrames {
        engine,
        probes,
        geography,
        index: Arc::clone(&index),
        first_seen: None,
        damaged: scan_problems,
        rules: settings.alerts,
        tz: settings.timezone,
        name: format!("recording {}", args.dir.display()),
    };
    let start = index.start().unwrap_or(0);
    let end = index.end().unwrap_or(0);

    if let Some((view, width, height)) = snapshot {
        // A script wants exact figures: index first appearances before the frame.
        let pass = index.read_whole(2);
        frames.engine.set_first_seen(Arc::new(pass.first_seen));
        frames.damaged.extend(pass.damaged);
        let at = match &args.view.at {
            Some(t) => parse("--at", t)?,
            None => end,
        };
        ui.view = view;
        let request = frame_request(&ui, at, Some(start));
        let data = frames.frame(&request);
        print!("{}", app::render_text(Some(&data), &ui, at, width, height));
        return Ok(());
    }

    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let background = Arc::clone(&index);
    std::thread::Builder::new()
        .name("first-seen".into())
        .spawn(move || {
            let _ = tx.send(background.read_whole(1));
        })
        .context("cannot start the indexing thread")?;
    frames.first_seen = Some(rx);
    let from = match &args.from {
        Some(t) => parse("--from", t)?,
        None => start,
    };
    let options = AppOptions {
        fps: args.view.fps,
        export_dir: args.view.export_dir.clone(),
        parse_time: Box::new(move |t| calendar.parse_time(t)),
    };
    app::run(Box::new(frames), ui, Clock::Replay { at: from }, &options)
}
