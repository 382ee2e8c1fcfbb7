//! `peerscope replay DIR`: a recording in the TUI, driven by a replay clock, or one
//! frame of it as text (`--snapshot`).
//!
//! The recording is listed by minute at start; the engine is placed at the clock by
//! reading only the minutes the views need (see [`crate::source::replay`]). The
//! recording's index (first appearances for exact "new peers", the service's minutes
//! for alerts) is loaded from the user's cache, or built by reading the whole recording
//! once: before the frame for `--snapshot`, on a background thread for the TUI, whose
//! status bar says so until it is done (new peers count from the engine's own start
//! meanwhile).

use std::io::IsTerminal;
use std::path::PathBuf;

use super::view::ViewArgs;
use crate::cli::UsageError;
use crate::config::Settings;
use crate::engine::calendar::Calendar;
use crate::engine::query::filter::Filter;
use crate::recording::index::user_cache;
use crate::recording::input::Input;
use crate::source::cube::CubeFrames;
use crate::source::frames::FrameSource;
use crate::source::replay_frames::ReplayFrames;
use crate::ui::app::{self, AppOptions};
use crate::ui::clock::{Clock, ReplayClock};
use crate::ui::request::frame_request;
use crate::ui::state::{Mode, UiState};

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Recording directory (as written by `serve` or `simulate --out`), or CDN nodes'
    /// nginx access logs in the `peerscope_cdn` format (deploy/nginx-cdn.conf)
    #[arg(value_name = "DIR|ACCESS_LOG", required_unless_present = "cube", num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Replay the cubes `peerscope ship` keeps in ClickHouse instead of a recording:
    /// clickhouse://HOST:PORT/DATABASE (credentials: PEERSCOPE_CLICKHOUSE_USER,
    /// PEERSCOPE_CLICKHOUSE_PASSWORD)
    #[arg(long, value_name = "URI", conflicts_with = "input")]
    pub cube: Option<String>,
    /// Start here (local time of the configured zone, e.g. "2012-08-07 09:00"); default:
    /// the recording's start
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Stop the clock here (local time); default: the recording's end
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Replay speed, × real time (1 … 3600; the nearest offered speed is used)
    #[arg(long, default_value_t = 60.0, value_name = "X")]
    pub speed: f64,
    #[command(flatten)]
    pub view: ViewArgs,
}

pub fn run(args: &ReplayArgs, settings: &Settings) -> anyhow::Result<()> {
    if let Some(uri) = &args.cube {
        let frames = CubeFrames::connect(uri, settings, false)?;
        let (Some(start), Some(end)) = frames.span() else {
            return Err(UsageError(format!("{uri}: the cubes hold no records yet")).into());
        };
        return replay(frames, (start, end), args, settings);
    }
    let input = Input::open(&args.input, std::io::stderr().is_terminal())?;
    let dir = input.dir();
    let frames = ReplayFrames::open(dir, settings)?;
    let (Some(start), Some(end)) = frames.span() else {
        return Err(UsageError(input.no_viewers()).into());
    };
    replay(frames, (start, end), args, settings)
}

/// What a replay can be asked before its first frame, whatever it reads.
trait Replayed: FrameSource + 'static {
    fn check_filter(&self, filter: &Filter) -> Result<(), String>;
    /// Reads what exact figures need before a one-off frame.
    fn prepare_snapshot(&mut self) {}
    /// Starts what exact figures need while the TUI runs.
    fn prepare_tui(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

impl Replayed for ReplayFrames {
    fn check_filter(&self, filter: &Filter) -> Result<(), String> {
        ReplayFrames::check_filter(self, filter)
    }

    fn prepare_snapshot(&mut self) {
        let progress = std::io::stderr().is_terminal();
        self.read_index(user_cache(), progress).say();
    }

    fn prepare_tui(&mut self) -> anyhow::Result<()> {
        self.read_index_in_background(user_cache())
    }
}

impl Replayed for CubeFrames {
    fn check_filter(&self, filter: &Filter) -> Result<(), String> {
        CubeFrames::check_filter(self, filter)
    }
}

fn replay(
    mut frames: impl Replayed,
    (start, end): (i64, i64),
    args: &ReplayArgs,
    settings: &Settings,
) -> anyhow::Result<()> {
    let calendar = Calendar::new(settings.timezone);
    let parse = |what: &str, text: &str| {
        calendar
            .parse_time(text)
            .ok_or_else(|| UsageError(format!("{what} {text:?}: expected YYYY-MM-DD HH:MM")))
    };
    let end = match &args.to {
        Some(t) => {
            let to = parse("--to", t)?;
            if to <= start {
                return Err(UsageError(format!(
                    "--to {}: the recording starts at {}",
                    calendar.minute_label(to),
                    calendar.minute_label(start)
                ))
                .into());
            }
            to.min(end)
        }
        None => end,
    };
    let snapshot = args.view.snapshot()?;
    let mut ui = UiState::new(
        Mode::Replay,
        i64::from(settings.window_s) * 1000,
        settings.timezone,
    );
    ui.filter = args.view.initial_filter()?;
    args.view.apply_metric(&mut ui)?;
    // ISPs and districts now; channels once the recording or the sources are read.
    frames.check_filter(&ui.filter).map_err(UsageError)?;
    ui.set_speed(args.speed);

    if let Some((view, width, height)) = snapshot {
        let at = match &args.view.at {
            Some(t) => parse("--at", t)?,
            None => end,
        };
        if !(start..=end).contains(&at) {
            return Err(UsageError(format!(
                "--at {}: the recording runs from {} to {}",
                calendar.minute_label(at),
                calendar.minute_label(start),
                calendar.minute_label(end)
            ))
            .into());
        }
        // A script wants exact figures: the index before the frame (and after every
        // check that can refuse the command without it).
        frames.prepare_snapshot();
        frames.check_filter(&ui.filter).map_err(UsageError)?;
        ui.view = view;
        let request = frame_request(&ui, at, Some(start));
        let data = frames.frame(&request);
        print!("{}", app::render_text(Some(&data), &ui, at, width, height));
        return Ok(());
    }

    frames.prepare_tui()?;
    let from = match &args.from {
        Some(t) => parse("--from", t)?,
        None => start,
    };
    let options = AppOptions {
        fps: args.view.fps,
        export_dir: args.view.export_dir.clone(),
    };
    let clock = Clock::Replay(ReplayClock::new(from, Some(start), Some(end)));
    app::run(Box::new(frames), ui, clock, &options)
}
