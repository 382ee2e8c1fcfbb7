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
use crate::recording::index::user_cache;
use crate::recording::input::Input;
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
    #[arg(value_name = "DIR|ACCESS_LOG", required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
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

pub fn run(args: &ReplayArgs, settings: &Settings) -> anyhow::Result<()> {
    let input = Input::open(&args.input, std::io::stderr().is_terminal())?;
    let dir = input.dir();
    let mut frames = ReplayFrames::open(dir, settings)?;
    let (Some(start), Some(end)) = frames.span() else {
        return Err(UsageError(input.no_viewers()).into());
    };
    let calendar = Calendar::new(settings.timezone);
    let parse = |what: &str, text: &str| {
        calendar
            .parse_time(text)
            .ok_or_else(|| UsageError(format!("{what} {text:?}: expected YYYY-MM-DD HH:MM")))
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
        let progress = std::io::stderr().is_terminal();
        frames.read_index(user_cache(), progress).say();
        frames.check_filter(&ui.filter).map_err(UsageError)?;
        ui.view = view;
        let request = frame_request(&ui, at, Some(start));
        let data = frames.frame(&request);
        print!("{}", app::render_text(Some(&data), &ui, at, width, height));
        return Ok(());
    }

    frames.read_index_in_background(user_cache())?;
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
