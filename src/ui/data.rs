//! One frame's worth of data: the engine's snapshot plus what the sources say about
//! themselves. Views draw this and nothing else.

use std::sync::Arc;

use chrono_tz::Tz;

use crate::engine::geography::Geography;

use crate::engine::alerts::Alert;
use crate::engine::probe_snapshot::ProbeSnapshot;
use crate::engine::snapshot::Snapshot;
pub use crate::source::health::{SourceHealth, SourceState};

#[derive(Debug, Clone)]
pub struct FrameData {
    pub snapshot: Snapshot,
    /// View 6: the probe matrix, the open destination's series, route changes.
    pub probes: ProbeSnapshot,
    /// Alerts fired over the timeline's range, oldest first.
    pub alerts: Vec<Alert>,
    pub sources: Vec<SourceHealth>,
    /// Lines skipped (unparsable, too long) in what was read.
    pub skipped: u64,
    /// Files that could not be read whole (damaged, unreadable, not regular files),
    /// with why, by path: counted apart from lines, as a lost minute is not a bad line.
    pub damaged: Vec<(std::path::PathBuf, String)>,
    /// The recording's span (replay), for the status bar and "whole recording".
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// Work still under way that affects the figures (e.g. indexing first appearances).
    pub loading: Option<String>,
    pub tz: Tz,
    /// The map for views 4 and 5, or why there is none.
    pub geography: Result<Arc<Geography>, String>,
}

impl FrameData {
    /// Nothing has been read at all.
    pub fn is_empty(&self) -> bool {
        self.snapshot.accepted == 0
    }
}

pub use crate::geodata::load_geography;
