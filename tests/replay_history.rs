//! A replay engine given the whole service's history from the recording's index reads
//! only its window's records (and the warm-up) for a view without a filter, a split or
//! view 7, yet answers every such query exactly as an engine that read the whole
//! lookback: the same snapshot, float for float, and alerts, for every window and timeline range
//! the TUI offers, after a seek and after stepping forward from one. Under the sample
//! (three hours) and a two-day simulated recording, whose older hours the engine holds
//! by the minute, and for random streams whose records often fall on bucket bounds
//! (where the engine files an online change in the bucket before).

use std::path::Path;

use proptest::prelude::*;

use common::stream::{Rec, T0, write_recording};
use peerscope::config::{Config, validate};
use peerscope::source::frames::{FrameData, FrameSource};
use peerscope::source::replay_frames::ReplayFrames;
use peerscope::ui::request::frame_request;
use peerscope::ui::state::{Mode, RANGES_MS, UiState, WINDOWS_MS};

mod common;

const MINUTE_MS: i64 = 60_000;

/// A replay of `dir` with its index read (in memory).
fn replay(dir: &Path) -> ReplayFrames {
    let settings = validate(Config::default(), None).expect("the built-in settings");
    let mut frames = ReplayFrames::open(dir, &settings).expect("the recording");
    frames.read_index(None, false);
    frames
}

/// Every unfiltered frame the TUI asks for at `clock`, drawn by `reading`, asked for
/// every cell's history over the whole lookback (as before the service's history), and
/// by `seeded`, asked as the TUI asks.
fn check_at(reading: &mut ReplayFrames, seeded: &mut ReplayFrames, clock: i64) {
    let start = seeded.span().0;
    for window in WINDOWS_MS {
        for range in 0..RANGES_MS.len() {
            let mut ui = UiState::new(Mode::Replay, window, chrono_tz::Asia::Hong_Kong);
            ui.range = range;
            let request = frame_request(&ui, clock, start);
            assert!(request.cells_lookback_ms < request.lookback_ms);
            let mut whole = request.clone();
            whole.cells_lookback_ms = whole.lookback_ms;
            let a = reading.frame(&whole);
            let mut b = seeded.frame(&request);
            // What each engine took itself (no view shows it): fewer records for the
            // seeded one, the point of it.
            let (x, y) = (&a.snapshot, &mut b.snapshot);
            assert!(y.accepted <= x.accepted && y.duplicates <= x.duplicates);
            (y.accepted, y.duplicates) = (x.accepted, x.duplicates);
            assert!(
                a.snapshot == b.snapshot,
                "at {clock}, window {window} ms, range {range}: the seeded engine's \
                 snapshot differs\n{}",
                first_difference(&a, &b),
            );
            assert_eq!(a.alerts, b.alerts, "at {clock}");
            assert!(a.snapshot.current.online > 0 && a.snapshot.accepted > 0);
        }
    }
}

/// The first field where two frames' snapshots part, for the failure message.
fn first_difference(a: &FrameData, b: &FrameData) -> String {
    let (a, b) = (&a.snapshot, &b.snapshot);
    let pairs = [
        (
            "current",
            format!("{:?}", a.current),
            format!("{:?}", b.current),
        ),
        (
            "recent",
            format!("{:?}", a.recent),
            format!("{:?}", b.recent),
        ),
        (
            "timeline",
            format!("{:?}", a.timeline),
            format!("{:?}", b.timeline),
        ),
        (
            "minutes",
            format!("{:?}", a.minutes),
            format!("{:?}", b.minutes),
        ),
        (
            "histogram",
            format!("{:?}", a.histogram),
            format!("{:?}", b.histogram),
        ),
        (
            "by_isp",
            format!("{:?}", a.by_isp),
            format!("{:?}", b.by_isp),
        ),
        (
            "by_channel",
            format!("{:?}", a.by_channel),
            format!("{:?}", b.by_channel),
        ),
        (
            "by_district",
            format!("{:?}", a.by_district),
            format!("{:?}", b.by_district),
        ),
        (
            "by_area",
            format!("{:?}", a.by_area),
            format!("{:?}", b.by_area),
        ),
        (
            "isp_counts",
            format!("{:?}", a.isp_counts),
            format!("{:?}", b.isp_counts),
        ),
        (
            "channel_counts",
            format!("{:?}", a.channel_counts),
            format!("{:?}", b.channel_counts),
        ),
        (
            "district_counts",
            format!("{:?}", a.district_counts),
            format!("{:?}", b.district_counts),
        ),
    ];
    for (name, x, y) in pairs {
        if x != y {
            let at = x.bytes().zip(y.bytes()).take_while(|(p, q)| p == q).count();
            let from = at.saturating_sub(200);
            return format!(
                "{name}: …{} | …{}",
                &x[from..(at + 200).min(x.len())],
                &y[from..(at + 200).min(y.len())]
            );
        }
    }
    "elsewhere".into()
}

#[test]
fn the_service_history_stands_for_the_records_it_replaces_in_the_sample() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recordings/olympics-2012-sample"
    ));
    let (mut reading, mut seeded) = (replay(dir), replay(dir));
    let (Some(start), Some(end)) = seeded.span() else {
        panic!("the sample has minutes");
    };
    for clock in [
        start + 40 * MINUTE_MS + 7_000,
        end - 1,
        start + 95 * MINUTE_MS + 17_000,
        start + 150 * MINUTE_MS,
    ] {
        check_at(&mut reading, &mut seeded, clock);
    }
    // A first frame (a `--snapshot`) counts the lines skipped in the minutes it holds,
    // read or not.
    let ui = UiState::new(Mode::Replay, MINUTE_MS, chrono_tz::Asia::Hong_Kong);
    for clock in [end - 1, start + 95 * MINUTE_MS] {
        let request = frame_request(&ui, clock, Some(start));
        let mut whole = request.clone();
        whole.cells_lookback_ms = whole.lookback_ms;
        let a = replay(dir).frame(&whole);
        let b = replay(dir).frame(&request);
        assert_eq!(a.skipped, b.skipped, "lines skipped at {clock}");
        assert!(a.skipped > 0);
    }
    // Stepping forward from a seeded seek, as a playing TUI does.
    let from = start + 120 * MINUTE_MS;
    for k in 0..30 {
        let request = frame_request(&ui, from + k * 11_000, Some(start));
        let mut whole = request.clone();
        whole.cells_lookback_ms = whole.lookback_ms;
        let (a, b) = (reading.frame(&whole), seeded.frame(&request));
        assert_eq!(a.snapshot.timeline, b.snapshot.timeline, "step {k}");
        assert_eq!(a.snapshot.minutes, b.snapshot.minutes, "step {k}");
        assert_eq!(a.snapshot.by_district, b.snapshot.by_district, "step {k}");
        // The seeded engine took the window's records (and the warm-up) only.
        assert!(
            b.snapshot.accepted * 4 < a.snapshot.accepted,
            "{} records against {}",
            b.snapshot.accepted,
            a.snapshot.accepted
        );
    }
}

#[test]
fn the_service_history_stands_for_the_records_it_replaces_over_two_days() {
    let rec = common::simulate(11, "2012-08-06 00:00", "2012-08-08 00:00");
    let (mut reading, mut seeded) = (replay(rec.path()), replay(rec.path()));
    let (Some(start), Some(end)) = seeded.span() else {
        panic!("two days of minutes");
    };
    // Late on each day: the timeline's hours behind the clock held by the minute.
    for clock in [end - 1, start + 21 * 3_600_000 + 5_000, end - 3 * 3_600_000] {
        check_at(&mut reading, &mut seeded, clock);
    }
}

/// Peers reporting at random moments over sixteen minutes, a third of them on a 10-s
/// bucket bound, some retried on the other server 1.5 s later.
fn arb_stream() -> impl Strategy<Value = Vec<Rec>> {
    let at = prop_oneof![
        (0i64..96).prop_map(|k| k * 10_000),
        0i64..(16 * MINUTE_MS),
        0i64..(16 * MINUTE_MS),
    ];
    let one = (
        0u8..12,
        0u8..2,
        at,
        prop_oneof![Just("join"), Just("report"), Just("report"), Just("leave")],
        prop_oneof![Just(10.0), Just(30.0), Just(45.5)],
        0u8..2,
        0u8..6,
    );
    proptest::collection::vec(one, 20..200).prop_map(|raw| {
        let mut sorted = raw;
        sorted.sort_by_key(|r| r.2);
        let mut seqs = [0u64; 12];
        let mut recs = Vec::new();
        for (peer, session, at, event, period, srv, retry) in sorted {
            seqs[peer as usize] += 1;
            let r = Rec {
                peer,
                session: peer * 10 + session,
                seq: seqs[peer as usize],
                recv: T0 + at,
                event,
                period,
                up: 500.0 + f64::from(peer) * 37.5,
                down: 800.0 + at as f64 / 1e4,
                server: 100.0,
                bitrate: 700.0,
                play: period - 0.5,
                stall: 0.5,
                startup: (event == "join").then_some(900 + i64::from(peer)),
                server_index: srv,
            };
            if retry == 0 {
                let mut again = r.clone();
                again.server_index = 1 - srv;
                again.recv += 1_500;
                recs.push(again);
            }
            recs.push(r);
        }
        recs
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn seeded_frames_equal_read_ones_for_random_streams(
        recs in arb_stream(),
        clock in (9 * MINUTE_MS)..(16 * MINUTE_MS),
        window in prop_oneof![Just(10_000i64), Just(MINUTE_MS)],
        range in 0usize..2,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        write_recording(dir.path(), &recs, 3);
        let (mut reading, mut seeded) = (replay(dir.path()), replay(dir.path()));
        let clock = T0 + clock;
        let mut ui = UiState::new(Mode::Replay, window, chrono_tz::Asia::Hong_Kong);
        ui.range = range;
        let request = frame_request(&ui, clock, seeded.span().0);
        let mut whole = request.clone();
        whole.cells_lookback_ms = whole.lookback_ms;
        let a = reading.frame(&whole);
        let mut b = seeded.frame(&request);
        (b.snapshot.accepted, b.snapshot.duplicates) = (a.snapshot.accepted, a.snapshot.duplicates);
        prop_assert!(a.snapshot == b.snapshot, "{}", first_difference(&a, &b));
        prop_assert_eq!(a.alerts, b.alerts);
    }
}
