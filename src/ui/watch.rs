//! `peerscope watch`: the TUI over live sources — feedback servers followed through
//! `/v1/tail` (or polled), local log directories — after backfilling the views' range.
//!
//! Each source is its own thread reporting records and health into one bounded
//! channel; the engine thread drains it when it computes a frame. A dead server is a
//! state in the status bar and on the Overview, never a frozen screen.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::{Duration, Instant};

use chrono_tz::Tz;

use crate::cli::UsageError;
use crate::config::Settings;
use crate::engine::alerts::{Alert, AlertKind, AlertRules, evaluate};
use crate::engine::calendar::Calendar;
use crate::engine::geography::Geography;
use crate::engine::monitor::Monitor;
use crate::engine::probes::ProbeBook;
use crate::recording::layout::Stream;
use crate::source::follow::{self, Origin};
use crate::source::health::{SourceEvent, SourceHealth, SourceState};
use crate::source::live::{HOLD_BACK_MS, LiveFeed};

use super::app::{self, AppOptions, Clock, FrameSource};
use super::data::{FrameData, load_geography};
use super::replay::ViewArgs;
use super::request::{FrameRequest, frame_request};
use super::state::{Mode, UiState};

/// Probe history read at start: one route-change window of 10-minute rounds.
const PROBE_BACKFILL_MS: i64 = 24 * 3_600_000;

#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// Feedback server to follow (repeatable; default: `watch.servers` in the config)
    #[arg(long = "server", value_name = "URL")]
    pub servers: Vec<String>,
    /// Local log directory to follow, e.g. a feedback server's own (repeatable)
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Also write what is received as a recording here (one tree per source)
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// File holding the read token (owner-only permissions); or set `PEERSCOPE_TOKEN`
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Minutes of history to read at start (default: `watch.backfill_min`)
    #[arg(long, value_name = "MIN")]
    pub backfill_min: Option<u32>,
    #[command(flatten)]
    pub view: ViewArgs,
}

struct Tracked {
    health: SourceHealth,
    caught_up: bool,
    probes_caught_up: bool,
}

/// Live sources as the app loop's frame source.
struct LiveFrames {
    feed: LiveFeed,
    rx: Receiver<SourceEvent>,
    sources: Vec<Tracked>,
    rules: AlertRules,
    tz: Tz,
    from: i64,
    /// Hold lines back this long behind the clock (0 for a one-off snapshot).
    hold_back_ms: i64,
    geography: Result<Arc<Geography>, String>,
}

impl LiveFrames {
    fn drain(&mut self) {
        while let Ok(event) = self.rx.try_recv() {
            self.take(event);
        }
    }

    fn take(&mut self, event: SourceEvent) {
        match event {
            SourceEvent::Lines {
                source,
                stream,
                bytes,
            } => {
                if let Err(e) = self.feed.add(source, stream, &bytes) {
                    if let Some(s) = self.sources.get_mut(source) {
                        s.health.last_error = Some(format!("recording: {e}"));
                    }
                }
            }
            SourceEvent::ProbesCaughtUp { source } => {
                if let Some(s) = self.sources.get_mut(source) {
                    s.probes_caught_up = true;
                }
            }
            SourceEvent::State {
                source,
                state,
                error,
                caught_up,
            } => {
                if let Some(s) = self.sources.get_mut(source) {
                    s.health.state = state;
                    s.health.last_error = error;
                    s.caught_up = caught_up;
                }
            }
        }
    }

    /// Waits until every source has read its backlog or failed, at most `limit`.
    fn wait_for_backlog(&mut self, limit: Duration) {
        let until = Instant::now() + limit;
        while self
            .sources
            .iter()
            .any(|s| !(s.caught_up && s.probes_caught_up) && s.health.state != SourceState::Down)
        {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(event) => self.take(event),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        self.drain();
    }
}

impl FrameSource for LiveFrames {
    fn frame(&mut self, request: &FrameRequest) -> FrameData {
        self.drain();
        let now = request.query.now;
        self.feed.settle(now - self.hold_back_ms, now);
        let snapshot = self.feed.monitor().snapshot(&request.query);
        let mut alerts = evaluate(&snapshot.minutes, &self.rules);
        let stale_ms = i64::try_from(self.rules.source_stale_s)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        let mut health = Vec::with_capacity(self.sources.len());
        for (i, s) in self.sources.iter().enumerate() {
            let mut h = s.health.clone();
            h.lag_ms = self.feed.newest[i].map(|n| (now - n).max(0));
            h.bytes = self.feed.bytes[i];
            if h.state == SourceState::Ok && stale_ms > 0 && h.lag_ms.is_some_and(|l| l > stale_ms)
            {
                h.state = SourceState::Stale;
                alerts.push(Alert {
                    kind: AlertKind::StaleSource,
                    at: now,
                    value: h.lag_ms.unwrap_or(0) as f64 / 1000.0,
                    threshold: self.rules.source_stale_s as f64,
                    active: true,
                });
            }
            health.push(h);
        }
        FrameData {
            snapshot,
            probes: self.feed.probes().snapshot(&request.probes),
            alerts,
            sources: health,
            skipped: self.feed.skipped,
            damaged: Vec::new(),
            start: Some(self.from),
            end: None,
            loading: (self.feed.waiting() > 0
                && self.hold_back_ms > 0
                && self.sources.iter().any(|s| !s.caught_up))
            .then(|| "reading backlog…".to_owned()),
            tz: self.tz,
            geography: self.geography.clone(),
        }
    }

    fn span(&self) -> (Option<i64>, Option<i64>) {
        (Some(self.from), None)
    }
}

pub fn run(args: &WatchArgs, settings: &Settings) -> anyhow::Result<()> {
    let servers = if args.servers.is_empty() && args.dirs.is_empty() {
        settings.watch.servers.clone()
    } else {
        args.servers.clone()
    };
    if servers.is_empty() && args.dirs.is_empty() {
        return Err(UsageError(
            "nothing to watch: give --server URL or --dir DIR (or watch.servers in the config)"
                .into(),
        )
        .into());
    }
    for s in &servers {
        if !(s.starts_with("http://") || s.starts_with("https://")) {
            return Err(UsageError(format!("--server {s:?}: expected http://HOST:PORT")).into());
        }
    }
    for d in &args.dirs {
        if !d.is_dir() {
            return Err(UsageError(format!("--dir {}: not a directory", d.display())).into());
        }
    }
    let token = crate::server::read_token(args.token_file.as_deref())?
        .map(|t| String::from_utf8_lossy(&t).into_owned());
    let geography = load_geography(settings);
    let geo = crate::geodata::load_ip_geo(settings, geography.clone().ok())?;
    let calendar = Calendar::new(settings.timezone);
    let snapshot = args.view.snapshot()?;
    let at = match &args.view.at {
        Some(t) => Some(
            calendar
                .parse_time(t)
                .ok_or_else(|| UsageError(format!("--at {t:?}: expected YYYY-MM-DD HH:MM")))?,
        ),
        None => None,
    };
    let now = chrono::Utc::now().timestamp_millis();
    let backfill = i64::from(args.backfill_min.unwrap_or(settings.watch.backfill_min)) * 60_000;
    let from = at.unwrap_or(now) - backfill;

    let origins: Vec<Origin> = servers
        .iter()
        .map(|url| Origin::Server {
            url: url.clone(),
            token: token.clone(),
        })
        .chain(args.dirs.iter().map(|d| Origin::Dir(d.clone())))
        .collect();
    let names: Vec<String> = origins.iter().map(Origin::name).collect();
    let (tx, rx) = sync_channel(1024);
    // Route-change scores need the paths' recent past: a day of probe rounds.
    let probes_from = from.min(at.unwrap_or(now) - PROBE_BACKFILL_MS);
    for (i, origin) in origins.into_iter().enumerate() {
        follow::spawn(origin.clone(), Stream::Feedback, i, from, tx.clone());
        follow::spawn(origin, Stream::Probes, i, probes_from, tx.clone());
    }
    drop(tx);
    let record = args.record.clone().map(|root| (root, names.clone()));
    let mut monitor = Monitor::new(geo, settings.qoe);
    if let Ok(g) = &geography {
        monitor = monitor.with_geography(Arc::clone(g));
    }
    let mut frames = LiveFrames {
        geography,
        feed: LiveFeed::new(
            monitor,
            ProbeBook::new(settings.route_change),
            names.len(),
            record,
        ),
        rx,
        sources: names
            .into_iter()
            .map(|name| Tracked {
                health: SourceHealth {
                    name,
                    state: SourceState::Loading,
                    lag_ms: None,
                    last_error: None,
                    bytes: 0,
                },
                caught_up: false,
                probes_caught_up: false,
            })
            .collect(),
        rules: settings.alerts,
        tz: settings.timezone,
        from,
        hold_back_ms: HOLD_BACK_MS,
    };
    let mut ui = UiState::new(Mode::Live, i64::from(settings.window_s) * 1000);
    ui.filter = args.view.initial_filter()?;

    if let Some((view, width, height)) = snapshot {
        frames.wait_for_backlog(Duration::from_secs(20));
        frames.hold_back_ms = 0;
        let clock = at.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        ui.view = view;
        let data = frames.frame(&frame_request(&ui, clock, Some(from)));
        print!(
            "{}",
            app::render_text(Some(&data), &ui, clock, width, height)
        );
        return Ok(());
    }
    let options = AppOptions {
        fps: args.view.fps,
        export_dir: args.view.export_dir.clone(),
        parse_time: Box::new(move |t| calendar.parse_time(t)),
    };
    app::run(Box::new(frames), ui, Clock::Live, &options)
}
