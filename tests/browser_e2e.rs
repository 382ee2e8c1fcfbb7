//! Real players, end to end: Debian's chromium, headless, plays a DASH stream with
//! dash.js and an HLS stream with hls.js — both made here with Debian's ffmpeg and
//! served by a real nginx that slows three segments down mid-play — while the players
//! send CMCD v2 event reports to a `serve` on another origin (so CORS is exercised as
//! on the web). Then `report` and `watch --snapshot` must show each session with its
//! content id, a known bitrate (QoE), a stall and continuity below 1; and every body
//! the players sent must read as CMCD.
//!
//! Needs chromium, ffmpeg, nginx and `npm ci` in tests/browser (`.ci/run` does all).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

mod common;
use common::nginx::{Nginx, free_port, launch};
use common::peerscope;

const BROWSER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
/// Seconds each player plays: the slowed segments (20–26 s of media) come at about 20 s.
const PLAY_S: &str = "42";

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        common::terminate(&mut self.0);
    }
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// 40 s of test pattern and tone, H.264 + AAC, 2-second segments: a DASH stream and an
/// HLS one with a master playlist (so hls.js knows the bitrate).
fn make_media(www: &Path) {
    let source = [
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=640x360:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "40",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "50",
        "-keyint_min",
        "50",
        "-sc_threshold",
        "0",
        "-b:v",
        "600k",
        "-maxrate",
        "600k",
        "-bufsize",
        "1200k",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
    ];
    for (dir, format) in [
        (
            "dash",
            vec![
                "-f",
                "dash",
                "-seg_duration",
                "2",
                "-use_template",
                "1",
                "-use_timeline",
                "0",
                "-init_seg_name",
                "init-$RepresentationID$.m4s",
                "-media_seg_name",
                "seg-$RepresentationID$-$Number%05d$.m4s",
                "stream.mpd",
            ],
        ),
        (
            "hls",
            vec![
                "-f",
                "hls",
                "-hls_time",
                "2",
                "-hls_playlist_type",
                "vod",
                "-hls_segment_type",
                "fmp4",
                "-hls_fmp4_init_filename",
                "init.mp4",
                "-hls_segment_filename",
                "seg-%05d.m4s",
                "-master_pl_name",
                "master.m3u8",
                "stream.m3u8",
            ],
        ),
    ] {
        let out = www.join(dir);
        std::fs::create_dir_all(&out).expect("mkdir");
        run(
            Command::new("ffmpeg")
                .current_dir(&out)
                .args(source)
                .args(format),
            "ffmpeg",
        );
    }
}

/// nginx as a CDN node: an edge caching what an origin serves (the page, the players
/// and the media; the segments holding 20–26 s of media go at 10 kB/s, about 15 s
/// each, so both players run dry), logging each request in the shipped
/// `peerscope_cdn` format to `<tmp>/cdn.log`. Returns the edge's port.
fn start_nginx(tmp: &Path, www: &Path) -> (Nginx, u16) {
    let port = free_port();
    let origin = free_port();
    let user = if common::is_root() {
        "user root;\n"
    } else {
        ""
    };
    let conf = format!(
        "{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\n\
         http {{\n  client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/p; fastcgi_temp_path {tmp}/f;\n  \
         uwsgi_temp_path {tmp}/u; scgi_temp_path {tmp}/s;\n  access_log off;\n  \
         include {deploy}/nginx-cdn.conf;\n  proxy_cache_path {tmp}/cache keys_zone=edge:1m;\n  \
         types {{ text/html html; application/javascript js; application/dash+xml mpd; \
         application/vnd.apple.mpegurl m3u8; video/mp4 mp4 m4s; }}\n  server {{\n    \
         listen 127.0.0.1:{origin};\n    root {www};\n    \
         location ~ /dash/seg-0-0001[0-2]\\.m4s$ {{ limit_rate 10k; }}\n    \
         location ~ /hls/seg-0001[0-2]\\.m4s$ {{ limit_rate 10k; }}\n  }}\n  server {{\n    \
         listen 127.0.0.1:{port};\n    access_log {tmp}/cdn.log peerscope_cdn;\n    \
         location / {{ proxy_pass http://127.0.0.1:{origin}; proxy_cache edge; \
         proxy_cache_valid 200 10m; proxy_cache_key $uri; }}\n  }}\n}}\n",
        tmp = tmp.display(),
        www = www.display(),
        deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy"),
    );
    let nginx = launch(tmp, &conf, &format!("http://127.0.0.1:{port}/player.html"));
    (nginx, port)
}

/// One player's page in chromium for [`PLAY_S`] seconds; returns what it sent.
fn play(
    player: &str,
    page: u16,
    src: &str,
    collector: &str,
    cid: &str,
    sid: &str,
    capture: &Path,
) -> std::thread::JoinHandle<String> {
    let url = format!(
        "http://127.0.0.1:{page}/player.html?player={player}&src=http://127.0.0.1:{page}/{src}\
         &collector={collector}/v1/cmcd&cid={cid}&sid={sid}&interval=5"
    );
    let capture = capture.to_path_buf();
    std::thread::spawn(move || {
        run(
            Command::new("node")
                .current_dir(BROWSER_DIR)
                .args(["play.mjs", &url, PLAY_S])
                .arg(&capture),
            "node play.mjs",
        )
    })
}

/// The bodies the players POSTed to the collector, one report per line.
fn sent_reports(capture: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(capture).expect("capture");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["method"] == "POST")
        .flat_map(|v| {
            v["body"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// The rows of `report LOGS --by minute` under `channel=CHANNEL`.
fn report_rows(logs: &str, channel: &str) -> Vec<serde_json::Value> {
    report_table(logs, "minute", channel)
}

fn report_table(logs: &str, by: &str, channel: &str) -> Vec<serde_json::Value> {
    let filter = format!("channel={channel}");
    let out = peerscope(&[
        "report", logs, "--by", by, "--format", "json", "--filter", &filter,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["rows"].as_array().expect("rows").clone()
}

/// The number an Overview tile shows (`!0.9139 ↓8%` → 0.9139), found by its title.
fn tile_value(screen: &str, title: &str) -> Option<f64> {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let head: Vec<char> = format!("┌{title}─").chars().collect();
    let (row, col) = lines.iter().enumerate().find_map(|(r, l)| {
        l.windows(head.len())
            .position(|w| w == head)
            .map(|c| (r, c))
    })?;
    let text: String = lines
        .get(row + 1)?
        .iter()
        .skip(col + 1)
        .take_while(|&&c| c != '│')
        .collect();
    let number = text
        .trim()
        .trim_start_matches('!')
        .split_whitespace()
        .next()?;
    number.replace(',', "").parse().ok()
}

/// The channel's one session in `report --by session`.
fn session_row(logs: &str, channel: &str) -> serde_json::Value {
    let rows = report_table(logs, "session", channel);
    assert_eq!(rows.len(), 1, "{channel}: {rows:?}");
    rows[0].clone()
}

#[test]
#[ignore = "needs chromium, ffmpeg, nginx and `npm ci` in tests/browser (.ci/run installs them)"]
fn dash_js_and_hls_js_in_chromium_report_cmcd_that_peerscope_shows() {
    for tool in ["chromium", "ffmpeg", "node"] {
        common::require(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success()),
            tool,
        );
    }
    let modules = PathBuf::from(BROWSER_DIR).join("node_modules");
    common::require(
        modules.join("playwright-core").exists(),
        "`npm ci` in tests/browser",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).expect("www");
    make_media(&www);
    for (from, name) in [
        (
            PathBuf::from(BROWSER_DIR).join("player.html"),
            "player.html",
        ),
        (
            modules.join("dashjs/dist/modern/umd/dash.all.min.js"),
            "dash.all.min.js",
        ),
        (modules.join("hls.js/dist/hls.min.js"), "hls.min.js"),
    ] {
        std::fs::copy(&from, www.join(name)).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
    let (_nginx, page) = start_nginx(dir.path(), &www);
    let logs = dir.path().join("logs");
    let (child, addr) = common::spawn_serve(&logs, "127.0.0.1:0", &["--name", "fsB"], &[]);
    let _serve = Serve(child);
    let collector = format!("http://{addr}");

    let dash_capture = dir.path().join("dash.jsonl");
    let hls_capture = dir.path().join("hls.jsonl");
    let dash = play(
        "dash",
        page,
        "dash/stream.mpd",
        &collector,
        "olympics-dash",
        "6e2fb550-c457-11e9-bb97-0800200c9a66",
        &dash_capture,
    );
    let hls = play(
        "hls",
        page,
        "hls/master.m3u8",
        &collector,
        "olympics-hls",
        "hls-1",
        &hls_capture,
    );
    let dash_log = dash.join().expect("dash player");
    let hls_log = hls.join().expect("hls player");
    for (log, name) in [(&dash_log, "dash.js"), (&hls_log, "hls.js")] {
        assert!(log.contains("video playing"), "{name} never played:\n{log}");
        assert!(
            log.contains("video waiting at 2"),
            "{name} never ran dry mid-play:\n{log}"
        );
    }

    // On the live screen first, while the stalls are in its window: each content's
    // continuity below 1.
    for channel in ["olympics-dash", "olympics-hls"] {
        let filter = format!("channel={channel}");
        let screen = common::overview(&["watch", "--server", &collector, "--filter", &filter]);
        let continuity = tile_value(&screen, "continuity");
        assert!(
            continuity.is_some_and(|c| c < 1.0),
            "{channel}: {continuity:?} in\n{screen}"
        );
        // QoE needs the bitrate: a number here says the screen knows it.
        let qoe = tile_value(&screen, "QoE");
        assert!(
            qoe.is_some_and(|q| (1.0..=5.0).contains(&q)),
            "{channel}: QoE {qoe:?} in\n{screen}"
        );
    }

    // Every report the players sent reads as CMCD, and was stored.
    let mut sent = 0;
    for capture in [&dash_capture, &hls_capture] {
        for line in sent_reports(capture) {
            let report = peerscope::engine::cmcd::text::parse_dictionary(&line)
                .and_then(peerscope::engine::cmcd::Report::checked)
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(report.text("sid").is_some());
            sent += 1;
        }
    }
    assert!(sent >= 16, "{sent} reports sent");
    let addr_ref = addr.as_str();
    assert_eq!(
        common::metric(
            addr_ref,
            "peerscope_records_accepted_total{stream=\"cmcd\"}"
        ),
        sent
    );

    // Each session in `report`: its content id, a known bitrate (QoE), the stall.
    let logs_arg = logs.to_string_lossy().into_owned();
    for channel in ["olympics-dash", "olympics-hls"] {
        let rows = report_rows(&logs_arg, channel);
        assert!(!rows.is_empty(), "{channel}: no rows");
        let new: u64 = rows.iter().filter_map(|r| r["new_peers"].as_u64()).sum();
        assert_eq!(new, 1, "{channel}: {rows:?}");
        assert!(
            rows.iter().any(|r| r["qoe"].is_f64()),
            "{channel}: no bitrate: {rows:?}"
        );
        assert!(
            rows.iter()
                .filter_map(|r| r["continuity"].as_f64())
                .any(|c| c < 1.0),
            "{channel}: no stall: {rows:?}"
        );
        assert!(
            rows.iter().all(|r| r["up_kbps"].is_null()),
            "{channel}: {rows:?}"
        );
        // The session itself: its bitrate (dash.js names the 600 kbps video item), the
        // stall, continuity below 1.
        let session = session_row(&logs_arg, channel);
        assert_eq!(session["channel"], channel, "{session}");
        assert!(session["bitrate_kbps"].as_f64() > Some(0.0), "{session}");
        if channel == "olympics-dash" {
            // A mean weighted by the reports' periods: 600 to the last bits of a float.
            let bitrate = session["bitrate_kbps"].as_f64().unwrap_or(f64::NAN);
            assert!((bitrate - 600.0).abs() < 1e-9, "{session}");
        }
        assert!(session["stall_s"].as_f64() > Some(0.0), "{session}");
        assert!(
            session["continuity"].as_f64().is_some_and(|c| c < 1.0),
            "{session}"
        );
    }
    // The edge's access log, read back: the same sessions from the players' request-mode
    // CMCD (`CMCD=` on every segment request), and the node's own figures.
    let cdn_log = dir.path().join("cdn.log").to_string_lossy().into_owned();
    for channel in ["olympics-dash", "olympics-hls"] {
        let rows = report_rows(&cdn_log, channel);
        let new: u64 = rows.iter().filter_map(|r| r["new_peers"].as_u64()).sum();
        assert_eq!(new, 1, "{channel} in the access log: {rows:?}");
        assert!(
            rows.iter().any(|r| r["qoe"].is_f64()),
            "{channel} in the access log: no bitrate: {rows:?}"
        );
        assert!(
            rows.iter().any(|r| r["down_kbps"].is_f64()),
            "{channel} in the access log: no throughput: {rows:?}"
        );
        let session = session_row(&cdn_log, channel);
        assert!(session["bitrate_kbps"].as_f64() > Some(0.0), "{session}");
    }
    let out = peerscope(&["report", &cdn_log, "--by", "node", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let nodes = v["rows"].as_array().expect("rows");
    assert_eq!(nodes.len(), 1, "one node: {nodes:?}");
    let node = &nodes[0];
    // At least the video segments both players fetched before the slowed ones.
    let early: u64 = (1..=9)
        .flat_map(|n| {
            [
                format!("dash/seg-0-{n:05}.m4s"),
                format!("hls/seg-{n:05}.m4s"),
            ]
        })
        .map(|f| std::fs::metadata(www.join(&f)).map_or(0, |m| m.len()))
        .sum();
    assert!(early > 0);
    assert!(node["requests"].as_u64() >= Some(40), "{node}");
    assert!(
        node["bytes"].as_u64() >= Some(early),
        "{node}: {early} bytes before the slowdown"
    );
    // The page was fetched through the edge before the players loaded it: a hit.
    assert!(
        node["hit_ratio"]
            .as_f64()
            .is_some_and(|r| r > 0.0 && r < 1.0),
        "{node}"
    );
    assert!(node["origin_ttfb_p50_ms"].is_u64(), "{node}");
    assert_eq!(v["skipped"]["total"], 0, "{v}");
    // And on the live screen.
    let screen = common::overview(&["watch", "--server", &collector]);
    assert!(
        screen.contains("olympics-dash") && screen.contains("olympics-hls"),
        "{screen}"
    );
    // Fixtures for the parser tests: `PEERSCOPE_CMCD_FIXTURES=DIR` keeps this run's bodies.
    if let Some(out) = std::env::var_os("PEERSCOPE_CMCD_FIXTURES") {
        for (capture, name) in [
            (&dash_capture, "dashjs-5.2.1.cmcd"),
            (&hls_capture, "hlsjs-1.7.4.cmcd"),
        ] {
            let mut text = sent_reports(capture).join("\n");
            text.push('\n');
            std::fs::write(Path::new(&out).join(name), text).expect("write fixture");
        }
    }
}
