//! `peerscope serve` as a real process on 127.0.0.1: ingest, read endpoints, hostile
//! input, auth, tail freshness, graceful shutdown and `kill -9` under load.

// s (server), c (client), r (response): the scenario reads better with short names.
#![allow(clippy::many_single_char_names)]

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

mod common;
use common::logged;

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_on(dir, "127.0.0.1:0", extra, env)
    }

    fn start_on(dir: &Path, listen: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut args = vec!["--name", "fsT"];
        args.extend_from_slice(extra);
        let (child, addr) = common::spawn_serve(dir, listen, &args, env);
        Server { child, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn record(peer: &str, seq: u64) -> String {
    format!(
        r#"{{"v":1,"peer":"{peer}","session":"s-{peer}","seq":{seq},"ts":1,"event":"report","channel":"main","period_s":30,"up_kbps":800,"down_kbps":900,"server_kbps":100,"bitrate_kbps":420,"play_s":30,"stall_s":0,"startup_ms":null,"buffer_s":12,"partners":9,"nat":"cone","player":"x","os":"y","rtt_ms":33}}"#
    )
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

fn no_temps(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("list").flatten() {
            let p = e.path();
            assert!(
                !p.to_string_lossy().ends_with(".tmp"),
                "left behind: {}",
                p.display()
            );
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
}

#[test]
fn ingest_list_download_and_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &[], &[]);
    let c = client();
    let body = format!("{}\n{}\n", record("a", 1), record("a", 2));
    let r = c
        .post(s.url("/v1/feedback"))
        .body(body)
        .send()
        .expect("post");
    assert_eq!(r.status(), 204);
    let arr = format!("[{},{}]", record("b", 1), record("b", 2));
    assert_eq!(
        c.post(s.url("/v1/feedback"))
            .body(arr)
            .send()
            .expect("post")
            .status(),
        204
    );

    let list: serde_json::Value = c
        .get(s.url("/v1/logs?stream=feedback"))
        .send()
        .expect("list")
        .json()
        .expect("json");
    let name = list[0]["name"].as_str().expect("a file").to_owned();
    assert_eq!(list[0]["closed"], false);
    let latest: serde_json::Value = c
        .get(s.url("/v1/logs/latest?stream=feedback"))
        .send()
        .expect("latest")
        .json()
        .expect("json");
    assert_eq!(latest["name"], name.as_str());

    let whole = c
        .get(s.url(&format!("/v1/logs/feedback/{name}")))
        .send()
        .expect("get")
        .bytes()
        .expect("bytes");
    assert_eq!(String::from_utf8_lossy(&whole).lines().count(), 4);
    let part = c
        .get(s.url(&format!("/v1/logs/feedback/{name}")))
        .header("Range", "bytes=10-")
        .send()
        .expect("range");
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().expect("bytes"), whole.slice(10..));
    let past = c
        .get(s.url(&format!("/v1/logs/feedback/{name}")))
        .header("Range", "bytes=999999-")
        .send()
        .expect("range");
    assert_eq!(past.status(), 416);

    // Every record carries the server's stamp.
    let first_minute = name.trim_end_matches(".jsonl");
    let t = c
        .get(s.url(&format!("/v1/tail?stream=feedback&cursor={first_minute}:0")))
        .send()
        .expect("tail");
    let cursor = t.headers()["x-peerscope-cursor"]
        .to_str()
        .expect("cursor")
        .to_owned();
    let text = t.text().expect("text");
    assert_eq!(text.lines().count(), 4);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        assert_eq!(
            (v["srv"].as_str(), v["ip"].as_str()),
            (Some("fsT"), Some("127.0.0.1"))
        );
        assert!(v["recv"].as_i64().is_some());
    }

    // Freshness: a waiting tail returns as soon as a record arrives.
    let waiting = {
        let url = s.url(&format!("/v1/tail?stream=feedback&cursor={cursor}&wait=10"));
        std::thread::spawn(move || {
            let started = Instant::now();
            let text = client()
                .get(url)
                .send()
                .expect("tail")
                .text()
                .expect("text");
            (text, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        c.post(s.url("/v1/feedback"))
            .body(record("c", 1))
            .send()
            .expect("post")
            .status(),
        204
    );
    let (text, waited) = waiting.join().expect("tail thread");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("\"peer\":\"c\""));
    assert!(waited < Duration::from_secs(5), "{waited:?}");

    let gone = c
        .get(s.url("/v1/tail?stream=feedback&cursor=20000101-0000:0"))
        .send()
        .expect("tail");
    assert_eq!(gone.status(), 410);
    assert!(gone.headers().contains_key("x-peerscope-cursor"));
}

#[test]
fn hostile_input_gets_its_status_and_a_counter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(
        dir.path(),
        &["--max-body", "65536", "--max-decoded", "1048576"],
        &[],
    );
    let c = client();
    let post = |body: Vec<u8>, gzip: bool| {
        let mut r = c.post(s.url("/v1/feedback")).body(body);
        if gzip {
            r = r.header("Content-Encoding", "gzip");
        }
        r.send().expect("post")
    };
    assert_eq!(post(b"{\"v\":1,".to_vec(), false).status(), 400);
    assert_eq!(post(Vec::new(), false).status(), 400);
    assert_eq!(post(vec![b' '; 70_000], false).status(), 413);
    let wrong = record("d", 1).replace("\"seq\":1", "\"seq\":\"1\"");
    let r = post(wrong.into_bytes(), false);
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().expect("json");
    assert_eq!(v["accepted"], 0);
    assert!(
        v["rejected"][0]["error"]
            .as_str()
            .expect("error")
            .contains("`seq`")
    );
    let missing = record("d", 2).replace("\"channel\":\"main\",", "");
    assert_eq!(post(missing.into_bytes(), false).status(), 200);
    // A gzip bomb: ~1,000:1.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b' '; 8 << 20]).expect("gzip");
    let bomb = enc.finish().expect("gzip");
    assert!(bomb.len() < 65536);
    assert_eq!(post(bomb, true).status(), 413);
    let br = c
        .post(s.url("/v1/feedback"))
        .header("Content-Encoding", "br")
        .body("x")
        .send()
        .expect("post");
    assert_eq!(br.status(), 415);
    let deep = "[".repeat(50_000);
    assert_eq!(post(deep.into_bytes(), false).status(), 400);
    assert_eq!(post(b"\xff\xfe\xfd".to_vec(), false).status(), 400);

    for name in [
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e",
        "..",
        "20120807-0130.jsonl%00",
        "C:%5Cx.jsonl",
        "%2Fetc%2Fpasswd",
    ] {
        let r = c
            .get(s.url(&format!("/v1/logs/feedback/{name}")))
            .send()
            .expect("get");
        assert!(
            r.status() == 404 || r.status() == 400,
            "{name}: {}",
            r.status()
        );
    }
    let r = c
        .get(s.url("/v1/logs?stream=..%2Fetc"))
        .send()
        .expect("get");
    assert_eq!(r.status(), 400);
    // Still alive, and it counted everything.
    let m = c
        .get(s.url("/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    for line in [
        "peerscope_bodies_refused_total{reason=\"unparseable_body\"}",
        "peerscope_bodies_refused_total{reason=\"body_too_large\"}",
        "peerscope_bodies_refused_total{reason=\"inflates_too_large\"}",
        "peerscope_bodies_refused_total{reason=\"unsupported_encoding\"}",
        "peerscope_bodies_refused_total{reason=\"empty_body\"}",
        "peerscope_records_rejected_total{stream=\"feedback\",reason=\"wrong_type\"}",
        "peerscope_records_rejected_total{stream=\"feedback\",reason=\"missing_field\"}",
    ] {
        assert!(m.contains(line), "{line} missing from\n{m}");
    }
    assert!(!m.contains("peerscope_bad_names_total 0"));
}

#[test]
fn read_endpoints_need_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &[], &[("PEERSCOPE_TOKEN", "s3cret")]);
    let c = client();
    assert_eq!(
        c.post(s.url("/v1/feedback"))
            .body(record("e", 1))
            .send()
            .expect("post")
            .status(),
        204
    );
    for path in ["/v1/logs", "/v1/logs/latest", "/v1/tail?wait=0", "/metrics"] {
        assert_eq!(
            c.get(s.url(path)).send().expect("get").status(),
            401,
            "{path} without token"
        );
        let wrong = c
            .get(s.url(path))
            .bearer_auth("s3cres")
            .send()
            .expect("get");
        assert_eq!(wrong.status(), 401, "{path} wrong token");
        let ok = c
            .get(s.url(path))
            .bearer_auth("s3cret")
            .send()
            .expect("get");
        assert_eq!(ok.status(), 200, "{path} with token");
    }
    assert_eq!(c.get(s.url("/healthz")).send().expect("get").status(), 200);
}

#[test]
fn a_world_readable_token_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "t").expect("write");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .args(["serve", "--listen", "127.0.0.1:0", "--token-file"])
        .arg(&token)
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .env_remove("PEERSCOPE_TOKEN")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}

/// A client posting batches in a loop, remembering what was acknowledged.
fn load(addr: &str, stop: &AtomicBool, acked: &Mutex<Vec<(String, u64)>>, peer: &str) {
    let c = Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let batch: Vec<String> = (0..10).map(|i| record(peer, seq + i)).collect();
        match c
            .post(format!("http://{addr}/v1/feedback"))
            .body(batch.join("\n"))
            .send()
        {
            Ok(r) if r.status() == 204 => {
                acked
                    .lock()
                    .expect("acked")
                    .extend((0..10).map(|i| (peer.to_owned(), seq + i)));
                seq += 10;
            }
            // Not acknowledged: retried with the same seq, as a real client would.
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_record() {
    kill_9_under_load(&[]);
}

#[test]
fn kill_9_under_load_in_interval_mode_loses_nothing_written() {
    // Acknowledged after write(2): a process crash loses none of it (only a machine
    // crash can lose up to the interval, which is documented).
    kill_9_under_load(&["--fsync", "interval", "--fsync-interval-ms", "200"]);
}

#[test]
fn an_over_rate_client_gets_429_and_others_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(
        dir.path(),
        &[
            "--rate-limit",
            "2",
            "--rate-burst",
            "5",
            "--trusted-proxy",
            "127.0.0.1",
        ],
        &[],
    );
    let c = client();
    let post = |ip: &str, seq: u64| {
        c.post(s.url("/v1/feedback"))
            .header("X-Real-IP", ip)
            .body(record("g", seq))
            .send()
            .expect("post")
    };
    let statuses: Vec<u16> = (0..20)
        .map(|i| post("192.0.2.7", i).status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&x| x == 204).count(),
        5,
        "{statuses:?}"
    );
    assert!(statuses.contains(&429));
    let r = post("192.0.2.8", 100);
    assert_eq!(r.status(), 204, "another client is unaffected");
    let m = c
        .get(s.url("/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    assert!(
        m.contains("peerscope_bodies_refused_total{reason=\"over_rate\"} 15"),
        "{m}"
    );
}

fn kill_9_under_load(extra: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), extra, &[]);
    // Restarts listen on the same address, so clients keep one URL.
    let addr = server.addr.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (a, s, k) = (addr.clone(), Arc::clone(&stop), Arc::clone(&acked));
            std::thread::spawn(move || load(&a, &s, &k, &format!("peer{i}")))
        })
        .collect();
    let mut rng = 12345u64;
    for _ in 0..6 {
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        std::thread::sleep(Duration::from_millis(150 + (rng >> 33) % 400));
        let listen = server.addr.clone();
        let _ = server.child.kill(); // SIGKILL
        let _ = server.child.wait();
        std::mem::forget(server);
        server = Server::start_on(dir.path(), &listen, extra, &[]);
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    drop(server);
    let acked = acked.lock().expect("acked").clone();
    assert!(acked.len() > 100, "only {} acknowledged", acked.len());
    let stored: HashSet<(String, u64)> = logged(dir.path()).into_iter().collect();
    let missing: Vec<_> = acked
        .iter()
        .filter(|k| !stored.contains(*k))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but lost: {missing:?} of {}",
        acked.len()
    );
}

#[test]
fn sigterm_finishes_in_flight_requests_and_exits_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[], &[]);
    let c = client();
    for i in 0..20 {
        assert_eq!(
            c.post(server.url("/v1/feedback"))
                .body(record("f", i))
                .send()
                .expect("post")
                .status(),
            204
        );
    }
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = server.child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    assert_eq!(logged(dir.path()).len(), 20);
    no_temps(dir.path());
    let _: PathBuf = dir.path().to_path_buf();
}
