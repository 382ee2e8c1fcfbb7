//! `peerscope probe` end to end on loopback: a TCP listener as the destination, the
//! agent posting to a real `serve`, and `report --probes` on that server's logs. The
//! server is stopped for a while in the middle: the agent keeps measuring and sends
//! the rounds it kept when the server is back, so no round is lost.

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{spawn_serve, terminate};
use peerscope::engine::record::{Origin, parse_probe};
use peerscope::recording::decode::{lines, read_minute_file};
use peerscope::recording::scan::Recording;

/// A destination the agent can reach: a loopback listener that accepts and closes.
fn loopback_destination() -> std::net::SocketAddr {
    let destination = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = destination.local_addr().expect("addr");
    std::thread::spawn(move || for _ in destination.incoming() {});
    addr
}

/// Starts `peerscope probe` as agent "UT" posting to `server`, with `args` after that;
/// its stderr is kept for the test's assertions.
fn start_probe_agent(server: &str, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .args([
            "probe",
            "--server",
            &format!("http://{server}"),
            "--name",
            "UT",
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start probe")
}

/// Every logged probe record's (dest, ts) and RTT.
fn logged_probes(dir: &Path) -> Vec<(String, i64, f64)> {
    let rec = Recording::scan(dir).expect("scan");
    let mut out = Vec::new();
    for g in &rec.probes {
        for f in &g.files {
            let text = read_minute_file(f);
            for (n, line) in lines(&text.bytes) {
                let p = parse_probe(line, Origin::Log)
                    .unwrap_or_else(|e| panic!("{}:{n}: {e}", f.path.display()));
                out.push((p.dest.into_owned(), p.ts, p.rtt_ms));
            }
        }
    }
    out
}

#[test]
fn probe_posts_through_an_outage_and_report_shows_the_path() {
    let logs = tempfile::tempdir().expect("tempdir");
    // The destination: accepts and closes, like any TCP service.
    let dest_addr = loopback_destination();
    let (mut server, addr) = spawn_serve(logs.path(), "127.0.0.1:0", &["--name", "fs1"], &[]);
    let rounds = 14;
    let probe = start_probe_agent(
        &addr,
        &[
            "--dest",
            &format!("loopback={dest_addr}@Local"),
            "--dest",
            // Nothing listens here: every connect fails, and that is a measurement too.
            "closed=127.0.0.1:9@Local",
            "--interval-s",
            "0.5",
            "--samples",
            "3",
            "--rounds",
            &rounds.to_string(),
        ],
    );
    // Let a few rounds through, then take the server away for about five rounds.
    std::thread::sleep(Duration::from_millis(1_600));
    terminate(&mut server);
    let away = Instant::now();
    std::thread::sleep(Duration::from_millis(2_600));
    let (mut server, _) = spawn_serve(logs.path(), &addr, &["--name", "fs1"], &[]);
    let out = probe.wait_with_output().expect("probe finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("server unavailable") && stderr.contains("kept for later"),
        "the outage was noticed: {stderr}"
    );
    assert!(away.elapsed() > Duration::from_secs(2));
    terminate(&mut server);

    let records = logged_probes(logs.path());
    for dest in ["loopback", "closed"] {
        let rounds_seen: BTreeSet<i64> = records
            .iter()
            .filter(|r| r.0 == dest)
            .map(|r| r.1)
            .collect();
        assert_eq!(
            rounds_seen.len(),
            rounds,
            "{dest}: every round logged once at least"
        );
    }
    let report = Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .arg("report")
        .arg(logs.path())
        .args(["--probes", "--format", "csv"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("report");
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let csv = String::from_utf8(report.stdout).expect("utf8");
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0], ["dest", "group", "UT"]);
    let rtt = |dest: &str| -> f64 {
        rows.iter().find(|r| r[0] == dest).expect(dest)[2]
            .parse()
            .expect("number")
    };
    // A loopback handshake: well under a few milliseconds, and more than nothing.
    assert!(rtt("loopback") > 0.0 && rtt("loopback") < 50.0, "{csv}");
    let loss = Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .arg("report")
        .arg(logs.path())
        .args(["--probes", "--metric", "loss_fwd", "--format", "csv"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("report");
    let loss = String::from_utf8(loss.stdout).expect("utf8");
    assert!(loss.contains("closed,Local,1"), "{loss}");
    assert!(loss.contains("loopback,Local,0"), "{loss}");
}

#[test]
fn probe_flags_are_checked() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_peerscope"))
            .arg("probe")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run")
    };
    for (args, message) in [
        (vec!["--dest", "a=127.0.0.1:80"], "no server"),
        (vec!["--server", "http://127.0.0.1:1"], "no destinations"),
        (
            vec!["--server", "127.0.0.1:1", "--dest", "a=127.0.0.1:80"],
            "expected http://",
        ),
        (
            vec!["--server", "http://127.0.0.1:1", "--dest", "a=localhost"],
            "NAME=HOST:PORT",
        ),
    ] {
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

/// `simulate --target` posts the probes stream too: each probe's round in one request to
/// `/v1/probes`, at the round's place in scenario time, its probe clock in the present.
/// A second run is new rounds, not retries of the first (they would be dropped as
/// repeats, and `watch` would show every path stale), and `watch` shows them.
#[test]
fn simulate_posts_probe_rounds_live() {
    let logs = tempfile::tempdir().expect("tempdir");
    let (mut server, addr) = spawn_serve(logs.path(), "127.0.0.1:0", &["--name", "fs1"], &[]);
    let simulate = || {
        Command::new(env!("CARGO_BIN_EXE_peerscope"))
            .args([
                "simulate",
                "--target",
                &format!("http://{addr}"),
                "--from",
                "2012-08-07 09:59",
                "--to",
                "2012-08-07 10:02",
                "--scale",
                "0.01",
                "--rate",
                "2000",
                "--batch",
                "10",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("simulate")
    };
    let before = chrono::Utc::now().timestamp_millis();
    for _ in 0..2 {
        let out = simulate();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("(344 of them probe records)"), "{stderr}");
    }
    let after = chrono::Utc::now().timestamp_millis();
    let screen = Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .args(["watch", "--server", &format!("http://{addr}")])
        .args(["--snapshot", "probes", "--size", "100x30"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("watch");
    let screen = String::from_utf8_lossy(&screen.stdout).into_owned();
    terminate(&mut server);
    let records = logged_probes(logs.path());
    assert_eq!(records.len(), 2 * 8 * 43, "one round of every path, twice");
    // Probe clocks within a minute of when each round was sent (a probe starts its
    // round up to a minute in).
    assert!(
        records
            .iter()
            .all(|(_, ts, _)| (before..=after + 120_000).contains(ts)),
        "{:?}",
        &records[..3]
    );
    let distinct: BTreeSet<(String, i64)> =
        records.iter().map(|(d, ts, _)| (d.clone(), *ts)).collect();
    assert_eq!(
        distinct.len(),
        records.len(),
        "no round repeats another's clock"
    );
    assert!(screen.contains("8 probes × 43 destinations"), "{screen}");
    let cuhk = screen
        .lines()
        .find(|l| l.contains("cuhk"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(!cuhk.contains('·'), "every path fresh: {cuhk}");
}

/// SIGTERM: the agent stops between rounds and makes a last attempt to send what it
/// kept while the server was away.
#[test]
fn probe_sends_what_it_kept_when_told_to_stop() {
    let logs = tempfile::tempdir().expect("tempdir");
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = free.local_addr().expect("addr").to_string();
    drop(free);
    let dest = loopback_destination();
    // Nothing listens on `addr` yet: the first round is kept.
    let probe = start_probe_agent(
        &addr,
        &[
            "--dest",
            &format!("loopback={dest}"),
            "--interval-s",
            "8",
            "--samples",
            "1",
        ],
    );
    // The first round starts within the first quarter of the interval (2 s).
    std::thread::sleep(Duration::from_millis(2_800));
    let (mut server, _) = spawn_serve(logs.path(), &addr, &["--name", "fs1"], &[]);
    let _ = Command::new("kill")
        .args(["-TERM", &probe.id().to_string()])
        .status();
    let out = probe.wait_with_output().expect("probe exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("kept for later"), "{stderr}");
    assert!(stderr.contains("1 rounds, 1 records sent"), "{stderr}");
    terminate(&mut server);
    assert_eq!(logged_probes(logs.path()).len(), 1);
}
