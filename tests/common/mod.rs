//! Helpers shared by the end-to-end tests: starting `peerscope serve`, and reading back
//! what a log directory holds.

#![allow(dead_code)] // each test binary uses its own subset

pub mod clickhouse;
pub mod faketime;
pub mod hostile;
pub mod mmdb;
pub mod nginx;
pub mod stream;
pub mod tmux;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `peerscope serve` on `listen` with a log directory; returns the child and the
/// address it reports (port 0 picks a free one).
pub fn spawn_serve(
    dir: &Path,
    listen: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerscope"));
    cmd.args(["serve", "--listen", listen, "--log-dir"])
        .arg(dir)
        .args(extra)
        .env_remove("PEERSCOPE_TOKEN")
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    start_serve(cmd)
}

/// Runs `peerscope ARGS` from the repository root, without a token in the environment,
/// keeping recording indexes under cargo's scratch directory for tests rather than in
/// the user's cache.
pub fn peerscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove("PEERSCOPE_TOKEN")
        .env(
            "XDG_CACHE_HOME",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("cache"),
        )
        .output()
        .expect("run peerscope")
}

/// Simulates the event at 0.01 of its audience from `from` to `to` (`YYYY-MM-DD HH:MM`)
/// into a new temporary directory; the run must succeed.
pub fn simulate(seed: u64, from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = seed.to_string();
    let out = peerscope(&[
        "simulate",
        "--seed",
        &seed,
        "--scale",
        "0.01",
        "--from",
        from,
        "--to",
        to,
        "--out",
        dir.path().to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// `peerscope ARGS --snapshot overview --size 120x30`: the Overview as text; the run
/// must succeed.
pub fn overview(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--snapshot", "overview", "--size", "120x30"]);
    let out = peerscope(&all);
    assert!(
        out.status.success(),
        "peerscope {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Spawns a prepared `serve` command (stderr piped) and waits for the address it reports.
pub fn start_serve(cmd: Command) -> (Child, String) {
    let (child, addr, _) = start_serve_logged(cmd);
    (child, addr)
}

/// What a server printed on stderr, kept as it goes on.
pub type ServeLog = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// As [`start_serve`], also keeping every line the server prints (start-up recovery's
/// included). A server that does not report its address within 20 s is killed and the
/// test fails: a hang at start-up is a failure, not a stuck test.
pub fn start_serve_logged(mut cmd: Command) -> (Child, String, ServeLog) {
    let mut child = cmd.stderr(Stdio::piped()).spawn().expect("start serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let log = ServeLog::default();
    let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pid = child.id();
    {
        let started = std::sync::Arc::clone(&started);
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(20));
            if !started.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        });
    }
    // Start-up recovery may report first; the address line follows.
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .inspect(|l| log.lock().expect("log").push(l.clone()))
        .find(|l| l.contains("listening on "))
        .expect("the server reports its address within 20 s");
    started.store(true, std::sync::atomic::Ordering::SeqCst);
    // Keep draining stderr so the server never blocks on it.
    let keep = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            keep.lock().expect("log").push(l);
        }
    });
    let addr = first
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("an address")
        .to_owned();
    (child, addr, log)
}

/// The `serve` command `spawn_serve` runs, to be adjusted before it starts.
pub fn serve_command(dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerscope"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--log-dir"])
        .arg(dir)
        .args(extra)
        .env_remove("PEERSCOPE_TOKEN")
        .stdout(Stdio::null());
    cmd
}

/// The peak resident size of a running process, in MB (`VmHWM`).
pub fn peak_rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// The value of the metric line starting with `line_start` (name and labels) in a
/// server's `/metrics`.
pub fn metric(addr: &str, line_start: &str) -> u64 {
    let text = reqwest::blocking::get(format!("http://{addr}/metrics"))
        .expect("metrics")
        .text()
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
}

/// Every minute file of the feedback stream with its records' (peer, seq), in file
/// order, asserting that each line parses and each closed minute is valid gzip.
fn walk(dir: &Path) -> Vec<(std::path::PathBuf, Vec<(String, u64)>)> {
    let rec = peerscope::recording::scan::Recording::scan(dir).expect("scan");
    let mut out = Vec::new();
    for g in &rec.feedback {
        for f in g
            .files
            .iter()
            .filter(|f| f.stream == peerscope::recording::layout::Stream::Feedback)
        {
            let text = peerscope::recording::decode::read_minute_file(f);
            assert!(
                text.damage.is_none(),
                "{}: {:?}",
                f.path.display(),
                text.damage
            );
            let records = peerscope::recording::decode::lines(&text.bytes)
                .map(|(n, line)| {
                    let r = peerscope::engine::record::parse_feedback(
                        line,
                        peerscope::engine::record::Origin::Log,
                    )
                    .unwrap_or_else(|e| panic!("{}:{n}: {e}", f.path.display()));
                    (r.peer.into_owned(), r.payload.seq)
                })
                .collect();
            out.push((f.path.clone(), records));
        }
    }
    out
}

/// Every logged (peer, seq) of a log directory.
pub fn logged(dir: &Path) -> Vec<(String, u64)> {
    walk(dir)
        .into_iter()
        .flat_map(|(_, records)| records)
        .collect()
}

/// Every minute file of the feedback stream with the `seq`s it holds, in file order.
pub fn minutes(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u64>)> {
    walk(dir)
        .into_iter()
        .map(|(path, records)| (path, records.into_iter().map(|(_, seq)| seq).collect()))
        .collect()
}

/// Checks a simulator run through the coordinator: every pair listed in `acked_path`
/// ("peer seq" lines) is in the union of the logs, and copies beyond the first are no
/// more than the retries the simulator reported (`report`, its summary line) can
/// explain with `batch` records each. Returns how many were acknowledged.
pub fn check_acked_in_union(acked_path: &Path, logs: &[&Path], report: &str, batch: u64) -> usize {
    let acked: Vec<(String, u64)> = std::fs::read_to_string(acked_path)
        .expect("acked")
        .lines()
        .map(|l| {
            let (p, s) = l.split_once(' ').expect("peer seq");
            (p.to_owned(), s.parse().expect("seq"))
        })
        .collect();
    let union: Vec<(String, u64)> = logs.iter().flat_map(|d| logged(d)).collect();
    let distinct: std::collections::HashSet<&(String, u64)> = union.iter().collect();
    let lost: Vec<_> = acked
        .iter()
        .filter(|k| !distinct.contains(k))
        .take(5)
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged but in no log: {lost:?}\n{report}"
    );
    // "… failed after retries, N retries; latency …"
    let retries: u64 = report
        .split(" retries;")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no retry count in {report}"));
    let duplicates = (union.len() - distinct.len()) as u64;
    assert!(
        duplicates <= retries * batch,
        "{duplicates} duplicates but {retries} retried requests of {batch}: {report}"
    );
    acked.len()
}

/// POSTs `body` (feedback lines) to the server at `addr`, which must store it (204).
pub fn post_feedback(c: &reqwest::blocking::Client, addr: &str, body: String) {
    let status = c
        .post(format!("http://{addr}/v1/feedback"))
        .body(body)
        .send()
        .expect("post")
        .status();
    assert_eq!(status.as_u16(), 204);
}

/// A feedback report of `peer` with sequence number `seq`.
pub fn feedback_record(peer: &str, seq: u64) -> String {
    format!(
        r#"{{"v":1,"peer":"{peer}","session":"s","seq":{seq},"ts":1,"event":"report","channel":"main","period_s":30,"up_kbps":800,"down_kbps":900,"server_kbps":100,"bitrate_kbps":420,"play_s":30,"stall_s":0,"startup_ms":null,"buffer_s":12,"partners":9,"nat":"cone","player":"x","os":"y","rtt_ms":33}}"#
    )
}

/// The same report as a feedback server logs it, received at `recv` (ms).
pub fn logged_record(peer: &str, seq: u64, recv: i64) -> String {
    let r = feedback_record(peer, seq);
    format!(
        "{},\"ip\":\"192.0.2.1\",\"recv\":{recv},\"srv\":\"fs1\"}}",
        &r[..r.len() - 1]
    )
}

/// Fails the test, with how to get it, when what an ignored end-to-end test needs (root,
/// a mount, a Debian package) is not there: such tests are `#[ignore]`d, so they run only
/// when asked for (`cargo test -- --ignored`, as `.ci/run` does) and then must not pass
/// without running.
pub fn require(available: bool, what: &str) {
    assert!(
        available,
        "this test needs {what}: install it (.ci/run installs everything) or leave out --ignored"
    );
}

/// Whether the tests run as root (nginx then needs `user root;` to read the test's files).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

/// Stops a server with SIGTERM (a clean shutdown) and waits for it.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
