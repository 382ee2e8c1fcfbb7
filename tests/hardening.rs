//! Issue 13, the hardening round, as real processes on 127.0.0.1: links and odd files in
//! a log tree, memory bounds against floods and hostile servers, query values, tokens,
//! protocol points, damage shown in the TUI. Each test is named after the item it
//! guards; each failed on the code before the fix.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::hostile::{self, head};
use common::{
    feedback_record, logged_record, metric, peak_rss_mb, peerscope, serve_command,
    start_serve_logged, terminate,
};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A client that opens a new connection for every request, so `/metrics` sees only its own.
fn fresh_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

/// The minute file name `serve` writes now, and its day directory name (UTC).
fn current_minute() -> (String, String) {
    let now = chrono::Utc::now();
    (
        now.format("%Y%m%d").to_string(),
        now.format("%Y%m%d-%H%M.jsonl").to_string(),
    )
}

#[test]
fn issue13_1_serve_never_truncates_or_writes_through_a_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("write");
    let logs = dir.path().join("logs");
    // A closed minute that is a link (start-up repair would truncate and compress it),
    // and a link named as the current minute (the writer would append through it).
    let old_day = logs.join("feedback/20120807");
    std::fs::create_dir_all(&old_day).expect("mkdir");
    symlink(&victim, old_day.join("20120807-0130.jsonl")).expect("link");
    let (day, minute) = current_minute();
    std::fs::create_dir_all(logs.join("feedback").join(&day)).expect("mkdir");
    symlink(&victim, logs.join("feedback").join(&day).join(&minute)).expect("link");
    let (mut child, addr, log) = start_serve_logged(serve_command(&logs, &[]));
    let status = fresh_client()
        .post(format!("http://{addr}/v1/feedback"))
        .body(feedback_record("p", 1))
        .send()
        .expect("post")
        .status()
        .as_u16();
    // Refused while the link stands where this minute goes (204 only if the minute
    // turned in between).
    assert!(
        status == 503 || (status == 204 && current_minute().1 != minute),
        "{status}"
    );
    assert!(metric(&addr, "peerscope_odd_files_total ") >= 1);
    terminate(&mut child);
    assert_eq!(std::fs::read(&victim).expect("read"), b"precious\n");
    assert_eq!(
        std::fs::read_dir(outside.path()).expect("list").count(),
        1,
        "nothing was created beside the victim"
    );
    let log = log.lock().expect("log").join("\n");
    assert!(
        log.contains("20120807-0130.jsonl: a symbolic link"),
        "start-up names the link it left alone:\n{log}"
    );
}

#[test]
fn issue13_2_tail_listing_and_download_never_read_through_a_linked_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        outside.path().join("20120807-0130.jsonl"),
        "{\"secret\":\"outside\"}\n",
    )
    .expect("write");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("feedback")).expect("mkdir");
    symlink(outside.path(), logs.join("feedback/20120807")).expect("link");
    let (mut child, addr, _) = start_serve_logged(serve_command(&logs, &[]));
    let c = fresh_client();
    let get = |path: &str| c.get(format!("http://{addr}{path}")).send().expect("get");
    let tail = get("/v1/tail?stream=feedback&cursor=20120807-0000:0");
    assert_eq!(tail.status().as_u16(), 200);
    assert!(!tail.text().expect("text").contains("secret"));
    let listing = get("/v1/logs?stream=feedback").text().expect("text");
    assert!(!listing.contains("20120807-0130"), "{listing}");
    assert_eq!(
        get("/v1/logs/feedback/20120807-0130.jsonl")
            .status()
            .as_u16(),
        404
    );
    assert!(metric(&addr, "peerscope_odd_files_total ") >= 1);
    terminate(&mut child);
}

/// `n` lines that are not records, gzipped when `gzip`.
fn invalid_lines(n: usize, gzip: bool) -> Vec<u8> {
    let plain = "x\n".repeat(n).into_bytes();
    if !gzip {
        return plain;
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&plain).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn issue13_3_a_flood_of_invalid_lines_costs_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr, _) = start_serve_logged(serve_command(dir.path(), &[]));
    let c = fresh_client();
    // 4 M one-byte lines in about 8 KB of gzip (the decoded limit is 8 MiB).
    let bomb = invalid_lines(4 << 20, true);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    for (body, gzip, lines) in [
        (bomb, true, 4u64 << 20),
        (invalid_lines(512 << 10, false), false, 512 << 10),
    ] {
        let mut req = c.post(format!("http://{addr}/v1/feedback")).body(body);
        if gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        let r = req.send().expect("post");
        assert_eq!(r.status().as_u16(), 200);
        let v: serde_json::Value = r.json().expect("json");
        assert_eq!(v["accepted"], 0);
        assert_eq!(v["rejected_total"], lines);
        assert_eq!(v["rejected"].as_array().map(Vec::len), Some(100));
    }
    let peak = peak_rss_mb(child.id());
    assert!(peak < 150, "serve peaked at {peak} MB");
    assert_eq!(
        metric(
            &addr,
            "peerscope_records_rejected_total{stream=\"feedback\",reason=\"invalid_json\"} "
        ),
        (4 << 20) + (512 << 10)
    );
    terminate(&mut child);
}

/// Runs `watch --snapshot overview` against `url` under a virtual memory ceiling.
fn watch_snapshot_within(url: &str, ceiling_kb: u64) -> Output {
    Command::new("bash")
        .args([
            "-c",
            &format!(r#"ulimit -v {ceiling_kb}; exec "$0" "$@""#),
            env!("CARGO_BIN_EXE_peerscope"),
            "watch",
            "--server",
            url,
            "--snapshot",
            "overview",
            "--size",
            "160x48",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PEERSCOPE_TOKEN")
        .env("MALLOC_ARENA_MAX", "2")
        .stdin(Stdio::null())
        .output()
        .expect("run watch")
}

#[test]
fn issue13_4_watch_memory_is_bounded_against_a_hostile_server() {
    // An endless body (2 GB would do), and one line of 100 MB.
    let endless = hostile::start(Arc::new(|_line, stream: &mut TcpStream| {
        head(
            stream,
            "200 OK",
            &[("x-peerscope-cursor", "20120807-0130:0".into())],
        );
        let block = vec![b'x'; 64 << 10];
        for _ in 0..(2 << 30) / block.len() {
            if stream.write_all(&block).is_err() {
                return;
            }
        }
    }));
    let long_line = hostile::start(Arc::new(|_line, stream: &mut TcpStream| {
        let n = 100 << 20;
        head(
            stream,
            "200 OK",
            &[
                ("x-peerscope-cursor", "20120807-0130:0".into()),
                ("content-length", (n + 1).to_string()),
            ],
        );
        let block = vec![b'y'; 1 << 20];
        for _ in 0..100 {
            if stream.write_all(&block).is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"\n");
    }));
    for server in [&endless, &long_line] {
        let out = watch_snapshot_within(&server.url(), 1 << 20);
        let screen = text(&out);
        assert!(out.status.success(), "{screen}");
        assert!(
            screen.contains("down") && screen.contains("answer"),
            "the source is marked down with the reason:\n{screen}"
        );
    }
}

/// A minute file of about `mb` megabytes of small records.
fn big_minute(path: &Path, mb: usize) {
    let line = feedback_record("big", 1) + "\n";
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for _ in 0..(mb << 20) / line.len() {
        f.write_all(line.as_bytes()).expect("write");
    }
    f.flush().expect("flush");
}

#[test]
fn issue13_5_tail_reads_only_what_it_sends_and_every_request_takes_a_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (day, minute) = current_minute();
    let day_dir = dir.path().join("feedback").join(&day);
    std::fs::create_dir_all(&day_dir).expect("mkdir");
    big_minute(&day_dir.join(&minute), 100);
    let (mut child, addr, _) =
        start_serve_logged(serve_command(dir.path(), &["--max-tail-waiters", "8"]));
    let stem = minute.trim_end_matches(".jsonl").to_owned();
    let before = peak_rss_mb(child.id());
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let url = format!("http://{addr}/v1/tail?stream=feedback&cursor={stem}:0&wait=0");
            std::thread::spawn(move || {
                let r = fresh_client().get(url).send().expect("tail");
                (r.status().as_u16(), r.bytes().expect("body").len())
            })
        })
        .collect();
    for r in readers {
        let (status, len) = r.join().expect("reader");
        // A slot may be busy for a moment: 503 is an answer too, never a whole minute.
        assert!(status == 200 || status == 503, "{status}");
        if status == 200 {
            assert!(len <= 1 << 20 && len > 0, "{len}");
        }
    }
    let grew = peak_rss_mb(child.id()).saturating_sub(before);
    assert!(grew < 60, "eight tails of a 100 MB minute took {grew} MB");
    terminate(&mut child);

    // wait=0 requests count against the cap too: two long-polls park on an empty
    // server, and a quick read is the third.
    let empty = tempfile::tempdir().expect("tempdir");
    let (mut child, addr, _) =
        start_serve_logged(serve_command(empty.path(), &["--max-tail-waiters", "2"]));
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let url = format!("http://{addr}/v1/tail?stream=feedback&wait=3");
            std::thread::spawn(move || fresh_client().get(url).send().expect("wait").status())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let quick = fresh_client()
        .get(format!("http://{addr}/v1/tail?stream=feedback&wait=0"))
        .send()
        .expect("tail");
    assert_eq!(quick.status().as_u16(), 503, "a wait=0 read over the cap");
    for w in waiters {
        assert_eq!(w.join().expect("waiter").as_u16(), 200);
    }
    terminate(&mut child);
}

#[test]
fn issue13_6_bad_query_values_get_400_and_the_gauge_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr, _) = start_serve_logged(serve_command(dir.path(), &[]));
    let c = fresh_client();
    assert_eq!(
        c.post(format!("http://{addr}/v1/feedback"))
            .body(format!(
                "{}\n{}\n",
                feedback_record("q", 1),
                feedback_record("q", 2)
            ))
            .send()
            .expect("post")
            .status()
            .as_u16(),
        204
    );
    let (_, minute) = current_minute();
    let stem = minute.trim_end_matches(".jsonl");
    for query in [
        "wait=NaN".to_owned(),
        "wait=inf".into(),
        "wait=-1".into(),
        "wait=soon".into(),
        "since=garbage".into(),
        format!("cursor={stem}:3"),
        "cursor=20990101-0000:0&wait=30".into(),
        "cursor=nonsense".into(),
    ] {
        let path = if query.starts_with("since") {
            format!("/v1/logs?stream=feedback&{query}")
        } else {
            format!("/v1/tail?stream=feedback&{query}")
        };
        let r = c
            .get(format!("http://{addr}{path}"))
            .send()
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(r.status().as_u16(), 400, "{query}");
    }
    // Every connection above is closed; only the one asking is open.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(metric(&addr, "peerscope_connections_open "), 1);
    terminate(&mut child);
}

#[test]
fn issue13_8_odd_files_are_skipped_named_and_never_hang_a_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let day = logs.join("feedback/20120807");
    std::fs::create_dir_all(&day).expect("mkdir");
    std::fs::write(
        day.join("20120807-0129.jsonl.gz"),
        gz(&(logged_record("ok", 1, 1_344_302_940_000) + "\n")),
    )
    .expect("write");
    mkfifo(&day.join("20120807-0130.jsonl"));
    std::fs::create_dir(day.join("20120807-0131.jsonl")).expect("mkdir");
    std::fs::write(
        day.join("20120807-0132.jsonl"),
        logged_record("ok", 2, 1_344_303_120_000) + "\n",
    )
    .expect("write");
    std::fs::create_dir(day.join("20120807-0132.jsonl.gz")).expect("mkdir");
    symlink("/dev/zero", day.join("20120807-0133.jsonl")).expect("link");

    // serve starts (a FIFO once made it hang before it listened) and names each path.
    let (mut child, addr, log) = start_serve_logged(serve_command(&logs, &[]));
    assert!(metric(&addr, "peerscope_odd_files_total ") >= 4);
    terminate(&mut child);
    let log = log.lock().expect("log").join("\n");
    for (name, what) in [
        ("20120807-0130.jsonl", "a FIFO"),
        ("20120807-0131.jsonl", "a directory"),
        ("20120807-0132.jsonl.gz", "a directory"),
        ("20120807-0133.jsonl", "a symbolic link"),
    ] {
        assert!(
            log.contains(&format!("{name}: {what}")),
            "{name} is named as {what}:\n{log}"
        );
    }

    // report and replay read the rest, and name what they skipped.
    let root = logs.to_string_lossy().into_owned();
    let out = peerscope(&["report", &root, "--by", "minute", "--format", "csv"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("20120807-0130.jsonl: a FIFO"), "{all}");
    assert!(
        all.contains("20120807-0133.jsonl: a symbolic link"),
        "{all}"
    );
    let out = peerscope(&[
        "replay",
        &root,
        "--snapshot",
        "overview",
        "--size",
        "160x48",
    ]);
    let screen = text(&out);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("damaged file"), "{screen}");
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn issue13_8_a_huge_line_is_skipped_without_holding_it() {
    // Plain, and gzipped: a gzip minute over the size inflated whole is streamed.
    for gzip in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let day = dir.path().join("fs1/feedback/20120807");
        std::fs::create_dir_all(&day).expect("mkdir");
        let recv = 1_344_303_000_000 + 5_000;
        let mut body = Vec::with_capacity(401 << 20);
        body.extend_from_slice((logged_record("a", 1, recv) + "\n").as_bytes());
        body.extend_from_slice(b"{\"x\":\"");
        body.resize(body.len() + (400 << 20), b'x');
        body.extend_from_slice(b"\"}\n");
        body.extend_from_slice((logged_record("b", 1, recv) + "\n").as_bytes());
        if gzip {
            let f = std::fs::File::create(day.join("20120807-0130.jsonl.gz")).expect("create");
            let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            e.write_all(&body).expect("write");
            e.finish().expect("finish");
        } else {
            std::fs::write(day.join("20120807-0130.jsonl"), &body).expect("write");
        }
        drop(body);
        let out = Command::new("bash")
            .args([
                "-c",
                r#"ulimit -v 1048576; exec "$0" "$@""#,
                env!("CARGO_BIN_EXE_peerscope"),
                "report",
            ])
            .arg(dir.path())
            .args(["--by", "day", "--format", "json"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("MALLOC_ARENA_MAX", "2")
            .output()
            .expect("report");
        let all = text(&out);
        assert!(out.status.success(), "gzip {gzip}: {all}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(
            json["skipped"]["by_reason"]["too_long"], 1,
            "gzip {gzip}: {all}"
        );
        assert_eq!(json["rows"][0]["total_users"], 2, "gzip {gzip}: {all}");
    }
}

#[test]
fn issue13_9_replay_shows_a_damaged_minute_apart_from_skipped_lines() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/olympics-2012-sample");
    let dir = tempfile::tempdir().expect("tempdir");
    // Twenty minutes of the sample's first server, one of them garbage.
    for stream in ["feedback", "probes"] {
        let from = sample.join("fs1").join(stream).join("20120807");
        let to = dir.path().join("fs1").join(stream).join("20120807");
        std::fs::create_dir_all(&to).expect("mkdir");
        for m in 20..40 {
            let name = format!("20120807-01{m:02}.jsonl.gz");
            if from.join(&name).exists() {
                std::fs::copy(from.join(&name), to.join(&name)).expect("copy");
            }
        }
    }
    let garbage = dir
        .path()
        .join("fs1/feedback/20120807/20120807-0131.jsonl.gz");
    std::fs::write(&garbage, vec![0x5a; 3000]).expect("damage");
    let root = dir.path().to_string_lossy().into_owned();
    let out = peerscope(&[
        "replay",
        &root,
        "--snapshot",
        "overview",
        "--size",
        "160x48",
        "--at",
        "2012-08-07 09:38",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let screen = String::from_utf8_lossy(&out.stdout);
    let status = screen.lines().last().expect("status bar");
    assert!(status.contains("1 damaged file"), "{status}");
    assert!(
        screen.contains("✗ 08-07 09:31 fs1/feedback: damaged gzip"),
        "the Overview lists the minute:\n{screen}"
    );
}

#[test]
fn issue13_10_watch_backs_off_410_and_follows_no_redirect() {
    use peerscope::recording::layout::Stream;
    use peerscope::source::follow::{Origin, spawn};
    use peerscope::source::health::SourceEvent;

    let gone = hostile::start(Arc::new(|_line, stream: &mut TcpStream| {
        head(
            stream,
            "410 Gone",
            &[
                ("x-peerscope-cursor", "20120807-0130:0".into()),
                ("content-length", "0".into()),
            ],
        );
    }));
    let elsewhere = hostile::start(Arc::new(|_line, stream: &mut TcpStream| {
        head(stream, "204 No Content", &[]);
    }));
    let target = format!("{}/v1/tail", elsewhere.url());
    let redirecting = hostile::start(Arc::new(move |_line, stream: &mut TcpStream| {
        head(
            stream,
            "302 Found",
            &[("location", target.clone()), ("content-length", "0".into())],
        );
    }));
    let (tx, rx) = std::sync::mpsc::sync_channel(1024);
    for (i, server) in [&gone, &redirecting].into_iter().enumerate() {
        spawn(
            Origin::Server {
                url: server.url(),
                token: None,
            },
            Stream::Feedback,
            i,
            0,
            tx.clone(),
        );
    }
    std::thread::sleep(Duration::from_secs(5));
    // Back-off from 0.5 s doubling: a handful of requests, not hundreds.
    assert!(gone.requests() <= 8, "{} requests in 5 s", gone.requests());
    assert_eq!(elsewhere.requests(), 0, "a redirect was followed");
    let errors: Vec<String> = rx
        .try_iter()
        .filter_map(|e| match e {
            SourceEvent::State { error, .. } => error,
            _ => None,
        })
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("redirected")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("410")), "{errors:?}");
}

fn serve_exit(args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerscope"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--log-dir"])
        .arg(dir.join("logs"))
        .args(args)
        .env_remove("PEERSCOPE_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run serve")
}

#[test]
fn issue13_11_token_edges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = |name: &str, text: &str| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        p
    };
    let one = token_file("one", "s3cret\n");
    let two = token_file("two", "s3cret\nother\n");
    for (args, env, says) in [
        (vec![], vec![("PEERSCOPE_TOKEN", "")], "empty"),
        (
            vec!["--token-file", one.to_str().expect("utf8")],
            vec![("PEERSCOPE_TOKEN", "s3cret")],
            "give one",
        ),
        (
            vec!["--token-file", two.to_str().expect("utf8")],
            vec![],
            "2 lines",
        ),
        (
            vec![],
            vec![("PEERSCOPE_TOKEN", "two words")],
            "bearer token",
        ),
    ] {
        let out = serve_exit(&args, &env, dir.path());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} {env:?}: {}",
            text(&out)
        );
        assert!(text(&out).contains(says), "{}", text(&out));
    }

    let mut cmd = serve_command(&dir.path().join("logs"), &[]);
    cmd.env("PEERSCOPE_TOKEN", "s3cret");
    let (mut child, addr, _) = start_serve_logged(cmd);
    let c = fresh_client();
    let r = c.get(format!("http://{addr}/v1/logs")).send().expect("get");
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .expect("header")
            .starts_with("Bearer"),
    );
    let r = c
        .get(format!("http://{addr}/metrics"))
        .header("Authorization", "bearer s3cret")
        .send()
        .expect("get");
    assert_eq!(r.status().as_u16(), 200, "the scheme is case-insensitive");
    terminate(&mut child);

    let (mut child, _, log) = start_serve_logged(serve_command(&dir.path().join("open"), &[]));
    terminate(&mut child);
    let log = log.lock().expect("log").join("\n");
    assert!(log.contains("read endpoints are open"), "{log}");
}

/// Sends raw bytes on a new connection and returns what comes back until it closes or
/// `limit` passes.
fn raw(addr: &str, request: &[u8], limit: Duration) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(limit)).expect("timeout");
    s.write_all(request).expect("send");
    let mut answer = Vec::new();
    let mut block = [0u8; 4096];
    while let Ok(n) = s.read(&mut block) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&block[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            // The head is in; a short error body follows at once.
            std::thread::sleep(Duration::from_millis(100));
            s.set_nonblocking(true).expect("nonblocking");
            while let Ok(n) = s.read(&mut block) {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&block[..n]);
            }
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn issue13_12_protocol_points() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (flag, value) in [("--body-timeout-s", "0"), ("--max-record", "0")] {
        let out = serve_exit(&[flag, value], &[], dir.path());
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(text(&out).contains(flag), "{}", text(&out));
    }
    let (mut child, addr, _) = start_serve_logged(serve_command(&dir.path().join("logs"), &[]));
    let limit = Duration::from_secs(10);
    let bad_chunk = raw(
        &addr,
        b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        limit,
    );
    assert!(bad_chunk.starts_with("HTTP/1.1 400"), "{bad_chunk}");
    let declared = raw(
        &addr,
        b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n",
        limit,
    );
    assert!(declared.starts_with("HTTP/1.1 413"), "at once: {declared}");
    let huge = "x".repeat(17_000);
    let echoed = raw(
        &addr,
        format!(
            "POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Encoding: {huge}\r\nContent-Length: 2\r\n\r\n{{}}"
        )
        .as_bytes(),
        limit,
    );
    assert!(
        echoed.starts_with("HTTP/1.1 415"),
        "{}",
        &echoed[..80.min(echoed.len())]
    );
    assert!(
        echoed.len() < 600,
        "the error echoes {} bytes",
        echoed.len()
    );

    let c = fresh_client();
    assert_eq!(
        c.post(format!("http://{addr}/v1/feedback"))
            .body(feedback_record("r", 1))
            .send()
            .expect("post")
            .status()
            .as_u16(),
        204
    );
    let name = c
        .get(format!("http://{addr}/v1/logs/latest"))
        .send()
        .expect("latest")
        .json::<serde_json::Value>()
        .expect("json")["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let url = format!("http://{addr}/v1/logs/feedback/{name}");
    let whole = c.get(&url).send().expect("get").bytes().expect("bytes");
    for (range, want) in [
        ("bytes=0-0", whole.slice(0..1)),
        ("bytes=-5", whole.slice(whole.len() - 5..)),
        ("bytes=3-7", whole.slice(3..8)),
    ] {
        let r = c.get(&url).header("Range", range).send().expect("range");
        assert_eq!(r.status().as_u16(), 206, "{range}");
        assert_eq!(r.bytes().expect("bytes"), want, "{range}");
    }
    assert!(
        metric(
            &addr,
            "peerscope_bodies_refused_total{reason=\"bad_body\"} "
        ) >= 1,
        "a bad chunk is counted as a bad body, not as too large"
    );
    terminate(&mut child);
}

/// The hostile cases above, together, against a `serve` under a 512 MiB address-space
/// ceiling: it stays alive and answers.
#[test]
fn issue13_memory_ceiling_serve_survives_the_hostile_cases_and_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (day, minute) = current_minute();
    let day_dir = dir.path().join("feedback").join(&day);
    std::fs::create_dir_all(&day_dir).expect("mkdir");
    big_minute(&day_dir.join(&minute), 100);
    let stem = minute.trim_end_matches(".jsonl").to_owned();
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        r#"ulimit -v 524288; exec "$0" "$@""#,
        env!("CARGO_BIN_EXE_peerscope"),
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--log-dir",
    ])
    .arg(dir.path())
    .env_remove("PEERSCOPE_TOKEN")
    .env("MALLOC_ARENA_MAX", "2")
    .stdout(Stdio::null());
    let (mut child, addr, _) = start_serve_logged(cmd);
    let bomb = Arc::new(invalid_lines(4 << 20, true));
    let mut load = Vec::new();
    for _ in 0..3 {
        let (addr, bomb) = (addr.clone(), Arc::clone(&bomb));
        load.push(std::thread::spawn(move || {
            fresh_client()
                .post(format!("http://{addr}/v1/feedback"))
                .header("Content-Encoding", "gzip")
                .body(bomb.to_vec())
                .send()
                .map_or(0, |r| r.status().as_u16())
        }));
    }
    for query in [
        format!("cursor={stem}:0&wait=0"),
        format!("cursor={stem}:0&wait=0"),
        format!("cursor={stem}:0&wait=0"),
        format!("cursor={stem}:0&wait=0"),
        "wait=NaN".to_owned(),
        "wait=inf".to_owned(),
    ] {
        let addr = addr.clone();
        load.push(std::thread::spawn(move || {
            fresh_client()
                .get(format!("http://{addr}/v1/tail?stream=feedback&{query}"))
                .send()
                .map_or(0, |r| r.status().as_u16())
        }));
    }
    let statuses: Vec<u16> = load
        .into_iter()
        .map(|t| t.join().expect("client"))
        .collect();
    assert!(
        statuses.iter().all(|s| [200, 400, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(child.try_wait().expect("wait").is_none(), "serve died");
    let health = fresh_client()
        .get(format!("http://{addr}/healthz"))
        .send()
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(
        fresh_client()
            .post(format!("http://{addr}/v1/feedback"))
            .body(feedback_record("after", 1))
            .send()
            .expect("post")
            .status()
            .as_u16(),
        204
    );
    terminate(&mut child);
}
