//! An alert's start and end are facts of the minutes, not of how the clock reached a
//! moment: a replay seeked straight to 11:00, one played through minute by minute and
//! a live engine following the same logs list the same alerts, whatever the view's
//! range or filter (issue 18.2).

use std::path::Path;
use std::time::Duration;

use peerscope::config::{Config, Settings, validate};
use peerscope::engine::alerts::{Alert, AlertKind};
use peerscope::engine::calendar::Calendar;
use peerscope::engine::query::filter::Filter;
use peerscope::source::follow::Origin;
use peerscope::source::frames::FrameSource;
use peerscope::source::live_frames::LiveFrames;
use peerscope::source::replay_frames::ReplayFrames;
use peerscope::ui::request::frame_request;
use peerscope::ui::state::{Mode, RANGES_MS, UiState};

const MINUTE: i64 = 60_000;

fn sample() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recordings/olympics-2012-sample"
    ))
}

fn settings() -> Settings {
    validate(Config::default(), None).expect("the built-in settings")
}

fn hkt(text: &str) -> i64 {
    Calendar::new(chrono_tz::Asia::Hong_Kong)
        .parse_time(text)
        .expect("time")
}

fn ui() -> UiState {
    UiState::new(Mode::Replay, MINUTE, chrono_tz::Asia::Hong_Kong)
}

fn replay() -> ReplayFrames {
    let mut frames = ReplayFrames::open(sample(), &settings()).expect("the sample");
    frames.read_index(None, false);
    frames
}

fn replay_alerts(frames: &mut ReplayFrames, ui: &UiState, at: i64) -> Vec<Alert> {
    let (start, _) = frames.span();
    frames.frame(&frame_request(ui, at, start)).alerts
}

/// (kind, start, end) in HH:MM, for readable failures.
fn spans(alerts: &[Alert]) -> Vec<(AlertKind, String, Option<String>)> {
    let cal = Calendar::new(chrono_tz::Asia::Hong_Kong);
    let hm = |t: i64| cal.minute_label(t)[11..16].to_owned();
    alerts
        .iter()
        .map(|a| (a.kind, hm(a.at), a.until.map(hm)))
        .collect()
}

fn qoe_span(alerts: &[Alert]) -> Option<(String, Option<String>)> {
    spans(alerts)
        .into_iter()
        .find(|(kind, _, _)| *kind == AlertKind::LowQoe)
        .map(|(_, from, until)| (from, until))
}

#[test]
fn a_seek_and_a_play_through_list_the_same_alerts() {
    let eleven = hkt("2012-08-07 11:00");
    let seeked = replay_alerts(&mut replay(), &ui(), eleven);
    assert_eq!(
        qoe_span(&seeked),
        Some(("09:29".to_owned(), Some("10:11".to_owned()))),
        "{:?}",
        spans(&seeked)
    );

    let mut played = replay();
    let mut t = hkt("2012-08-07 09:00");
    let mut during = None;
    while t < eleven {
        t += MINUTE;
        let alerts = replay_alerts(&mut played, &ui(), t);
        if t == hkt("2012-08-07 09:45") {
            during = Some(alerts);
        }
    }
    assert_eq!(
        spans(&replay_alerts(&mut played, &ui(), eleven)),
        spans(&seeked)
    );
    // In the middle of the incident it is active, with no end yet.
    let during = during.expect("09:45 was played");
    let qoe = during
        .iter()
        .find(|a| a.kind == AlertKind::LowQoe)
        .expect("QoE");
    assert!(qoe.active && qoe.until.is_none(), "{qoe:?}");
    assert!(
        during.iter().all(|a| a.fired_at <= hkt("2012-08-07 09:45")),
        "nothing from the future: {:?}",
        spans(&during)
    );
}

#[test]
fn the_view_range_and_filter_do_not_change_the_alerts() {
    let eleven = hkt("2012-08-07 11:00");
    let base = spans(&replay_alerts(&mut replay(), &ui(), eleven));
    let mut narrow = ui();
    narrow.range = 0;
    narrow.filter = Filter::parse("isp=HKBN").expect("filter");
    assert_eq!(spans(&replay_alerts(&mut replay(), &narrow, eleven)), base);
    let mut wide = ui();
    wide.range = RANGES_MS.len() - 1;
    assert_eq!(spans(&replay_alerts(&mut replay(), &wide, eleven)), base);
}

#[test]
fn a_live_engine_judges_the_minutes_it_received_like_the_replay() {
    let start = hkt("2012-08-07 08:00");
    let eleven = hkt("2012-08-07 11:00");
    let replayed = spans(&replay_alerts(&mut replay(), &ui(), eleven));
    let mut live = LiveFrames::connect(
        vec![
            Origin::Dir(sample().join("fs1")),
            Origin::Dir(sample().join("fs2")),
        ],
        &settings(),
        start,
        eleven,
        None,
    )
    .expect("follow the sample's logs");
    live.wait_for_backlog(Duration::from_secs(60));
    let mut short = ui();
    short.range = 0;
    let first = live
        .frame(&frame_request(&short, eleven, Some(start)))
        .alerts;
    // The backfill's first minutes only warm up (peers online before it are counted
    // as they report again): nothing is judged before 08:06; an alert already holding
    // then starts there. Every alert after that is the replay's.
    assert!(
        first.iter().all(|a| a.at >= hkt("2012-08-07 08:06")),
        "{:?}",
        spans(&first)
    );
    let after_warm_up = |s: Vec<(AlertKind, String, Option<String>)>| {
        s.into_iter()
            .filter(|s| s.1.as_str() >= "08:10")
            .collect::<Vec<_>>()
    };
    assert_eq!(after_warm_up(spans(&first)), after_warm_up(replayed));
    let mut long = ui();
    long.range = RANGES_MS.len() - 1;
    let second = live
        .frame(&frame_request(&long, eleven, Some(start)))
        .alerts;
    assert_eq!(spans(&second), spans(&first));
}
