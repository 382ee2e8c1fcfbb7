//! One frame's worth of data: the engine's snapshot plus what the sources say about
//! themselves. Views draw this and nothing else.

use chrono_tz::Tz;

use crate::engine::alerts::Alert;
use crate::engine::snapshot::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    /// Reading its backlog.
    Loading,
    Ok,
    /// Connected, but nothing new for longer than the alert threshold.
    Stale,
    /// Not reachable; retrying with back-off.
    Down,
}

impl SourceState {
    pub fn label(self) -> &'static str {
        match self {
            SourceState::Loading => "loading",
            SourceState::Ok => "ok",
            SourceState::Stale => "stale",
            SourceState::Down => "down",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceHealth {
    pub name: String,
    pub state: SourceState,
    /// How far the newest record is behind the clock.
    pub lag_ms: Option<i64>,
    pub last_error: Option<String>,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct FrameData {
    pub snapshot: Snapshot,
    /// Alerts fired over the timeline's range, oldest first.
    pub alerts: Vec<Alert>,
    pub sources: Vec<SourceHealth>,
    /// Lines skipped (unparsable, damaged files) in what was read.
    pub skipped: u64,
    /// The recording's span (replay), for the status bar and "whole recording".
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// Work still under way that affects the figures (e.g. indexing first appearances).
    pub loading: Option<String>,
    pub tz: Tz,
}

impl FrameData {
    /// Nothing has been read at all.
    pub fn is_empty(&self) -> bool {
        self.snapshot.accepted == 0
    }
}
