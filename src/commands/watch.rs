//! `peerscope watch`: the TUI over live sources — feedback servers followed through
//! `/v1/tail` (or polled), local log directories — after backfilling the views' range,
//! or one frame of them as text (`--snapshot`).

use std::path::PathBuf;
use std::time::Duration;

use super::view::ViewArgs;
use crate::cli::UsageError;
use crate::config::Settings;
use crate::engine::calendar::Calendar;
use crate::source::cube::CubeFrames;
use crate::source::follow::Origin;
use crate::source::frames::FrameSource;
use crate::source::live_frames::LiveFrames;
use crate::ui::app::{self, AppOptions};
use crate::ui::clock::Clock;
use crate::ui::request::frame_request;
use crate::ui::state::{Mode, UiState};

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
    /// Draw from the cubes `peerscope ship` keeps in ClickHouse instead of following
    /// sources: clickhouse://HOST:PORT/DATABASE (credentials: PEERSCOPE_CLICKHOUSE_USER,
    /// PEERSCOPE_CLICKHOUSE_PASSWORD)
    #[arg(long, value_name = "URI", conflicts_with_all = ["servers", "dirs", "record", "backfill_min"])]
    pub cube: Option<String>,
    #[command(flatten)]
    pub view: ViewArgs,
}

pub fn run(args: &WatchArgs, settings: &Settings) -> anyhow::Result<()> {
    if let Some(uri) = &args.cube {
        return run_cube(uri, args, settings);
    }
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
    let snapshot = args.view.snapshot()?;
    let at = clock_at(args, settings)?;
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
    let mut frames = LiveFrames::connect(
        origins,
        settings,
        from,
        at.unwrap_or(now),
        args.record.clone(),
    )?;
    let mut ui = live_ui(args, settings)?;
    // ISPs and districts now; channels once the recording or the sources are read.
    frames.check_filter(&ui.filter).map_err(UsageError)?;

    if let Some((view, width, height)) = snapshot {
        frames.wait_for_backlog(Duration::from_secs(20));
        frames.hold_nothing_back();
        let clock = at.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        ui.view = view;
        let data = frames.frame(&frame_request(&ui, clock, Some(from)));
        frames.check_filter(&ui.filter).map_err(UsageError)?;
        print!(
            "{}",
            app::render_text(Some(&data), &ui, clock, width, height)
        );
        return Ok(());
    }
    run_tui(frames, ui, args)
}

/// `watch --cube`: the TUI over the cubes, the clock now.
fn run_cube(uri: &str, args: &WatchArgs, settings: &Settings) -> anyhow::Result<()> {
    let snapshot = args.view.snapshot()?;
    let at = clock_at(args, settings)?;
    let mut frames = CubeFrames::connect(uri, settings, true)?;
    let mut ui = live_ui(args, settings)?;
    frames.check_filter(&ui.filter).map_err(UsageError)?;
    let (start, _) = frames.span();
    if let Some((view, width, height)) = snapshot {
        let clock = at.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        ui.view = view;
        let data = frames.frame(&frame_request(&ui, clock, start));
        print!(
            "{}",
            app::render_text(Some(&data), &ui, clock, width, height)
        );
        return Ok(());
    }
    run_tui(frames, ui, args)
}

/// `--at`: the clock to start from (default: now).
fn clock_at(args: &WatchArgs, settings: &Settings) -> anyhow::Result<Option<i64>> {
    let Some(t) = &args.view.at else {
        return Ok(None);
    };
    let at = Calendar::new(settings.timezone)
        .parse_time(t)
        .ok_or_else(|| UsageError(format!("--at {t:?}: expected YYYY-MM-DD HH:MM")))?;
    Ok(Some(at))
}

/// The live views as the flags ask them.
fn live_ui(args: &WatchArgs, settings: &Settings) -> anyhow::Result<UiState> {
    let mut ui = UiState::new(
        Mode::Live,
        i64::from(settings.window_s) * 1000,
        settings.timezone,
    );
    ui.filter = args.view.initial_filter()?;
    args.view.apply_metric(&mut ui)?;
    Ok(ui)
}

fn run_tui(
    frames: impl FrameSource + 'static,
    ui: UiState,
    args: &WatchArgs,
) -> anyhow::Result<()> {
    let options = AppOptions {
        fps: args.view.fps,
        export_dir: args.view.export_dir.clone(),
    };
    app::run(Box::new(frames), ui, Clock::Live, &options)
}
