//! `watch` recomputes a frame only when there is something new to show (issue 18.8):
//! the same view a moment later, with nothing received, is no new frame; another
//! view, or the clock crossing one of the engine's finest buckets, is. And it explains
//! alerts as `replay` does.

use std::path::Path;
use std::time::Duration;

use peerscope::config::{Config, validate};
use peerscope::engine::calendar::Calendar;
use peerscope::source::follow::Origin;
use peerscope::source::frames::FrameSource;
use peerscope::source::live_frames::LiveFrames;
use peerscope::ui::request::frame_request;
use peerscope::ui::state::{Mode, UiState};

/// `watch` following the sample's two log trees from `start`, its clock at `t`.
fn follow_sample(start: i64, t: i64) -> LiveFrames {
    let sample = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recordings/olympics-2012-sample"
    ));
    let settings = validate(Config::default(), None).expect("settings");
    LiveFrames::connect(
        vec![
            Origin::Dir(sample.join("fs1")),
            Origin::Dir(sample.join("fs2")),
        ],
        &settings,
        start,
        t,
        None,
    )
    .expect("follow the sample's logs")
}

#[test]
fn an_idle_watch_makes_a_frame_only_when_something_changed() {
    let cal = Calendar::new(chrono_tz::Asia::Hong_Kong);
    let start = cal.parse_time("2012-08-07 08:00").expect("time");
    // Half an hour after the logs end, so nothing new can arrive; just past a bucket
    // boundary, so the next second is inside the same bucket.
    let t = cal.parse_time("2012-08-07 11:30").expect("time") + 1_000;
    let mut live = follow_sample(start, t);
    live.wait_for_backlog(Duration::from_secs(60));
    let mut ui = UiState::new(Mode::Live, 60_000, chrono_tz::Asia::Hong_Kong);
    let first = live
        .frame_if_changed(&frame_request(&ui, t, Some(start)))
        .expect("the first frame");
    assert!(first.snapshot.accepted > 0);
    // Nothing arrives: asked again, the same view is no new frame.
    let same = live.frame_if_changed(&frame_request(&ui, t, Some(start)));
    assert!(same.is_none(), "nothing new");
    // A second later the sources' lag (shown in whole seconds) moved: a new frame, with
    // the same figures, not recomputed.
    let lag_moved = live.frame_if_changed(&frame_request(&ui, t + 1_000, Some(start)));
    let moved = lag_moved.expect("a new lag is a new frame");
    assert_eq!(
        moved.snapshot, first.snapshot,
        "the same figures, not recomputed"
    );
    // Another view is a new frame at once.
    ui.range = 0;
    let other = live
        .frame_if_changed(&frame_request(&ui, t + 1_100, Some(start)))
        .expect("a new view");
    assert_ne!(
        other.snapshot.timeline_step_ms,
        first.snapshot.timeline_step_ms
    );
    // The clock crossing the next 10-s bucket recomputes the figures.
    let next = live
        .frame_if_changed(&frame_request(&ui, t + 9_500, Some(start)))
        .expect("a new bucket");
    assert_eq!(next.snapshot.at, t + 9_500);
}

/// Watermarks (issue 18.8b): with every source caught up, a moment is merged once all of
/// them have delivered past it, not two seconds later; a down source would hold nobody
/// back, a quiet one half a second. Over the sample's logs at 09:35, the records of the
/// last two seconds are on screen with watermarks and not with the whole hold-back.
#[test]
fn watermarks_merge_sooner_than_the_hold_back() {
    let cal = Calendar::new(chrono_tz::Asia::Hong_Kong);
    let start = cal.parse_time("2012-08-07 09:00").expect("time");
    let t = cal.parse_time("2012-08-07 09:35").expect("time");
    let ui = UiState::new(Mode::Live, 60_000, chrono_tz::Asia::Hong_Kong);
    let accepted = |watermarks: bool| {
        let mut live = follow_sample(start, t);
        if !watermarks {
            live.without_watermarks();
        }
        live.wait_for_backlog(Duration::from_secs(60));
        live.frame(&frame_request(&ui, t, Some(start)))
            .snapshot
            .accepted
    };
    let (sooner, held) = (accepted(true), accepted(false));
    // About 23 records a second at 09:35: the second and more between the hold-back
    // and the watermark is tens of records.
    assert!(sooner > held + 10, "{sooner} vs {held}");
}

/// `watch` explains alerts as `replay` does: following the sample's logs, the injected
/// fault's continuity alert says where it is, and view 7 names the same place.
#[test]
fn watch_explains_the_alert_and_view_7_agrees() {
    let cal = Calendar::new(chrono_tz::Asia::Hong_Kong);
    let start = cal.parse_time("2012-08-07 08:00").expect("time");
    let t = cal.parse_time("2012-08-07 09:12").expect("time");
    let mut live = follow_sample(start, t);
    live.wait_for_backlog(Duration::from_secs(60));
    let mut ui = UiState::new(Mode::Live, 60_000, chrono_tz::Asia::Hong_Kong);
    ui.view = peerscope::ui::state::View::Explain;
    ui.focus(peerscope::engine::query::metric::Metric::from_key("continuity").expect("continuity"));
    let data = live.frame(&frame_request(&ui, t, Some(start)));
    let alert = data
        .alerts
        .iter()
        .find(|a| a.kind == peerscope::engine::alerts::AlertKind::LowContinuity)
        .expect("the fault's continuity alert");
    let cause = alert.cause.as_deref().expect("explained");
    assert!(cause.ends_with("% PCCW × main"), "{cause}");
    let e = data.explanation.as_ref().expect("view 7's explanation");
    assert_eq!(e.contributors[0].name(), "PCCW × main");
}
