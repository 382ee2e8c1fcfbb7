//! What a frame source delivers and is asked for: one [`FrameData`] per [`FrameRequest`].
//! `replay` and `watch` are two [`FrameSource`]s (the recording under a replay clock,
//! live servers and directories); the TUI and `--snapshot` draw whatever one delivers.
//! Views read only this.

use std::path::PathBuf;
use std::sync::Arc;

use chrono_tz::Tz;

use crate::engine::alerts::{Alert, AlertRules};
use crate::engine::explain::Explanation;
use crate::engine::geography::Geography;
use crate::engine::monitor::ExplainQuery;
use crate::engine::probes::snapshot::{ProbeQuery, ProbeSnapshot};
use crate::engine::query::snapshot::{Query, Snapshot};
pub use crate::source::health::{SourceHealth, SourceState};

/// One frame's worth of data: the engine's snapshot plus what the sources say about
/// themselves.
#[derive(Debug, Clone)]
pub struct FrameData {
    pub snapshot: Snapshot,
    /// View 6: the probe matrix, the open destination's series, route changes.
    pub probes: ProbeSnapshot,
    /// The service's alerts fired by the clock, oldest first.
    pub alerts: Vec<Alert>,
    /// Replay: the first alert to fire after the clock (the recording is known ahead).
    pub next_alert: Option<Alert>,
    /// The rules they follow: a tile past its rule's threshold says so.
    pub rules: AlertRules,
    pub sources: Vec<SourceHealth>,
    /// Lines skipped (unparsable, too long) in what was read.
    pub skipped: u64,
    /// Files that could not be read whole (damaged, unreadable, not regular files),
    /// with why, by path: counted apart from lines, as a lost minute is not a bad line.
    pub damaged: Vec<(PathBuf, String)>,
    /// The recording's span (replay), for the status bar and "whole recording".
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// Work still under way that affects the figures (e.g. the pass over the whole recording).
    pub loading: Option<String>,
    pub tz: Tz,
    /// The map for views 4 and 5, or why there is none.
    pub geography: Result<Arc<Geography>, String>,
    /// View 7: where the change of the metric in focus is, when asked.
    pub explanation: Option<Explanation>,
    /// What this source cannot answer: the views say so rather than draw it empty.
    pub unanswered: Unanswered,
}

/// What a source holds nothing of, with why, per view: the cubes hold sums per cell,
/// not each peer's reports, and no probe rounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unanswered {
    /// View 3: the distribution across peers.
    pub histogram: Option<&'static str>,
    /// View 6: probes by destination.
    pub probes: Option<&'static str>,
    /// Figures read coarser than the views ask (the status bar says how).
    pub coarse: Option<String>,
}

impl FrameRequest {
    /// The same request at another clock: what a view asks apart from the time.
    #[must_use]
    pub fn at(&self, now: i64) -> FrameRequest {
        let mut r = self.clone();
        r.query.now = now;
        r.probes.now = now;
        if let Some(e) = &mut r.explain {
            // A moment the cursor holds stays; "now" follows the clock.
            if e.moment == self.query.now {
                e.moment = now;
            }
        }
        r
    }
}

impl FrameData {
    /// Nothing has been read at all.
    pub fn is_empty(&self) -> bool {
        self.snapshot.accepted == 0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FrameRequest {
    pub query: Query,
    /// What view 6 shows: the metric, the open destination over the timeline's range.
    pub probes: ProbeQuery,
    /// View 7: the change to explain.
    pub explain: Option<ExplainQuery>,
    /// The whole service's history the engine must hold behind the clock.
    pub lookback_ms: i64,
    /// Every cell's history it must hold (at most `lookback_ms`): what filters, splits
    /// and view 7 read over the whole lookback, and the rest only over the window.
    pub cells_lookback_ms: i64,
}

/// Computes frames; runs on the engine thread.
pub trait FrameSource: Send {
    fn frame(&mut self, request: &FrameRequest) -> FrameData;
    /// The frame for `request`, or `None` when it would show nothing new since the
    /// last one this returned: the TUI's engine thread asks this at every tick.
    fn frame_if_changed(&mut self, request: &FrameRequest) -> Option<FrameData> {
        Some(self.frame(request))
    }
    /// Where "whole recording" starts and the clock's bounds (replay), if known.
    fn span(&self) -> (Option<i64>, Option<i64>);
}
