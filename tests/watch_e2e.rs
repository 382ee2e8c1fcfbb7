//! `peerscope watch` against real feedback servers on 127.0.0.1: two `serve`, the
//! simulator posting to both, and `watch --snapshot overview` showing the same online
//! peers as the engine computes from the servers' logs (via `replay`). Then one server
//! is killed: the screen keeps rendering and marks that source down, headless and in a
//! live TUI under tmux.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;
use common::{peerscope, require, spawn_serve};

fn simulate_to(addr: &str, seed: &str) {
    let out = peerscope(&[
        "simulate",
        "--target",
        &format!("http://{addr}"),
        "--seed",
        seed,
        "--from",
        "2012-08-07 09:25",
        "--to",
        "2012-08-07 09:28",
        "--scale",
        "0.05",
        "--rate",
        "3000",
        "--batch",
        "5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value in the Overview's `online` tile.
fn online_tile(screen: &str) -> i64 {
    let mut lines = screen.lines();
    lines
        .by_ref()
        .find(|l| l.starts_with("┌online"))
        .unwrap_or_else(|| panic!("no online tile in\n{screen}"));
    let row = lines.next().expect("tile row");
    row.trim_start_matches('│')
        .split_whitespace()
        .next()
        .and_then(|v| v.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no value in {row:?}"))
}

/// A clock for `--at` after every record sent so far: `--at` has whole seconds, so
/// wait past the next second boundary first.
fn now_local() -> String {
    let ms = u64::from(chrono::Utc::now().timestamp_subsec_millis());
    std::thread::sleep(Duration::from_millis(1000 - ms + 50));
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Hong_Kong)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `peerscope watch --snapshot overview` of `servers` at `size`, with `extra` flags.
fn watch_overview(servers: &[&str], size: &str, extra: &[&str]) -> String {
    let mut args = vec!["watch"];
    for s in servers {
        args.extend(["--server", s]);
    }
    args.extend(["--snapshot", "overview", "--size", size]);
    args.extend(extra);
    text(&peerscope(&args))
}

/// `peerscope replay DIR --snapshot overview --size 100x30 --at AT`.
fn replay_overview(dir: &Path, at: &str) -> String {
    let dir = dir.to_string_lossy();
    text(&peerscope(&[
        "replay",
        &dir,
        "--snapshot",
        "overview",
        "--size",
        "100x30",
        "--at",
        at,
    ]))
}

fn text(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs tmux (apt-get install tmux; .ci/run installs it and runs it): cargo test -- --ignored"]
fn watch_shows_what_the_engine_computes_and_survives_a_dead_server() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let logs = tmp.path().join("logs");
    let (mut s1, a1) = spawn_serve(&logs.join("fs1"), "127.0.0.1:0", &["--name", "fs1"], &[]);
    let (mut s2, a2) = spawn_serve(&logs.join("fs2"), "127.0.0.1:0", &["--name", "fs2"], &[]);
    simulate_to(&a1, "1");
    simulate_to(&a2, "2");
    std::thread::sleep(Duration::from_millis(300));
    let at = now_local();
    let (u1, u2) = (format!("http://{a1}"), format!("http://{a2}"));
    let live = watch_overview(&[&u1, &u2], "100x30", &["--at", &at]);
    let recorded = replay_overview(&logs, &at);
    let online = online_tile(&live);
    assert!(online > 100, "too few online peers: {online}\n{live}");
    assert_eq!(
        online,
        online_tile(&recorded),
        "watch:\n{live}\nreplay:\n{recorded}"
    );
    // --record keeps what arrived as a recording that replays to the same figures.
    let kept = tmp.path().join("kept");
    let kept_dir = kept.to_string_lossy();
    watch_overview(&[&u1, &u2], "100x30", &["--record", &kept_dir, "--at", &at]);
    let replayed = replay_overview(&kept, &at);
    assert_eq!(online, online_tile(&replayed), "recorded:\n{replayed}");
    assert!(live.contains(" LIVE "), "{live}");
    assert!(live.contains("│ 2 ok"), "{live}");

    // One server dies: the frame still renders, with that source down.
    let _ = s2.kill();
    let _ = s2.wait();
    let live = watch_overview(&[&u1, &u2], "100x30", &[]);
    assert!(live.contains("1/2 sources down"), "{live}");
    assert!(live.contains(&format!("{u2} down")), "{live}");
    assert!(online_tile(&live) > 0, "{live}");

    tui_keeps_rendering_when_a_server_dies(&u1, &mut s1, tmp.path());
}

/// The interactive screen under tmux: the clock keeps moving and the source is marked
/// down after its server is killed; `q` exits 0.
fn tui_keeps_rendering_when_a_server_dies(url: &str, server: &mut std::process::Child, tmp: &Path) {
    require(
        Command::new("tmux").arg("-V").output().is_ok(),
        "tmux (apt-get install tmux)",
    );
    let socket = format!("peerscope-watch-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .expect("tmux")
    };
    let exit_file = tmp.join("exit");
    let command = format!(
        "cd {} && {} watch --server {url}; echo $? > {}; sleep 30",
        env!("CARGO_MANIFEST_DIR"),
        env!("CARGO_BIN_EXE_peerscope"),
        exit_file.display()
    );
    assert!(
        tmux(&[
            "new-session",
            "-d",
            "-s",
            "w",
            "-x",
            "100",
            "-y",
            "30",
            &command
        ])
        .status
        .success()
    );
    let screen =
        || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "w"]).stdout).into_owned();
    let wait_for = |what: &str, ok: &dyn Fn(&str) -> bool| {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let s = screen();
            if ok(&s) {
                return s;
            }
            assert!(Instant::now() < until, "timed out waiting for {what}:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("the live overview", &|s| {
        s.contains(" LIVE ") && s.contains("1 ok")
    });
    let _ = server.kill();
    let _ = server.wait();
    let first = wait_for("the source marked down", &|s| {
        s.contains("1/1 sources down")
    });
    // Still drawing: the status-bar clock moves on.
    let clock = |s: &str| {
        s.lines()
            .rev()
            .find(|l| l.contains(" LIVE "))
            .unwrap_or("")
            .to_owned()
    };
    let before = clock(&first);
    wait_for("the clock to move", &|s| {
        clock(s) != before && s.contains("sources down")
    });
    assert!(tmux(&["send-keys", "-t", "w", "q"]).status.success());
    let until = Instant::now() + Duration::from_secs(10);
    while !exit_file.exists() {
        assert!(Instant::now() < until, "watch did not exit");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        std::fs::read_to_string(&exit_file).expect("exit").trim(),
        "0"
    );
    let _ = tmux(&["kill-server"]);
}

/// A server reached through a proxy that has no `tail` (404): `watch` falls back to
/// `/v1/logs/latest` + `Range` and shows the same figures as through `tail`.
#[test]
#[ignore = "needs nginx (apt-get install nginx-light; .ci/run installs it and runs it): cargo test -- --ignored"]
fn watch_falls_back_to_polling_when_a_server_has_no_tail() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let logs = tmp.path().join("logs");
    let (mut server, addr) = spawn_serve(&logs.join("fs1"), "127.0.0.1:0", &["--name", "fs1"], &[]);
    simulate_to(&addr, "3");
    // The logs stay in one minute file for the poller: it follows the newest file only.
    let hide_tail = "        location = /v1/tail { return 404; }\n        location /v1/logs { proxy_pass http://peerscope_feedback; }";
    let (_nginx, port) = common::nginx::start(tmp.path(), [&addr, &addr], hide_tail);
    let proxied = format!("http://127.0.0.1:{port}");
    assert_eq!(
        reqwest::blocking::get(format!("{proxied}/v1/tail?stream=feedback"))
            .expect("tail")
            .status()
            .as_u16(),
        404
    );
    let at = now_local();
    let direct_url = format!("http://{addr}");
    let direct = watch_overview(&[&direct_url], "160x48", &["--at", &at]);
    let polled = watch_overview(&[&proxied], "160x48", &["--at", &at]);
    assert!(polled.contains("no tail: polling"), "{polled}");
    assert_eq!(
        online_tile(&polled),
        online_tile(&direct),
        "polled:\n{polled}\ntail:\n{direct}"
    );
    let _ = server.kill();
    let _ = server.wait();
}

/// Probe records reach view 6 in `watch`: a probe agent posts to a server, `watch
/// --snapshot probes` shows its path, and `--record` keeps the probes stream.
#[test]
fn watch_shows_probe_paths_and_records_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut server, addr) = spawn_serve(
        &tmp.path().join("logs"),
        "127.0.0.1:0",
        &["--name", "fs1"],
        &[],
    );
    let destination = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dest = destination.local_addr().expect("addr").to_string();
    std::thread::spawn(move || for _ in destination.incoming() {});
    let url = format!("http://{addr}");
    let out = peerscope(&[
        "probe",
        "--server",
        &url,
        "--name",
        "UT",
        "--dest",
        &format!("loopback={dest}@Local"),
        "--interval-s",
        "0.3",
        "--samples",
        "2",
        "--rounds",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kept = tmp.path().join("kept");
    let screen = text(&peerscope(&[
        "watch",
        "--server",
        &url,
        "--snapshot",
        "probes",
        "--size",
        "100x30",
        "--record",
        &kept.to_string_lossy(),
    ]));
    assert!(screen.contains("1 probes × 1 destinations"), "{screen}");
    assert!(
        screen.contains("loopback") && screen.contains("UT"),
        "{screen}"
    );
    let recorded = peerscope::recording::scan::Recording::scan(&kept).expect("scan");
    assert!(
        !recorded.probes.is_empty(),
        "--record keeps the probes stream"
    );
    common::terminate(&mut server);
}
