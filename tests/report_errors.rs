//! Bad input to `report`: each case gets a clear message and its exit status.

use std::path::Path;
use std::process::{Command, Output};

fn peerscope(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .args(args)
        .current_dir(cwd)
        .env("XDG_CONFIG_HOME", cwd)
        .env(
            "XDG_CACHE_HOME",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("cache"),
        )
        .output()
        .expect("run peerscope")
}

fn sample() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recordings/olympics-2012-sample"
    )
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn assert_succeeds(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_fails(out: &Output, code: i32, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        stderr.contains(message),
        "expected {message:?} in: {stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout on error");
}

#[test]
fn a_directory_without_a_recording_is_exit_2() {
    let empty = tempfile::tempdir().expect("tempdir");
    let dir = empty.path().to_str().expect("utf8");
    assert_fails(&peerscope(&["report", dir], repo()), 2, "no recording in");
    assert_fails(
        &peerscope(&["report", "/nonexistent/dir"], repo()),
        2,
        "no such directory or file",
    );
}

#[test]
fn unknown_flag_values_are_exit_2() {
    let s = sample();
    assert_fails(
        &peerscope(&["report", s, "--by", "week"], repo()),
        2,
        "invalid value 'week'",
    );
    assert_fails(
        &peerscope(&["report", s, "--format", "xml"], repo()),
        2,
        "invalid value 'xml'",
    );
    assert_fails(
        &peerscope(&["report", s, "--day", "07/08/2012"], repo()),
        2,
        "is not a date",
    );
    assert_fails(
        &peerscope(&["report", s, "--filter", "asn=4760"], repo()),
        2,
        "unknown key",
    );
    assert_fails(
        &peerscope(&["report", s, "--timezone", "Mars/Olympus"], repo()),
        2,
        "unknown time zone",
    );
}

#[test]
fn a_bad_config_names_the_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "timezone = \"UTC\"\nwindow_s = 10\n").expect("write");
    let out = peerscope(
        &["--config", cfg.to_str().expect("utf8"), "report", sample()],
        repo(),
    );
    assert_fails(&out, 2, "window_s");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
}

#[test]
fn a_missing_ip_table_says_how_to_fix_it() {
    let out = peerscope(
        &["report", sample(), "--ip-geo", "/nonexistent/geo.csv"],
        repo(),
    );
    // The cause once, and no advice to pass the flag that was passed.
    assert_fails(
        &out,
        1,
        "cannot read IP-location table /nonexistent/geo.csv: No such file or directory (os error 2) (given by --ip-geo)\n",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches("No such file")
            .count(),
        1
    );
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = peerscope(&["report", sample()], elsewhere.path());
    assert_fails(
        &out,
        1,
        "maps/ip-geo.csv: No such file or directory (os error 2) (the default path; set maps.ip_geo in a configuration file or pass --ip-geo FILE)",
    );
}

#[test]
fn the_sample_reports_from_any_directory_with_its_config() {
    // Run from elsewhere: the config file anchors the map paths.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let cfg = repo().join("config.toml");
    let out = peerscope(
        &[
            "--config",
            cfg.to_str().expect("utf8"),
            "report",
            sample(),
            "--by",
            "isp",
            "--format",
            "csv",
        ],
        elsewhere.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert!(text.starts_with("isp,distinct_ips,share\n"));
    for isp in ["PCCW", "HKBN", "HGC", "i-CABLE", "Others"] {
        assert!(
            text.contains(&format!("\n{isp},")),
            "{isp} missing in {text}"
        );
    }
}

#[test]
fn probe_table_flags_are_checked() {
    let s = sample();
    assert_fails(
        &peerscope(&["report", s, "--probes", "--metric", "jitter"], repo()),
        2,
        "--metric \"jitter\"",
    );
    assert_fails(
        &peerscope(&["report", s, "--probes", "--filter", "isp=PCCW"], repo()),
        2,
        "does not apply to --probes",
    );
    let no_probes = tempfile::tempdir().expect("tempdir");
    let day = no_probes.path().join("fs1/feedback/20120807");
    std::fs::create_dir_all(&day).expect("mkdir");
    std::fs::write(day.join("20120807-0100.jsonl"), "").expect("write");
    assert_fails(
        &peerscope(
            &[
                "report",
                no_probes.path().to_str().expect("utf8"),
                "--probes",
            ],
            repo(),
        ),
        2,
        "no probe records",
    );
}

/// The sample's probe table: destinations × probes, the published shape — UF far
/// worse towards China, Nairobi over a second behind the cut until 10:20.
#[test]
fn the_sample_probe_table() {
    let out = peerscope(&["report", sample(), "--probes", "--format", "csv"], repo());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("dest,group,UA,UB,UC,UD,UE,UF,UG,UH"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 43);
    assert_eq!(rows[0][1], "HKIX", "nearest group first");
    let value = |dest: &str, col: usize| -> f64 {
        rows.iter().find(|r| r[0] == dest).expect(dest)[col]
            .parse()
            .expect("number")
    };
    assert!(value("pku", 7) > 2.0 * value("pku", 2), "UF to China");
    assert!(value("uon", 2) > 1_000.0 && value("uct", 2) < 600.0);
}

#[test]
fn filter_names_match_in_any_case_and_an_unknown_one_is_exit_2_with_the_names() {
    // A misspelt name used to give an empty report (or an empty screen) and exit 0.
    let lower = peerscope(&["report", sample(), "--filter", "isp=pccw"], repo());
    let upper = peerscope(&["report", sample(), "--filter", "isp=PCCW"], repo());
    assert_succeeds(&lower);
    assert_eq!(lower.stdout, upper.stdout, "isp=pccw is PCCW");
    assert!(String::from_utf8_lossy(&lower.stdout).contains("2012-08-07"));
    for (args, message) in [
        (
            vec!["report", sample(), "--filter", "isp=Foo"],
            "--filter isp=Foo: no isp is called that here; there are HGC, HKBN, Others, PCCW, i-CABLE",
        ),
        (
            vec!["report", sample(), "--filter", "channel=nope"],
            "there are athletics, badminton, cycling, football, main, swimming",
        ),
        (
            vec![
                "replay",
                sample(),
                "--snapshot",
                "overview",
                "--filter",
                "district=Nowhere",
            ],
            "--filter district=Nowhere: no district is called that here",
        ),
        (
            vec![
                "replay",
                sample(),
                "--snapshot",
                "overview",
                "--filter",
                "channel=nope",
            ],
            "no channel is called that here",
        ),
    ] {
        assert_fails(&peerscope(&args, repo()), 2, message);
    }
    let screen = peerscope(
        &[
            "replay",
            sample(),
            "--snapshot",
            "overview",
            "--filter",
            "channel=MAIN",
        ],
        repo(),
    );
    assert_succeeds(&screen);
}

#[test]
fn a_snapshot_that_cannot_be_drawn_is_exit_2_in_one_line() {
    // Scripts and cron mails rely on the status: each of these used to print a frame
    // (an empty one, 1970, or "press q") and exit 0.
    let empty = tempfile::tempdir().expect("tempdir");
    let dir = empty.path().to_str().expect("utf8");
    for (args, message) in [
        (
            vec!["replay", dir, "--snapshot", "overview"],
            "no recording in",
        ),
        (
            vec![
                "replay",
                sample(),
                "--snapshot",
                "overview",
                "--size",
                "60x20",
            ],
            "--size 60x20: a frame is at least 80x24",
        ),
        (
            vec![
                "replay",
                sample(),
                "--snapshot",
                "timeline",
                "--at",
                "2012-08-08 10:00",
            ],
            "--at 2012-08-08 10:00: the recording runs from 2012-08-07 08:00 to 2012-08-07 11:00",
        ),
    ] {
        let out = peerscope(&args, repo());
        assert_fails(&out, 2, message);
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
    let edge = peerscope(
        &[
            "replay",
            sample(),
            "--snapshot",
            "overview",
            "--size",
            "80x24",
            "--at",
            "2012-08-07 11:00",
        ],
        repo(),
    );
    assert_succeeds(&edge);
    assert_eq!(String::from_utf8_lossy(&edge.stdout).lines().count(), 24);
}

#[test]
fn values_outside_their_domain_are_exit_2() {
    // Each was accepted silently: QoE stuck at 1.000, a report with no workers, a probe
    // metric for a feedback table, a simulation that wrote nothing.
    let s = sample();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out = out_dir.path().to_str().expect("utf8");
    for (args, message) in [
        (
            vec!["report", s, "--set", "qoe.lambda=-1"],
            "qoe.lambda and qoe.a must be above 0",
        ),
        (
            vec!["report", s, "--set", "qoe.c1=3"],
            "qoe.c1 must be 0 or below",
        ),
        (vec!["report", s, "--threads", "0"], "0 is not in 1..=1024"),
        (
            vec!["report", s, "--metric", "loss_fwd"],
            "--metric needs --probes or --explain",
        ),
        (
            vec![
                "simulate",
                "--out",
                out,
                "--from",
                "2013-01-01 00:00",
                "--to",
                "2013-01-02 00:00",
            ],
            "that span holds none of it",
        ),
    ] {
        assert_fails(&peerscope(&args, repo()), 2, message);
    }
    assert_eq!(
        std::fs::read_dir(out_dir.path()).expect("out").count(),
        0,
        "nothing written"
    );
}
