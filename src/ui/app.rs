//! The interactive loop shared by `replay` and `watch`.
//!
//! One bounded channel carries every event into the loop: keys and resizes from an
//! input thread, frames from the engine thread, SIGTERM/SIGHUP from a signal thread.
//! The engine thread computes frames on its own ("latest request wins"), so a slow
//! seek or a hung source never blocks the keys or the screen. The loop redraws only
//! when something changed, at most `fps` times a second, so it stays light over SSH.

use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{self, Event, KeyEventKind};

use super::clock::{Clock, Moved};
use super::frame;
use super::request::{FrameRequest, frame_request};
use super::state::UiState;
use super::theme::Theme;
use super::update::{Effect, on_key};
use crate::source::frames::{FrameData, FrameSource};

enum UiEvent {
    Input(Event),
    Frame(Box<FrameData>),
    Terminate,
}

/// The latest request for the engine thread; older ones are dropped unread.
#[derive(Default)]
struct Mailbox {
    slot: Mutex<Option<FrameRequest>>,
    ready: Condvar,
}

impl Mailbox {
    fn put(&self, r: FrameRequest) {
        if let Ok(mut s) = self.slot.lock() {
            *s = Some(r);
            self.ready.notify_one();
        }
    }

    fn take(&self) -> Option<FrameRequest> {
        let mut s = self.slot.lock().ok()?;
        loop {
            if let Some(r) = s.take() {
                return Some(r);
            }
            s = self.ready.wait(s).ok()?;
        }
    }
}

fn spawn_engine(mut source: Box<dyn FrameSource>, mailbox: Arc<Mailbox>, tx: SyncSender<UiEvent>) {
    std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            while let Some(request) = mailbox.take() {
                let Some(data) = source.frame_if_changed(&request) else {
                    continue;
                };
                if tx.send(UiEvent::Frame(Box::new(data))).is_err() {
                    return;
                }
            }
        })
        .ok();
}

fn spawn_input(tx: SyncSender<UiEvent>) {
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            while let Ok(ev) = event::read() {
                if tx.send(UiEvent::Input(ev)).is_err() {
                    return;
                }
            }
        })
        .ok();
}

/// SIGTERM and SIGHUP take the same exit as `q`: the terminal is restored.
fn spawn_signals(tx: SyncSender<UiEvent>) {
    use tokio::signal::unix::SignalKind;
    crate::signals::on_either(SignalKind::terminate(), SignalKind::hangup(), move || {
        let _ = tx.send(UiEvent::Terminate);
    });
}

/// Restores the terminal when dropped, on every way out (the panic hook is ratatui's).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// How the TUI runs: its redraw rate and where `e` writes.
pub struct AppOptions {
    pub fps: u32,
    pub export_dir: std::path::PathBuf,
}

/// Runs the TUI until `q`, Ctrl-C, SIGTERM or SIGHUP.
pub fn run(
    source: Box<dyn FrameSource>,
    mut ui: UiState,
    mut clock: Clock,
    options: &AppOptions,
) -> anyhow::Result<()> {
    let (start, _) = source.span();
    let (tx, rx) = sync_channel::<UiEvent>(256);
    let mailbox = Arc::new(Mailbox::default());
    spawn_engine(source, Arc::clone(&mailbox), tx.clone());
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let _guard = TerminalGuard;
    spawn_input(tx.clone());
    spawn_signals(tx);
    let theme = Theme::from_env();
    let interval = Duration::from_secs_f64(1.0 / f64::from(options.fps.clamp(1, 60)));
    let mut data: Option<Box<FrameData>> = None;
    let mut last_request: Option<FrameRequest> = None;
    let mut requested = Instant::now();
    let mut dirty = true;
    let mut last_tick = Instant::now();
    let mut last_draw: Option<Instant> = None;
    let mut shown_second = i64::MIN;
    loop {
        let timeout = interval.saturating_sub(last_tick.elapsed());
        let mut events = Vec::new();
        match rx.recv_timeout(timeout) {
            Ok(e) => events.push(e),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        events.extend(rx.try_iter());
        for e in events {
            match e {
                UiEvent::Terminate => ui.quit = true,
                UiEvent::Frame(f) => {
                    data = Some(f);
                    dirty = true;
                }
                UiEvent::Input(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                    let effect = on_key(&mut ui, k, data.as_deref(), clock.now());
                    apply(
                        effect,
                        &mut clock,
                        &mut ui,
                        data.as_deref(),
                        &options.export_dir,
                    );
                    dirty = true;
                }
                UiEvent::Input(Event::Resize(..)) => dirty = true,
                UiEvent::Input(_) => {}
            }
        }
        if ui.quit {
            break;
        }
        // As fast as possible: a step each time the frame for the clock is in.
        if let (Clock::Replay(c), None, false, Some(d)) =
            (&mut clock, ui.speed(), ui.paused, data.as_deref())
        {
            let moved = c.fastest(d.snapshot.at, requested.elapsed(), interval);
            dirty |= at_the_end(moved, &mut ui);
        }
        let elapsed = last_tick.elapsed();
        if elapsed >= interval {
            last_tick = Instant::now();
            if let (Clock::Replay(c), Some(speed), false) = (&mut clock, ui.speed(), ui.paused) {
                dirty |= at_the_end(c.run(elapsed, speed), &mut ui);
            }
            // The status bar's clock shows seconds: a new second is a redraw.
            if matches!(clock, Clock::Live) && clock.now() / 1000 != shown_second {
                shown_second = clock.now() / 1000;
                dirty = true;
            }
        }
        let request = frame_request(&ui, clock.now(), start);
        if last_request.as_ref() != Some(&request) {
            mailbox.put(request.clone());
            last_request = Some(request);
            requested = Instant::now();
        }
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= interval) {
            let now = clock.now();
            let mut drawn = ui.screen;
            terminal
                .draw(|f| {
                    let area = f.area();
                    drawn = (area.width, area.height);
                    frame::render(data.as_deref(), &ui, now, area, f.buffer_mut(), theme);
                })
                .context("cannot draw")?;
            ui.screen = drawn;
            last_draw = Some(Instant::now());
            dirty = false;
        }
    }
    Ok(())
}

/// Stops the replay at the recording's end and says so; whether anything changed.
fn at_the_end(moved: Moved, ui: &mut UiState) -> bool {
    if moved != Moved::Ended || ui.paused {
        return moved != Moved::No;
    }
    ui.paused = true;
    ui.message = Some("end of the recording: ← [ or g go back".into());
    true
}

fn apply(
    effect: Effect,
    clock: &mut Clock,
    ui: &mut UiState,
    data: Option<&FrameData>,
    export_dir: &std::path::Path,
) {
    match (effect, clock) {
        (Effect::Seek(delta), Clock::Replay(c)) => c.seek_by(delta),
        (Effect::SeekTo(t), Clock::Replay(c)) => c.seek_to(t),
        (Effect::Export, _) => {
            ui.message = Some(match data {
                Some(d) => match super::export::write(d, ui, export_dir) {
                    Ok(path) => super::export::message(&path, ui),
                    Err(e) => format!("{e:#}"),
                },
                None => "nothing to export yet".into(),
            });
        }
        _ => {}
    }
}

/// Renders one frame as text: `--snapshot`.
pub fn render_text(
    data: Option<&FrameData>,
    ui: &UiState,
    clock: i64,
    width: u16,
    height: u16,
) -> String {
    let area = ratatui::layout::Rect::new(0, 0, width, height);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    frame::render(
        data,
        ui,
        clock,
        area,
        &mut buf,
        Theme::color(super::theme::Palette::None),
    );
    frame::to_text(&buf)
}
