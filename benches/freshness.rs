//! Freshness and isolation of `serve`, whole-process on 127.0.0.1 (RELIABILITY 7 and
//! the feedback-server issue's freshness goal):
//!
//! 1. POST → `tail` delivery time at 10,000 records/s (batches of 10 every millisecond):
//!    a reader long-polls the tail while a poster sends numbered records; the time from
//!    sending a record to reading it back gives p50 / p99 (goal: p99 under 1 s);
//! 2. ingest latency p99 with and without a slow tail consumer — a client that asks for
//!    a large tail and never reads the answer — printed as a ratio;
//! 3. POST → screen: two servers taking 5,000 records/s each, `watch`'s engine following
//!    both and asked for a frame every 100 ms as the TUI does at its default 10 fps;
//!    a record is on screen at the first frame whose count of records taken reaches
//!    its place in the sending order (the two posters share one count), so p50 / p99
//!    of that delay, with the merge settled by the sources' watermarks and with the
//!    whole 2-s hold-back, one after the other (goal: p99 under 1 s).
//!
//! `cargo bench --bench freshness` (about a minute). Figures are from one run.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn record(seq: u64) -> String {
    record_of("fresh", seq)
}

fn record_of(peer: &str, seq: u64) -> String {
    format!(
        r#"{{"v":1,"peer":"{peer}","session":"s","seq":{seq},"ts":1,"event":"report","channel":"main","period_s":30,"up_kbps":800,"down_kbps":900,"server_kbps":100,"bitrate_kbps":420,"play_s":30,"stall_s":0,"startup_ms":null,"buffer_s":12,"partners":9,"nat":"cone","player":"x","os":"y","rtt_ms":33}}"#
    )
}

fn start_serve(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-dir"])
        .arg(dir)
        .env_remove("PEERSCOPE_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on "))
        .expect("address");
    std::thread::spawn(move || for _ in lines {});
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("addr")
        .to_owned();
    (child, addr)
}

/// POSTs a body of records to `addr`; the bench is void if one fails.
fn post(client: &reqwest::blocking::Client, addr: &str, body: String) {
    let ok = client
        .post(format!("http://{addr}/v1/feedback"))
        .body(body)
        .send()
        .is_ok_and(|r| r.status().is_success());
    assert!(ok, "a POST failed");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Posts `seconds` of 10,000 records/s (10 per request, one request a millisecond);
/// returns each request's latency (ms) and the send time of each seq.
fn post_load(
    addr: &str,
    first: u64,
    seconds: u64,
    sent: &Mutex<HashMap<u64, Instant>>,
) -> Vec<f64> {
    let client = reqwest::blocking::Client::new();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut seq = first;
    for k in 0..seconds * 1000 {
        let due = Duration::from_millis(k);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        let body: String = (seq..seq + 10).map(|s| record(s) + "\n").collect();
        let t = Instant::now();
        if let Ok(mut m) = sent.lock() {
            for s in seq..seq + 10 {
                m.insert(s, t);
            }
        }
        post(&client, addr, body);
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        seq += 10;
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, addr) = start_serve(dir.path());
    let sent = Arc::new(Mutex::new(HashMap::new()));

    // 1. POST → tail.
    let client = reqwest::blocking::Client::new();
    let prime = client
        .post(format!("http://{addr}/v1/feedback"))
        .body(record(0))
        .send()
        .expect("prime");
    assert!(prime.status().is_success());
    let cursor = client
        .get(format!("http://{addr}/v1/tail?stream=feedback"))
        .send()
        .expect("tail")
        .headers()["x-peerscope-cursor"]
        .to_str()
        .expect("cursor")
        .to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let delays = Arc::new(Mutex::new(Vec::<f64>::new()));
    let reader = {
        let (addr, stop, sent, delays) = (
            addr.clone(),
            Arc::clone(&stop),
            Arc::clone(&sent),
            Arc::clone(&delays),
        );
        std::thread::spawn(move || {
            let c = reqwest::blocking::Client::new();
            let mut cursor = cursor;
            while !stop.load(Ordering::Relaxed) {
                let Ok(resp) = c
                    .get(format!(
                        "http://{addr}/v1/tail?stream=feedback&cursor={cursor}&wait=2"
                    ))
                    .send()
                else {
                    continue;
                };
                resp.headers()["x-peerscope-cursor"]
                    .to_str()
                    .expect("cursor")
                    .clone_into(&mut cursor);
                let body = resp.bytes().expect("body");
                let now = Instant::now();
                let sent = sent.lock().expect("sent");
                let mut d = delays.lock().expect("delays");
                for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    let text = String::from_utf8_lossy(line);
                    let seq = text
                        .split("\"seq\":")
                        .nth(1)
                        .and_then(|r| r.split(',').next())
                        .and_then(|n| n.parse::<u64>().ok());
                    if let Some(t) = seq.and_then(|s| sent.get(&s)) {
                        d.push(now.duration_since(*t).as_secs_f64() * 1000.0);
                    }
                }
            }
        })
    };
    let _ = post_load(&addr, 1_000, 10, &sent);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    let mut d = delays.lock().expect("delays").clone();
    d.sort_by(f64::total_cmp);
    println!(
        "POST → tail at 10,000 records/s: {} records, p50 {:.1} ms, p99 {:.1} ms (goal p99 < 1000 ms)",
        d.len(),
        percentile(&d, 50.0),
        percentile(&d, 99.0)
    );

    // 2. Ingest p99 alone and beside a tail consumer that never reads, in alternating
    //    rounds (the machine is shared: medians of three rounds each).
    let first_minute = cursor_minute(&client, &addr);
    let (mut alone, mut beside) = (Vec::new(), Vec::new());
    for round in 0..3u64 {
        let base = 10_000_000 * (round + 1);
        alone.push(percentile(&post_load(&addr, base, 3, &sent), 99.0));
        let mut stalled = std::net::TcpStream::connect(&addr).expect("connect");
        write!(
            stalled,
            "GET /v1/tail?stream=feedback&cursor={first_minute}:0 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        .expect("stalled request");
        beside.push(percentile(
            &post_load(&addr, base + 5_000_000, 3, &sent),
            99.0,
        ));
        drop(stalled);
    }
    alone.sort_by(f64::total_cmp);
    beside.sort_by(f64::total_cmp);
    let (p_alone, p_stalled) = (alone[1], beside[1]);
    println!(
        "ingest p99 (median of 3 rounds): {p_alone:.2} ms alone, {p_stalled:.2} ms beside a stalled tail reader: ratio {:.2}",
        p_stalled / p_alone
    );
    let _ = server.kill();
    let _ = server.wait();

    // 3. POST → screen through two servers.
    for watermarks in [true, false] {
        let (p50, p99, n) = post_to_screen(watermarks);
        let merge = if watermarks {
            "watermarks"
        } else {
            "2-s hold-back"
        };
        println!(
            "POST → screen, two servers at 5,000 records/s each, merge by {merge}: {n} records, p50 {p50:.0} ms, p99 {p99:.0} ms (goal p99 < 1000 ms)"
        );
    }
}

/// The oldest minute the server holds (the stalled reader asks for all of it).
fn cursor_minute(client: &reqwest::blocking::Client, addr: &str) -> String {
    let listing: serde_json::Value = client
        .get(format!("http://{addr}/v1/logs?stream=feedback"))
        .send()
        .expect("list")
        .json()
        .expect("json");
    listing
        .as_array()
        .and_then(|a| a.first())
        .and_then(|f| f.get("minute"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .expect("a file")
}

/// Part 3: (p50, p99, records measured) of POST → first frame holding the record.
fn post_to_screen(watermarks: bool) -> (f64, f64, usize) {
    use peerscope::config::{Config, validate};
    use peerscope::source::follow::Origin;
    use peerscope::source::frames::FrameSource;
    use peerscope::source::live_frames::LiveFrames;
    use peerscope::ui::request::frame_request;
    use peerscope::ui::state::{Mode, UiState};
    use std::sync::atomic::AtomicU64;

    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let servers: Vec<(Child, String)> = dirs.iter().map(|d| start_serve(d.path())).collect();
    let now_ms = || chrono::Utc::now().timestamp_millis();
    let settings = validate(Config::default(), None).expect("settings");
    let origins = servers
        .iter()
        .map(|(_, addr)| Origin::Server {
            url: format!("http://{addr}"),
            token: None,
        })
        .collect();
    let start = now_ms();
    let mut live = LiveFrames::connect(origins, &settings, start - 60_000, start, None)
        .expect("follow the servers");
    if !watermarks {
        live.without_watermarks();
    }
    let ui = UiState::new(Mode::Live, 60_000, chrono_tz::UTC);
    // Sent so far by both posters, and when each batch brought the count to its value.
    let count = Arc::new(AtomicU64::new(0));
    let sends = Arc::new(Mutex::new(Vec::<(u64, Instant)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let seconds = 10;
    let posters: Vec<_> = servers
        .iter()
        .enumerate()
        .map(|(i, (_, addr))| {
            let (addr, count, sends) = (addr.clone(), Arc::clone(&count), Arc::clone(&sends));
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let peer = format!("screen-{i}");
                let started = Instant::now();
                // 10 records every 2 ms: 5,000 records/s.
                for k in 0..seconds * 500 {
                    let due = Duration::from_millis(k * 2);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let seq = k * 10;
                    let body: String = (seq..seq + 10)
                        .map(|s| record_of(&peer, s) + "\n")
                        .collect();
                    post(&client, &addr, body);
                    // Counted once acknowledged: the server has stamped and stored them.
                    let total = count.fetch_add(10, Ordering::SeqCst) + 10;
                    if let Ok(mut s) = sends.lock() {
                        s.push((total, Instant::now()));
                    }
                }
            })
        })
        .collect();
    // The app loop: a frame every 100 ms; note when the count of records taken grew.
    let mut shown: Vec<(u64, Instant)> = Vec::new();
    let base = live
        .frame(&frame_request(&ui, now_ms(), Some(start)))
        .snapshot
        .accepted;
    let until = Instant::now() + Duration::from_secs(seconds + 4);
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(frame) = live.frame_if_changed(&frame_request(&ui, now_ms(), Some(start))) {
            shown.push((frame.snapshot.accepted.saturating_sub(base), Instant::now()));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for p in posters {
        let _ = p.join();
    }
    for (mut child, _) in servers {
        let _ = child.kill();
        let _ = child.wait();
    }
    let sends = sends.lock().expect("sends").clone();
    let mut delays: Vec<f64> = sends
        .iter()
        .filter_map(|(total, sent)| {
            let (_, at) = shown.iter().find(|(taken, _)| taken >= total)?;
            Some(at.saturating_duration_since(*sent).as_secs_f64() * 1000.0)
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    (
        percentile(&delays, 50.0),
        percentile(&delays, 99.0),
        delays.len() * 10,
    )
}
