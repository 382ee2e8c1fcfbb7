//! `report --explain` on the shipped sample, whose ground truth is its `faults.json`:
//! PCCW's peers on the main channel stall a quarter of their playing time from 09:05
//! for 15 minutes. Every format, every baseline, and bad input.

use std::path::Path;
use std::process::{Command, Output};

fn peerscope(args: &[&str]) -> Output {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .args(args)
        .current_dir(repo)
        .env("XDG_CONFIG_HOME", repo)
        .output()
        .expect("run peerscope")
}

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/recordings/olympics-2012-sample"
);
const AT: &str = "2012-08-07 09:12";

/// Runs `simulate` with `args`; it must succeed.
fn simulate(args: &[&str]) {
    let mut all = vec!["simulate"];
    all.extend_from_slice(args);
    let made = peerscope(&all);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["report", SAMPLE, "--explain", AT, "--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&stdout(&peerscope(&all))).expect("JSON")
}

#[test]
fn the_injected_fault_is_named_in_every_format() {
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{SAMPLE}/faults.json")).expect("faults.json"),
    )
    .expect("JSON");
    let fault = &truth["faults"][0];
    assert_eq!(
        (fault["isp"].as_str(), fault["channel"].as_str()),
        (Some("PCCW"), Some("main"))
    );

    for metric in ["continuity", "qoe"] {
        let doc = json(&["--metric", metric]);
        assert_eq!(doc["verdict"], "located", "{metric}: {doc}");
        assert_eq!(doc["metric"], metric);
        let rows = doc["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 1, "{doc}");
        assert_eq!(rows[0]["isp"], fault["isp"]);
        assert_eq!(rows[0]["channel"], fault["channel"]);
        assert!(rows[0]["district"].is_null() && rows[0]["area"].is_null());
        let (actual, expected) = (
            rows[0]["actual"].as_f64().expect("actual"),
            rows[0]["expected"].as_f64().expect("expected"),
        );
        assert!(actual < expected, "{doc}");
        assert!(rows[0]["share"].as_f64().expect("share") > 0.8);
        assert!(rows[0]["peers"].as_i64().expect("peers") > 0);
    }

    let text = stdout(&peerscope(&[
        "report",
        SAMPLE,
        "--explain",
        AT,
        "--metric",
        "continuity",
    ]));
    let first = text.lines().next().expect("heading");
    assert!(
        first.starts_with(
            "continuity at 2012-08-07 09:12 (window 60 s) against 2012-08-07 08:11 – 09:11:"
        ),
        "{first}"
    );
    assert!(first.ends_with("; located"), "{first}");
    assert!(
        text.lines().nth(2).expect("row").starts_with("PCCW  main"),
        "{text}"
    );

    let csv = stdout(&peerscope(&[
        "report",
        SAMPLE,
        "--explain",
        AT,
        "--metric",
        "continuity",
        "--format",
        "csv",
    ]));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("isp,channel,district,area,share,actual,expected,peers")
    );
    assert!(
        lines.next().expect("row").starts_with("PCCW,main,,,0."),
        "{csv}"
    );
}

#[test]
fn baselines_an_interval_the_day_before_and_another_recording() {
    // The hour before the fault: a clean baseline.
    let doc = json(&[
        "--metric",
        "continuity",
        "--baseline",
        "2012-08-07 08:00..2012-08-07 09:00",
    ]);
    assert_eq!(doc["verdict"], "located");
    assert_eq!(doc["baseline"], "2012-08-07 08:00 – 09:00");
    assert!(
        doc["rows"][0]["expected"].as_f64().expect("expected") > 0.98,
        "{doc}"
    );

    // Three hours hold no day before: said so, with no rows.
    let doc = json(&["--metric", "continuity", "--baseline", "day"]);
    assert_eq!(doc["verdict"], "no_baseline");
    assert_eq!(doc["rows"].as_array().map(Vec::len), Some(0));

    // The same event without the fault, as another recording: the same time of day.
    let clean = tempfile::tempdir().expect("tempdir");
    let dir = clean.path().to_str().expect("utf8");
    simulate(&[
        "--out",
        dir,
        "--from",
        "2012-08-07 08:30",
        "--to",
        "2012-08-07 09:30",
        "--scale",
        "0.1",
        "--no-probes",
    ]);
    assert!(
        !clean.path().join("faults.json").exists(),
        "no faults, no ground truth"
    );
    let doc = json(&["--metric", "continuity", "--baseline", dir]);
    assert_eq!(doc["verdict"], "located", "{doc}");
    assert_eq!(doc["rows"][0]["isp"], "PCCW");
    assert_eq!(doc["rows"][0]["channel"], "main");
    assert!(doc["baseline"].as_str().expect("baseline").starts_with(dir));
}

#[test]
fn a_filter_narrows_where_the_change_is_looked_for() {
    let doc = json(&["--metric", "continuity", "--filter", "isp=PCCW"]);
    assert_eq!(doc["verdict"], "located", "{doc}");
    assert_eq!(doc["rows"][0]["channel"], "main");
    assert!(
        doc["rows"][0]["isp"].is_null(),
        "PCCW is the filter, not a cause: {doc}"
    );
}

fn assert_fails(args: &[&str], message: &str) {
    let out = peerscope(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(message),
        "expected {message:?} in: {stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout on error");
}

#[test]
fn bad_explain_input_is_exit_2_with_what_was_expected() {
    let reversed = "2012-08-07 09:00..2012-08-07 08:00";
    for (extra, message) in [
        (&["--explain", "tomorrow"][..], "expected YYYY-MM-DD HH:MM"),
        (
            &["--explain", "2012-08-08 09:00"],
            "the recording runs from 2012-08-07 08:00 to 2012-08-07 11:00",
        ),
        (
            &["--explain", AT, "--metric", "rtt"],
            "with --explain, expected one of qoe, continuity, startup, online, up, down",
        ),
        (
            &["--explain", AT, "--baseline", "week"],
            "expected hour, day, FROM..TO",
        ),
        (
            &["--explain", AT, "--baseline", reversed],
            "must end after it starts",
        ),
        (&["--baseline", "hour"], "--explain"),
        (&["--explain", AT, "--probes"], "cannot be used with"),
        (&["--explain", AT, "--filter", "isp=Nowhere"], "Nowhere"),
        (
            &["--explain", AT, "--filter", "channel=curling"],
            "no channel is called that here; there are athletics, badminton",
        ),
    ] {
        let mut args = vec!["report", SAMPLE];
        args.extend_from_slice(extra);
        assert_fails(&args, message);
    }
}

#[test]
fn bad_faults_are_exit_2_and_write_nothing() {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("rec");
    let dir = dir.to_str().expect("utf8");
    for (spec, message) in [
        (
            "isp=Nowhere,from=2012-08-07 09:00,minutes=5,stall=0.2",
            "is not one of PCCW, HKBN",
        ),
        (
            "isp=HKBN,minutes=5,stall=0.2",
            "from= and minutes= are required",
        ),
        (
            "isp=HKBN,from=2012-08-07 09:00,minutes=5",
            "give at least one of",
        ),
        (
            "isp=HKBN,from=2012-08-07 09:00,minutes=5,stall=2",
            "stall=2 must be in (0, 1]",
        ),
        (
            "isp=HKBN,from=2012-08-07 09:00,minutes=5,color=red",
            "unknown key \"color\"",
        ),
        ("isp=HKBN", "from= and minutes= are required"),
        ("nonsense", "is not key=value"),
    ] {
        let run = peerscope(&[
            "simulate",
            "--out",
            dir,
            "--from",
            "2012-08-07 09:00",
            "--to",
            "2012-08-07 09:10",
            "--scale",
            "0.01",
            "--fault",
            spec,
        ]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{spec}: {stderr}");
        assert!(
            stderr.contains(message),
            "{spec}: expected {message:?} in {stderr}"
        );
        assert!(!Path::new(dir).exists(), "{spec}: nothing written");
    }
}

/// View 7 against the day before, in `replay`: the baseline a day back is read apart
/// (a second engine), not by making the views' engine hold a day; the fault of the
/// second day is found against the first.
#[test]
fn view_7_against_the_day_before_finds_the_second_days_fault() {
    use peerscope::config::{Config, validate};
    use peerscope::engine::calendar::Calendar;
    use peerscope::engine::explain::{Baseline, Verdict};
    use peerscope::source::frames::FrameSource;
    use peerscope::source::replay_frames::ReplayFrames;
    use peerscope::ui::request::frame_request;
    use peerscope::ui::state::{Mode, UiState, View};

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("two-days");
    let dir_text = dir.to_str().expect("utf8");
    simulate(&[
        "--out",
        dir_text,
        "--from",
        "2012-08-06 08:00",
        "--to",
        "2012-08-07 09:20",
        "--scale",
        "0.03",
        "--no-probes",
        "--gzip-level",
        "1",
        "--fault",
        "isp=PCCW,from=2012-08-07 09:00,minutes=20,stall=0.4",
    ]);
    let settings = validate(Config::default(), None).expect("settings");
    let mut frames = ReplayFrames::open(&dir, &settings).expect("the recording");
    let (start, _) = frames.span();
    let tz = chrono_tz::Asia::Hong_Kong;
    let t = Calendar::new(tz)
        .parse_time("2012-08-07 09:15")
        .expect("time");
    let mut ui = UiState::new(Mode::Replay, 300_000, tz);
    ui.view = View::Explain;
    ui.explain_baseline = Baseline::DayBefore;
    ui.focus(peerscope::engine::query::metric::Metric::from_key("continuity").expect("continuity"));
    let request = frame_request(&ui, t, start);
    assert!(
        request.lookback_ms < 12 * 3_600_000,
        "the views do not hold a day"
    );
    let data = frames.frame(&request);
    let e = data.explanation.as_ref().expect("an explanation");
    assert_eq!(e.verdict, Verdict::Located, "{e:?}");
    assert_eq!(e.contributors[0].name(), "PCCW");
    assert!(
        e.contributors[0].expected.expect("expected") > 0.98,
        "{e:?}"
    );
}
