//! The TUI over the cubes (`replay --cube`, `watch --cube`): the frames the logs give
//! wherever the cubes hold the figures, said so on screen where they do not, and a
//! ClickHouse that goes away is a source state with the last frame kept, never a wrong
//! or frozen screen. Each test starts its own clickhouse-server on free loopback ports.

use std::collections::BTreeMap;
use std::path::Path;

mod common;
use common::clickhouse::ClickHouse;
use common::peerscope;
use common::tmux::Tmux;
use peerscope::config::{Config, Settings, validate};
use peerscope::engine::alerts::AlertKind;
use peerscope::engine::calendar::Calendar;
use peerscope::engine::cube::startup_bin_width;
use peerscope::engine::query::filter::Filter;
use peerscope::engine::query::snapshot::{Breakdown, Point, Snapshot};
use peerscope::source::cube::CubeFrames;
use peerscope::source::frames::{FrameData, FrameSource};
use peerscope::source::health::SourceState;
use peerscope::source::replay_frames::ReplayFrames;
use peerscope::ui::request::frame_request;
use peerscope::ui::state::{Mode, Split, UiState};

const SAMPLE: &str = "recordings/olympics-2012-sample";

fn settings() -> Settings {
    validate(Config::default(), None).expect("the built-in settings")
}

fn time(text: &str) -> i64 {
    Calendar::new(settings().timezone)
        .parse_time(text)
        .expect("a time")
}

/// A server holding the sample recording's cubes (exact distinct counts) in `sample`.
fn shipped(tmp: &Path) -> ClickHouse {
    let ch = ClickHouse::start(&tmp.join("ch"), None);
    let url = ch.url();
    let out = peerscope(&[
        "ship",
        "--clickhouse",
        &url,
        "--database",
        "sample",
        "--init",
        "--distinct",
        "exact",
        "--dir",
        SAMPLE,
        "--once",
    ]);
    assert!(out.status.success(), "ship: {out:?}");
    ch
}

/// How far the cubes may differ from the logs in one comparison.
#[derive(Clone, Copy)]
struct Bounds {
    /// Online peers may be fewer by this share (plus one peer): a peer that moved to
    /// another cell within its expiry counts in its newest cell only (README, "The TUI
    /// over the cubes").
    online_share: f64,
}

const EXACT: Bounds = Bounds { online_share: 0.0 };
const MOVED: Bounds = Bounds { online_share: 0.03 };

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
        (a, b) => a == b,
    }
}

fn online_agree(logs: i64, cube: i64, bounds: Bounds) -> bool {
    #[allow(clippy::cast_precision_loss)]
    let slack =
        (logs as f64 * bounds.online_share).ceil() as i64 + i64::from(bounds.online_share > 0.0);
    cube <= logs && logs - cube <= slack
}

fn startup_agrees(logs: Option<i64>, cube: Option<i64>) -> bool {
    match (logs, cube) {
        // The cube's percentile is the lower end of the bin holding the rank.
        (Some(l), Some(c)) => c <= l && l - c < startup_bin_width(c),
        (l, c) => l == c,
    }
}

fn point_agrees(logs: &Point, cube: &Point, bounds: Bounds, what: &str) {
    let (l, c) = (&logs.figures, &cube.figures);
    let same = logs.at == cube.at
        && online_agree(logs.online, cube.online, bounds)
        && l.records == c.records
        && l.new_peers == c.new_peers
        && close(l.up_kbps, c.up_kbps)
        && close(l.down_kbps, c.down_kbps)
        && close(l.contribution, c.contribution)
        && close(l.p2p_share, c.p2p_share)
        && close(l.continuity, c.continuity)
        && close(l.qoe, c.qoe)
        && startup_agrees(l.startup_p50_ms, c.startup_p50_ms)
        && startup_agrees(l.startup_p90_ms, c.startup_p90_ms)
        && startup_agrees(l.startup_p99_ms, c.startup_p99_ms);
    assert!(same, "{what}:\n logs {logs:?}\n cube {cube:?}");
}

fn points_agree(logs: &[Point], cube: &[Point], bounds: Bounds, what: &str) {
    assert_eq!(logs.len(), cube.len(), "{what}: points");
    for (i, (l, c)) in logs.iter().zip(cube).enumerate() {
        point_agrees(l, c, bounds, &format!("{what} #{i}"));
    }
}

fn rows_agree(logs: &[Breakdown], cube: &[Breakdown], bounds: Bounds, what: &str) {
    let by_name = |rows: &[Breakdown]| -> BTreeMap<String, Point> {
        rows.iter().map(|r| (r.name.clone(), r.point)).collect()
    };
    let (l, c) = (by_name(logs), by_name(cube));
    assert_eq!(
        l.keys().collect::<Vec<_>>(),
        c.keys().collect::<Vec<_>>(),
        "{what}: names"
    );
    for (name, p) in &l {
        point_agrees(p, &c[name], bounds, &format!("{what} {name}"));
    }
}

fn counts_agree(logs: &[(String, i64)], cube: &[(String, i64)], bounds: Bounds, what: &str) {
    // The engine lists the names its history holds, the cubes every name they hold:
    // a name missing from one side has no one online there.
    let l: BTreeMap<_, _> = logs.iter().cloned().collect();
    let c: BTreeMap<_, _> = cube.iter().cloned().collect();
    for name in l.keys().chain(c.keys()) {
        let n = l.get(name).copied().unwrap_or(0);
        let m = c.get(name).copied().unwrap_or(0);
        assert!(
            online_agree(n, m, bounds),
            "{what} {name}: logs {n}, cube {m}"
        );
    }
}

fn snapshots_agree(logs: &Snapshot, cube: &Snapshot, bounds: Bounds, split: Bounds, what: &str) {
    point_agrees(
        &logs.current,
        &cube.current,
        bounds,
        &format!("{what} current"),
    );
    points_agree(
        &logs.recent,
        &cube.recent,
        bounds,
        &format!("{what} recent"),
    );
    points_agree(
        &logs.timeline,
        &cube.timeline,
        bounds,
        &format!("{what} timeline"),
    );
    points_agree(
        &logs.minutes,
        &cube.minutes,
        bounds,
        &format!("{what} minutes"),
    );
    assert_eq!(logs.split.len(), cube.split.len(), "{what}: split");
    for ((ln, lp), (cn, cp)) in logs.split.iter().zip(&cube.split) {
        assert_eq!(ln, cn, "{what}: split order");
        points_agree(lp, cp, split, &format!("{what} split {ln}"));
    }
    // ISP, district and area are a peer's address: peers do not move between them.
    rows_agree(
        &logs.by_isp,
        &cube.by_isp,
        bounds,
        &format!("{what} by ISP"),
    );
    rows_agree(
        &logs.by_district,
        &cube.by_district,
        bounds,
        &format!("{what} by district"),
    );
    rows_agree(
        &logs.by_area,
        &cube.by_area,
        bounds,
        &format!("{what} by area"),
    );
    rows_agree(
        &logs.by_channel,
        &cube.by_channel,
        MOVED,
        &format!("{what} by channel"),
    );
    counts_agree(
        &logs.isp_counts,
        &cube.isp_counts,
        EXACT,
        &format!("{what} ISP counts"),
    );
    counts_agree(
        &logs.district_counts,
        &cube.district_counts,
        EXACT,
        &format!("{what} district counts"),
    );
    counts_agree(
        &logs.channel_counts,
        &cube.channel_counts,
        MOVED,
        &format!("{what} channel counts"),
    );
}

/// The service's alerts but those on startup (judged from a percentile the cubes know
/// to its bin): kind, start, end.
fn alerts(data: &FrameData) -> Vec<(AlertKind, i64, Option<i64>)> {
    data.alerts
        .iter()
        .filter(|a| a.kind != AlertKind::SlowStartup)
        .map(|a| (a.kind, a.at, a.until))
        .collect()
}

#[test]
#[ignore = "needs clickhouse-server (Debian package); .ci/run installs it"]
fn frames_from_the_cubes_are_the_frames_from_the_logs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ch = shipped(tmp.path());
    let settings = settings();
    let mut cube = CubeFrames::connect(&ch.uri("sample"), &settings, false).expect("the cubes");
    let mut logs = ReplayFrames::open(Path::new(SAMPLE), &settings).expect("the sample");
    logs.read_index(None, false);
    assert_eq!(cube.span(), logs.span(), "the recording's span");
    let (start, _) = logs.span();
    let cases: [(&str, &str, Split, usize); 6] = [
        ("2012-08-07 09:35", "", Split::None, 1),
        ("2012-08-07 09:35", "isp=pccw", Split::Channel, 1),
        (
            "2012-08-07 10:12:30",
            "district=sha tin,isp=hkbn",
            Split::None,
            1,
        ),
        ("2012-08-07 08:05", "", Split::Isp, 0),
        ("2012-08-07 10:59", "", Split::None, 3),
        ("2012-08-07 09:50", "channel=main", Split::None, 1),
    ];
    // Times off the minute look back an hour at most: the engine keeps older history by
    // the minute, so a window ending inside one of those minutes is read there whole
    // (the cubes keep 10 s buckets: theirs is the exact one).
    for (at, filter, split, window) in cases {
        let mut ui = UiState::new(Mode::Replay, 60_000, settings.timezone);
        ui.filter = Filter::parse(filter).expect("a filter");
        ui.split = split;
        ui.window = window;
        let request = frame_request(&ui, time(at), start);
        let (l, c) = (logs.frame(&request), cube.frame(&request));
        assert_eq!(c.sources[0].state, SourceState::Ok, "{:?}", c.sources);
        let bounds = if ui.filter.channels.is_empty() {
            EXACT
        } else {
            MOVED
        };
        let what = format!("at {at} filter {filter:?} split {split:?} window {window}");
        let split_bounds = if split == Split::Channel {
            MOVED
        } else {
            bounds
        };
        snapshots_agree(&l.snapshot, &c.snapshot, bounds, split_bounds, &what);
        assert_eq!(alerts(&l), alerts(&c), "{what}: alerts");
        assert!(c.snapshot.accepted > 0);
    }
}

#[test]
#[ignore = "needs clickhouse-server (Debian package); .ci/run installs it"]
fn the_tui_over_the_cubes_says_what_it_cannot_show_and_outlives_its_server() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut ch = shipped(tmp.path());
    let uri = ch.uri("sample");
    let text = |out: std::process::Output| {
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let histogram = text(peerscope(&[
        "replay",
        "--cube",
        &uri,
        "--snapshot",
        "histogram",
        "--at",
        "2012-08-07 09:35",
    ]));
    assert!(
        histogram.contains("a distribution across peers is not in them"),
        "{histogram}"
    );
    let probes = text(peerscope(&[
        "replay",
        "--cube",
        &uri,
        "--snapshot",
        "probes",
        "--at",
        "2012-08-07 09:35",
    ]));
    assert!(
        probes.contains("Probe rounds are not shipped to the cubes"),
        "{probes}"
    );
    let live = text(peerscope(&[
        "watch",
        "--cube",
        &uri,
        "--snapshot",
        "overview",
        "--at",
        "2012-08-07 09:35",
    ]));
    assert!(live.contains("┌online") && live.contains(&uri), "{live}");

    // Bad input: one clear line, a non-zero exit, nothing drawn.
    let fails = |args: &[&str], code: i32, says: &str| {
        let out = peerscope(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    };
    fails(
        &[
            "replay",
            "--cube",
            "http://127.0.0.1:1/x",
            "--snapshot",
            "overview",
        ],
        2,
        "is not a cube address",
    );
    fails(
        &[
            "replay",
            "--cube",
            &uri,
            "--filter",
            "isp=nobody",
            "--snapshot",
            "overview",
        ],
        2,
        "no isp is called that",
    );
    fails(
        &[
            "replay",
            "--cube",
            &uri,
            "--to",
            "2012-08-06 10:00",
            "--snapshot",
            "overview",
        ],
        2,
        "--to",
    );
    fails(
        &[
            "replay",
            "--cube",
            &ch.uri("absent"),
            "--snapshot",
            "overview",
        ],
        1,
        "absent",
    );
    let port = common::nginx::free_port();
    let nowhere = format!("clickhouse://127.0.0.1:{port}/sample");
    fails(
        &["watch", "--cube", &nowhere, "--snapshot", "overview"],
        1,
        "unreachable",
    );

    // The server goes away under a running view: the last frame stays, the source is
    // down with why; it comes back, and so do fresh frames.
    let settings = settings();
    let mut frames = CubeFrames::connect(&uri, &settings, false).expect("the cubes");
    let ui = UiState::new(Mode::Replay, 60_000, settings.timezone);
    let request = frame_request(&ui, time("2012-08-07 09:35"), frames.span().0);
    let before = frames.frame(&request);
    assert_eq!(before.sources[0].state, SourceState::Ok);
    ch.stop();
    let during = frames.frame(&request);
    assert_eq!(during.sources[0].state, SourceState::Down);
    let why = during.sources[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("unreachable"), "{why}");
    assert_eq!(during.snapshot, before.snapshot, "the last frame stays");
    ch.restart();
    let after = frames.frame(&request);
    assert_eq!(
        after.sources[0].state,
        SourceState::Ok,
        "{:?}",
        after.sources
    );
    assert_eq!(after.snapshot, before.snapshot);

    // The TUI itself, in a terminal: views, a filter, quit.
    let exit = tmp.path().join("exit");
    let command = format!(
        "{} replay --cube {uri} --from '2012-08-07 09:30' --speed 1; echo $? > {}; sleep 30",
        env!("CARGO_BIN_EXE_peerscope"),
        exit.display()
    );
    let tmux = Tmux::start("cube", &command, 120, 40);
    tmux.wait_for("the overview from the cubes", |s| {
        s.contains("┌online") && s.contains("clickhouse://")
    });
    tmux.keys(&["3"]);
    tmux.wait_for("the histogram's notice", |s| s.contains("not in them"));
    tmux.keys(&["4"]);
    tmux.wait_for("the district map", |s| s.contains("by district"));
    tmux.keys(&["j", "Enter"]);
    tmux.wait_for("a district filter", |s| s.contains("district="));
    tmux.keys(&["q"]);
    tmux.exited_cleanly(&exit, "q");
}

/// Fields equal, or numbers within 1e-9 (ClickHouse may add in another order).
fn same_table(a: &str, b: &str, what: &str) {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(a.len(), b.len(), "{what}: rows");
    for (x, y) in a.iter().zip(&b) {
        for (f, g) in x.split(',').zip(y.split(',')) {
            let near = match (f.parse::<f64>(), g.parse::<f64>()) {
                (Ok(f), Ok(g)) => (f - g).abs() <= 1e-9 * f.abs().max(1.0),
                _ => false,
            };
            assert!(f == g || near, "{what}: {x} against {y}");
        }
    }
}

/// `ship --keep-days`: the raw table and the 10 s cube lose the event's older days
/// whole, the reports from the cubes stay what they were (they read the minute and hour
/// cubes, `peer_first` and `views`), and a frame on a dropped day is read by the minute,
/// as the status bar says: equal to the logs' wherever its windows are whole minutes.
#[test]
#[ignore = "needs clickhouse-server (Debian package); .ci/run installs it"]
fn old_days_leave_the_raw_table_and_the_10_s_cube_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ch = ClickHouse::start(&tmp.path().join("ch"), None);
    let dir = tmp.path().join("rec");
    let dir_arg = dir.display().to_string();
    let out = peerscope(&[
        "simulate",
        "--out",
        &dir_arg,
        "--from",
        "2012-08-05 00:00",
        "--to",
        "2012-08-08 00:00",
        "--scale",
        "0.01",
        "--no-probes",
    ]);
    assert!(out.status.success(), "simulate: {out:?}");
    let url = ch.url();
    let ship = |db: &str, extra: &[&str]| {
        let mut args = vec![
            "ship",
            "--clickhouse",
            &url,
            "--database",
            db,
            "--init",
            "--distinct",
            "exact",
            "--dir",
            &dir_arg,
            "--once",
            "--batch-rows",
            "20000",
        ];
        args.extend_from_slice(extra);
        let out = peerscope(&args);
        assert!(out.status.success(), "ship: {out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    ship("whole", &[]);
    let said = ship("kept", &["--keep-days", "2"]);
    assert!(
        said.contains("dropped the raw rows and 10 s buckets before 2012-08-07"),
        "{said}"
    );
    let partitions = |table: &str| {
        ch.query(&format!(
            "SELECT DISTINCT partition FROM system.parts WHERE database = 'kept' \
             AND table = '{table}' AND active ORDER BY partition"
        ))
    };
    // The newest day is 2012-08-08 (its first seconds), and the day before it is the
    // second day kept.
    assert_eq!(partitions("raw"), "20120807\n20120808\n");
    assert_eq!(partitions("cube_10s"), "20120807\n20120808\n");
    assert!(partitions("cube_1m").contains("20120805"));
    // Shipping again still knows it is done: its cursor was kept.
    assert!(ship("kept", &["--keep-days", "2"]).contains("already shipped"));
    for by in ["minute", "day", "isp"] {
        let report = |db: &str| {
            let out = peerscope(&[
                "report",
                "--from",
                &ch.uri(db),
                "--by",
                by,
                "--format",
                "csv",
            ]);
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).expect("utf-8")
        };
        same_table(&report("whole"), &report("kept"), &format!("--by {by}"));
    }

    let settings = settings();
    let mut cube = CubeFrames::connect(&ch.uri("kept"), &settings, false).expect("the cubes");
    let mut logs = ReplayFrames::open(&dir, &settings).expect("the recording");
    logs.read_index(None, false);
    let (start, _) = logs.span();
    for (at, window, coarse) in [
        ("2012-08-05 21:00", 1, true),
        ("2012-08-06 09:30", 2, true),
        ("2012-08-07 21:00", 1, false),
    ] {
        let mut ui = UiState::new(Mode::Replay, 60_000, settings.timezone);
        ui.window = window;
        let request = frame_request(&ui, time(at), start);
        let (l, c) = (logs.frame(&request), cube.frame(&request));
        let what = format!("at {at}");
        snapshots_agree(&l.snapshot, &c.snapshot, EXACT, EXACT, &what);
        assert_eq!(
            c.unanswered.coarse.is_some(),
            coarse,
            "{what}: {:?}",
            c.unanswered
        );
    }
    // A 10 s window on a dropped day: the minute holding its end, and the bar says so.
    let mut ui = UiState::new(Mode::Replay, 60_000, settings.timezone);
    ui.window = 0;
    let c = cube.frame(&frame_request(&ui, time("2012-08-05 21:00"), start));
    assert_eq!(
        c.unanswered.coarse.as_deref(),
        Some("by the minute before 2012-08-07 (ship --keep-days)")
    );
}

/// Two ClickHouse servers as two shards, each holding one feedback server's tree (peer
/// affinity), read through the `Distributed` tables of `--distributed`: the frames of
/// one node holding everything.
#[test]
#[ignore = "needs clickhouse-server (Debian package); .ci/run installs it"]
fn two_shards_draw_what_one_node_draws() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let [a, b] = ClickHouse::start_cluster([&tmp.path().join("a"), &tmp.path().join("b")]);
    let dir = tmp.path().join("rec").display().to_string();
    let out = peerscope(&[
        "simulate",
        "--out",
        &dir,
        "--from",
        "2012-08-07 09:00",
        "--to",
        "2012-08-07 10:00",
        "--scale",
        "0.2",
        "--affinity",
        "--no-probes",
    ]);
    assert!(out.status.success(), "simulate: {out:?}");
    let ship = |ch: &ClickHouse, db: &str, tree: &str, extra: &[&str]| {
        let url = ch.url();
        let mut args = vec![
            "ship",
            "--clickhouse",
            &url,
            "--database",
            db,
            "--init",
            "--distinct",
            "exact",
            "--dir",
            tree,
            "--once",
        ];
        args.extend_from_slice(extra);
        let out = peerscope(&args);
        assert!(out.status.success(), "ship: {out:?}");
    };
    ship(&b, "games", &format!("{dir}/fs2"), &[]);
    ship(
        &a,
        "games",
        &format!("{dir}/fs1"),
        &["--distributed", "peerscope_test"],
    );
    ship(&a, "single", &dir, &[]);
    let settings = settings();
    let mut sharded =
        CubeFrames::connect(&a.uri("games_all"), &settings, false).expect("the shards");
    let mut single = CubeFrames::connect(&a.uri("single"), &settings, false).expect("one node");
    assert_eq!(sharded.span(), single.span());
    for (at, filter, split) in [
        ("2012-08-07 09:35", "", Split::Isp),
        ("2012-08-07 09:45:30", "district=sha tin", Split::None),
    ] {
        let mut ui = UiState::new(Mode::Replay, 60_000, settings.timezone);
        ui.filter = Filter::parse(filter).expect("a filter");
        ui.split = split;
        let request = frame_request(&ui, time(at), single.span().0);
        let (one, two) = (single.frame(&request), sharded.frame(&request));
        assert_eq!(two.sources[0].state, SourceState::Ok, "{:?}", two.sources);
        snapshots_agree(
            &one.snapshot,
            &two.snapshot,
            EXACT,
            EXACT,
            &format!("at {at}"),
        );
        assert_eq!(alerts(&one), alerts(&two));
    }
}
