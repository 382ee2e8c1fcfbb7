//! The wall clock under `faketime` (RELIABILITY 8 and 9). The server runs with
//! libfaketime preloaded and reads its offset from a file the test rewrites, so the test
//! steps the clock back and forward, or through minute boundaries, while requests flow.
//! Only the wall clock is faked: timers and long-poll waits use the monotonic clock.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

mod common;
use common::faketime::FakeClock;
use common::{feedback_record, minutes, terminate};

fn serve_with_fake_clock(dir: &Path) -> (Child, String, FakeClock) {
    let clock = FakeClock::new(dir);
    let mut cmd = common::serve_command(&dir.join("logs"), &[]);
    clock.apply(&mut cmd);
    let (child, addr) = common::start_serve(cmd);
    (child, addr, clock)
}

fn post(c: &reqwest::blocking::Client, addr: &str, seqs: std::ops::Range<u64>) {
    let body: String = seqs.map(|s| feedback_record("clock", s) + "\n").collect();
    common::post_feedback(c, addr, body);
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_gzip(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "gz")
}

#[test]
#[ignore = "needs libfaketime (apt-get install faketime; .ci/run installs it and runs it): cargo test -- --ignored"]
fn stepping_the_clock_back_never_reopens_a_closed_minute() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr, clock) = serve_with_fake_clock(dir.path());
    let logs = dir.path().join("logs");
    let c = reqwest::blocking::Client::new();
    post(&c, &addr, 0..10);
    clock.set(120);
    post(&c, &addr, 10..20);
    // The minute of the first batch closes and is compressed in the background.
    wait_for("the first minute to be compressed", || {
        minutes(&logs).first().is_some_and(|(p, _)| is_gzip(p))
    });
    // Two minutes back: the clock is inside the compressed minute again.
    clock.set(0);
    post(&c, &addr, 20..30);
    // An hour forward.
    clock.set(3720);
    post(&c, &addr, 30..40);
    let metrics = c
        .get(format!("http://{addr}/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    terminate(&mut child);

    let files = minutes(&logs);
    let (first_path, first_seqs) = &files[0];
    assert!(is_gzip(first_path), "{files:?}");
    assert_eq!(
        *first_seqs,
        (0..10).collect::<Vec<_>>(),
        "the closed minute holds its own records only"
    );
    assert_eq!(
        files
            .iter()
            .filter(|(p, _)| p == first_path || p.with_extension("") == *first_path)
            .count(),
        1,
        "no second copy of the closed minute: {files:?}"
    );
    let file_of = |seq: u64| {
        files
            .iter()
            .position(|(_, s)| s.contains(&seq))
            .unwrap_or_else(|| panic!("record {seq} lost: {files:?}"))
    };
    assert!(
        file_of(20) > 0,
        "the late batch went into a later, open minute"
    );
    assert!(
        file_of(30) > file_of(20),
        "the jump forward opened a new minute"
    );
    let all: Vec<u64> = files.iter().flat_map(|(_, s)| s.iter().copied()).collect();
    let mut sorted = all.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..40).collect::<Vec<_>>(), "each record once");
    let late: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("peerscope_late_records_total{stream=\"feedback\"} "))
        .and_then(|v| v.parse().ok())
        .expect("late counter");
    assert!(late >= 10, "the late batch is counted: {late}");
}

const PER_MINUTE: u64 = 40;
const MINUTES: u64 = 5;

#[test]
#[ignore = "needs libfaketime (apt-get install faketime; .ci/run installs it and runs it): cargo test -- --ignored"]
fn tail_follows_every_record_once_across_rotation_and_compression() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr, clock) = serve_with_fake_clock(dir.path());
    let logs = dir.path().join("logs");
    let c = reqwest::blocking::Client::new();
    post(&c, &addr, 0..10);

    let reader_addr = addr.clone();
    let reader = std::thread::spawn(move || {
        let c = reqwest::blocking::Client::new();
        let mut got = Vec::new();
        let mut cursor = String::new();
        let until = Instant::now() + Duration::from_secs(60);
        while (got.len() as u64) < PER_MINUTE * MINUTES && Instant::now() < until {
            let url = if cursor.is_empty() {
                format!("http://{reader_addr}/v1/tail?stream=feedback&wait=1")
            } else {
                format!("http://{reader_addr}/v1/tail?stream=feedback&cursor={cursor}&wait=1")
            };
            let resp = c.get(url).send().expect("tail");
            let status = resp.status();
            // The body says why (a cursor mid-line or in the future, and which).
            assert!(
                status.as_u16() == 200,
                "tail answered {status}: {}",
                resp.text().unwrap_or_default()
            );
            cursor = resp.headers()["x-peerscope-cursor"]
                .to_str()
                .expect("cursor")
                .to_owned();
            let body = resp.bytes().expect("body");
            for (_, line) in peerscope::recording::decode::lines(&body) {
                let r = peerscope::engine::record::parse_feedback(
                    line,
                    peerscope::engine::record::Origin::Log,
                )
                .expect("a whole line");
                got.push(r.payload.seq);
            }
        }
        got
    });

    for minute in 0..MINUTES {
        clock.set(i64::try_from(minute).expect("small") * 60);
        let first = if minute == 0 { 10 } else { minute * PER_MINUTE };
        let end = (minute + 1) * PER_MINUTE;
        let mut seq = first;
        while seq < end {
            post(&c, &addr, seq..(seq + 5).min(end));
            seq += 5;
            std::thread::sleep(Duration::from_millis(40));
        }
        // Time for the idle writer to close the minute and the compressor to run.
        std::thread::sleep(Duration::from_millis(400));
    }
    let got = reader.join().expect("reader");
    let compressed = minutes(&logs).iter().filter(|(p, _)| is_gzip(p)).count();
    terminate(&mut child);
    assert_eq!(
        got,
        (0..PER_MINUTE * MINUTES).collect::<Vec<_>>(),
        "every record once, in order"
    );
    assert!(
        compressed >= usize::try_from(MINUTES - 2).expect("small"),
        "closed minutes were compressed while the reader followed: {compressed}"
    );
}
