//! From UI state and clock to what the engine is asked: the query, and how much history
//! the engine must hold to answer it.

use crate::engine::probes::snapshot::ProbeQuery;
use crate::engine::query::snapshot::{Query, SplitBy};
pub use crate::source::frames::FrameRequest;

use super::model;
use super::state::{Split, UiState, View};

/// Timeline steps, finest first; the first giving at most `MAX_POINTS` is used.
const STEPS_MS: [i64; 6] = [10_000, 60_000, 300_000, 900_000, 3_600_000, 86_400_000];
const MAX_POINTS: i64 = 180;
/// The trailing stretch of one-minute points a tile's value is compared with.
pub const BASELINE_MS: i64 = 3_600_000;
/// The Timeline draws its baseline (the usual value at each point) up to this step:
/// coarser points would need hours of one-minute history for little more to see.
pub const BASELINE_LINE_MAX_STEP_MS: i64 = 300_000;
/// Sparkline windows.
const RECENT_WINDOWS: usize = 30;

/// `start` is where "whole recording" begins (the recording's first minute, or the
/// first record received).
pub fn frame_request(ui: &UiState, clock: i64, start: Option<i64>) -> FrameRequest {
    let window = ui.window_ms();
    let range = ui
        .range_ms()
        .unwrap_or_else(|| start.map_or(3_600_000, |s| (clock - s).max(60_000)));
    let step = STEPS_MS
        .iter()
        .copied()
        .find(|s| range / s <= MAX_POINTS)
        .unwrap_or(STEPS_MS[STEPS_MS.len() - 1]);
    let recent = window * RECENT_WINDOWS as i64;
    // One-minute points for the baselines: the hour before the window (tiles) and,
    // for a fine enough timeline, the hour before each of its points.
    let baseline_span = if step <= BASELINE_LINE_MAX_STEP_MS {
        window.max(range + step)
    } else {
        window
    };
    let minutes_range = BASELINE_MS + baseline_span.max(60_000);
    let query = Query {
        now: clock,
        window_ms: window,
        filter: ui.filter.clone(),
        recent_windows: RECENT_WINDOWS,
        timeline_range_ms: range,
        timeline_step_ms: step,
        minutes_range_ms: minutes_range,
        split: match ui.split {
            Split::None => None,
            Split::Isp => Some(SplitBy::Isp),
            Split::Channel => Some(SplitBy::Channel),
        },
        histogram: Some(ui.histogram_metric()),
    };
    let probes = ProbeQuery {
        range_ms: range,
        dest: ui.probe_dest.clone(),
        ..ProbeQuery::new(clock, ui.probe_metric())
    };
    // View 7's window is within what the views hold (it ends at the cursor or the
    // clock); its baseline may be further back, which the frame source reads apart.
    let explain = (ui.view == View::Explain)
        .then(|| model::explain_query(ui, clock))
        .flatten();
    let lookback_ms = range.max(recent).max(minutes_range) + step;
    // Without a filter, a split or view 7, cells are read only over the window (the
    // breakdowns, the histogram): the older points are the whole service's.
    let whole_service = query.filter.is_empty() && query.split.is_none() && explain.is_none();
    FrameRequest {
        query,
        probes,
        explain,
        lookback_ms,
        cells_lookback_ms: if whole_service { window } else { lookback_ms },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::query::filter::Filter;
    use crate::ui::state::Mode;

    #[test]
    fn steps_keep_the_timeline_short_and_the_lookback_covers_it() {
        let mut ui = UiState::new(Mode::Replay, 60_000, chrono_tz::UTC);
        let r = frame_request(&ui, 10_000_000, None);
        assert_eq!(r.query.timeline_range_ms, 3_600_000);
        assert_eq!(r.query.timeline_step_ms, 60_000);
        assert!(r.lookback_ms >= 3_600_000);
        ui.range = 0;
        let r = frame_request(&ui, 10_000_000, None);
        assert_eq!(r.query.timeline_step_ms, 10_000);
        // Sparklines: 30 windows of 15 min need more than the 15-min range.
        ui.window = 3;
        let r = frame_request(&ui, 10_000_000, None);
        assert!(r.lookback_ms >= 30 * 900_000);
        ui.range = 4;
        let r = frame_request(&ui, 100 * 86_400_000, Some(0));
        assert!(r.query.timeline_range_ms / r.query.timeline_step_ms <= 180);
        // The tiles' baseline: the hour before the window, by the minute; the
        // whole recording's timeline (a point a day) draws none of its own.
        assert_eq!(r.query.minutes_range_ms, 3_600_000 + 900_000);
        assert!(r.lookback_ms >= r.query.minutes_range_ms);
        // An hour's timeline: the hour before each of its points too.
        ui.range = 1;
        let r = frame_request(&ui, 100 * 86_400_000, Some(0));
        assert_eq!(r.query.minutes_range_ms, 2 * 3_600_000 + 60_000);
        assert!(r.lookback_ms >= r.query.minutes_range_ms);
    }

    #[test]
    fn cells_are_read_over_the_whole_lookback_only_when_a_view_needs_them() {
        let mut ui = UiState::new(Mode::Replay, 60_000, chrono_tz::UTC);
        let r = frame_request(&ui, 10_000_000, None);
        assert_eq!(r.cells_lookback_ms, 60_000);
        ui.split = Split::Isp;
        let r = frame_request(&ui, 10_000_000, None);
        assert_eq!(r.cells_lookback_ms, r.lookback_ms);
        ui.split = Split::None;
        ui.filter.isps.insert("PCCW".into());
        let r = frame_request(&ui, 10_000_000, None);
        assert_eq!(r.cells_lookback_ms, r.lookback_ms);
        ui.filter = Filter::default();
        ui.view = View::Explain;
        let r = frame_request(&ui, 10_000_000, None);
        assert!(r.explain.is_some());
        assert_eq!(r.cells_lookback_ms, r.lookback_ms);
    }
}
