//! The index of a recording that a real `serve` is still writing grows with it: the
//! server's wall clock is stepped through minutes under `faketime` while peers post, its
//! closed minutes are compressed behind it, and a `replay --snapshot` after more minutes
//! reads only the new ones and draws the frame a whole build draws.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::faketime::FakeClock;

const PEERS: u64 = 12;

/// Minute `minute` of the server's clock: each peer reports, and every fifth leaves and
/// comes back in a new view the minute after.
fn post_minute(c: &reqwest::blocking::Client, addr: &str, clock: &FakeClock, minute: u64) {
    clock.set(i64::try_from(minute * 60).expect("small"));
    let body: String = (0..PEERS)
        .map(|p| {
            let record = common::feedback_record(&format!("live-{p}"), minute);
            let view = format!("\"session\":\"v{p}-{}\"", (minute + p) / 5);
            let record = record.replace("\"session\":\"s\"", &view);
            let record = if (minute + p) % 5 == 4 {
                record.replace("\"event\":\"report\"", "\"event\":\"leave\"")
            } else {
                record
            };
            record + "\n"
        })
        .collect();
    common::post_feedback(c, addr, body);
}

/// Waits until every minute file but the newest is compressed: what a server leaves
/// open is the minute it writes.
fn settle(logs: &Path) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let open = common::minutes(logs)
            .iter()
            .filter(|(p, _)| p.extension().is_none_or(|e| e != "gz"))
            .count();
        if open <= 1 {
            return;
        }
        assert!(Instant::now() < until, "closed minutes left uncompressed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `replay LOGS --snapshot overview` with indexes kept in `cache`: (frame, stderr).
fn snapshot(logs: &Path, cache: &Path) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("replay")
        .arg(logs)
        .args(["--snapshot", "overview", "--size", "120x30"])
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("run replay");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8(out.stdout).expect("utf-8"), stderr)
}

#[test]
#[ignore = "needs libfaketime (apt-get install faketime; .ci/run installs it and runs it): cargo test -- --ignored"]
fn the_index_of_a_recording_being_written_grows_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = FakeClock::new(dir.path());
    let logs = dir.path().join("logs");
    let mut cmd = common::serve_command(&logs, &[]);
    clock.apply(&mut cmd);
    let (mut child, addr) = common::start_serve(cmd);
    let c = reqwest::blocking::Client::new();
    let cache = dir.path().join("cache");

    for minute in 0..12 {
        post_minute(&c, &addr, &clock, minute);
    }
    settle(&logs);
    let (_, first) = snapshot(&logs, &cache);
    assert!(first.contains("indexed the recording in"), "{first}");

    for minute in 12..16 {
        post_minute(&c, &addr, &clock, minute);
    }
    settle(&logs);
    let (grown, stderr) = snapshot(&logs, &cache);
    // From five minutes before the last one read then (minute 11) to the newest: ten,
    // or one more or less if the real clock crossed a minute while the test posted.
    let read: usize = stderr
        .split("indexed the recording's last ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the index grows: {stderr}"));
    assert!((9..=11).contains(&read), "{stderr}");
    common::terminate(&mut child);

    let (whole, stderr) = snapshot(&logs, &dir.path().join("fresh cache"));
    assert!(stderr.contains("indexed the recording in"), "{stderr}");
    assert_eq!(
        grown, whole,
        "the grown index draws the whole build's frame"
    );
}
