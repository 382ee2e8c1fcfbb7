//! CDN nodes' access logs (deploy/nginx-cdn.conf's `peerscope_cdn` format) through the
//! shipped binary: the nodes' own figures, the viewers their requests' CMCD gives, a
//! replay of them, and each kind of bad input with its message and exit status.

use std::path::{Path, PathBuf};

mod common;
use common::peerscope;

/// 2012-08-07 14:30 UTC, 22:30 in Hong Kong.
const T0: i64 = 1_344_349_800_000;

struct Req<'a> {
    at: i64,
    node: &'a str,
    status: u16,
    bytes: u64,
    time: &'a str,
    origin: &'a str,
    cache: &'a str,
    cmcd: &'a str,
}

/// A segment of 1000 bytes from the cache, in 20 ms, without CMCD: what each request of
/// the logs below changes.
const SEGMENT: Req<'static> = Req {
    at: 0,
    node: "hk-1",
    status: 200,
    bytes: 1000,
    time: "0.020",
    origin: "",
    cache: "HIT",
    cmcd: "",
};

fn line(r: &Req<'_>) -> String {
    let at = T0 + r.at;
    let query = if r.cmcd.is_empty() {
        String::new()
    } else {
        let encoded: String = r
            .cmcd
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        format!("?CMCD={encoded}")
    };
    format!(
        r#"{{"msec":{}.{:03},"node":"{}","addr":"10.0.0.1","method":"GET","uri":"/live/seg.m4s{query}","status":{},"bytes":{},"request_time":{},"upstream_header_time":"{}","cache":"{}","cmcd_request":"","cmcd_object":"","cmcd_status":"","cmcd_session":""}}"#,
        at / 1000,
        at % 1000,
        r.node,
        r.status,
        r.bytes,
        r.time,
        r.origin,
        r.cache
    )
}

/// Two nodes: hk-1 serves session s1 (channel ch1) from its cache every 10 s for two
/// minutes, and one 404 from the origin; hk-2 serves s2 (ch2) from the origin for a
/// minute, and one 502 of its own. One line is not a request.
fn write_logs(dir: &Path) -> (PathBuf, PathBuf) {
    let mut one = Vec::new();
    for i in 0..=12 {
        one.push(line(&Req {
            at: i * 10_000,
            cmcd: r#"sid="s1",cid="ch1",sta=p,br=3000,mtp=5000,ot=v,v=2"#,
            ..SEGMENT
        }));
    }
    one.push(line(&Req {
        at: 65_000,
        status: 404,
        bytes: 200,
        time: "0.005",
        origin: "0.010",
        cache: "MISS",
        ..SEGMENT
    }));
    one.push("this is not a request".into());
    let mut two = Vec::new();
    for i in 0..=6 {
        two.push(line(&Req {
            at: i * 10_000,
            node: "hk-2",
            time: "0.050",
            origin: "0.030",
            cache: "MISS",
            cmcd: r#"sid="s2",cid="ch2",sta=p,br=1500,v=2"#,
            ..SEGMENT
        }));
    }
    two.push(line(&Req {
        at: 30_500,
        node: "hk-2",
        status: 502,
        bytes: 300,
        time: "0.001",
        cache: "",
        ..SEGMENT
    }));
    let (a, b) = (dir.join("hk-1.log"), dir.join("hk-2.log"));
    std::fs::write(&a, one.join("\n") + "\n").expect("write");
    std::fs::write(&b, two.join("\n") + "\n").expect("write");
    (a, b)
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = peerscope(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn fails(args: &[&str], says: &str) {
    let out = peerscope(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(says),
        "{args:?}: expected {says:?} in {stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn access_logs_give_each_node_s_figures_and_the_viewers_of_their_cmcd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = write_logs(dir.path());
    let (a, b) = (a.to_str().expect("utf8"), b.to_str().expect("utf8"));

    let v = json(&["report", a, b, "--by", "node", "--format", "json"]);
    let rows = v["rows"].as_array().expect("rows");
    let want = serde_json::json!([
        {"node": "hk-1", "requests": 14, "hit_ratio": 13.0 / 14.0, "origin_ttfb_p50_ms": 10,
         "origin_ttfb_p95_ms": 10, "request_p95_ms": 20, "errors_4xx": 1, "errors_5xx": 0,
         "error_rate": 1.0 / 14.0, "bytes": 13_200},
        {"node": "hk-2", "requests": 8, "hit_ratio": 0.0, "origin_ttfb_p50_ms": 30,
         "origin_ttfb_p95_ms": 30, "request_p95_ms": 50, "errors_4xx": 0, "errors_5xx": 1,
         "error_rate": 0.125, "bytes": 7_300},
        {"node": "(all)", "requests": 22, "hit_ratio": 13.0 / 21.0, "origin_ttfb_p50_ms": 30,
         "origin_ttfb_p95_ms": 30, "request_p95_ms": 50, "errors_4xx": 1, "errors_5xx": 1,
         "error_rate": 2.0 / 22.0, "bytes": 20_500},
    ]);
    assert_eq!(&serde_json::Value::Array(rows.clone()), &want);
    assert_eq!(v["skipped"]["total"], 1, "{v}");
    // `--day` takes the minutes of that day in the configured zone (22:30 in Hong Kong).
    let on_day = |day: &str| {
        json(&[
            "report", a, b, "--by", "node", "--format", "json", "--day", day,
        ])
    };
    assert_eq!(on_day("2012-08-07")["rows"], v["rows"]);
    let other = on_day("2012-08-08");
    assert_eq!(other["rows"], serde_json::json!([]));

    // The viewers: one per session, on its channel, with a bitrate and no upload (a row
    // per minute of the logs, as `--by minute` has under any filter).
    for channel in ["ch1", "ch2"] {
        let v = json(&[
            "report",
            a,
            b,
            "--by",
            "minute",
            "--format",
            "json",
            "--filter",
            &format!("channel={channel}"),
        ]);
        let rows = v["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 3, "{channel}: {rows:?}");
        let new: u64 = rows.iter().filter_map(|r| r["new_peers"].as_u64()).sum();
        assert_eq!(new, 1, "{channel}: {rows:?}");
        assert_eq!(rows[0]["concurrent"], 1, "{channel}: {rows:?}");
        assert!(
            rows.iter().any(|r| r["qoe"].is_f64()),
            "{channel}: {rows:?}"
        );
        assert!(
            rows.iter().all(|r| r["up_kbps"].is_null()),
            "{channel}: {rows:?}"
        );
    }
    let v = json(&["report", a, b, "--by", "session", "--format", "json"]);
    let want = serde_json::json!([
        {"session": "s1", "channel": "ch1", "view_min": 2.0, "reports": 12,
         "bitrate_kbps": 3000.0, "down_kbps": 5000.0, "stall_s": 0.0, "continuity": 1.0},
        {"session": "s2", "channel": "ch2", "view_min": 1.0, "reports": 6,
         "bitrate_kbps": 1500.0, "down_kbps": null, "stall_s": 0.0, "continuity": 1.0},
    ]);
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, want) in rows.iter().zip(want.as_array().expect("array")) {
        for (key, value) in want.as_object().expect("object") {
            assert_eq!(&row[key], value, "{key} of {row}");
        }
    }
    let day = json(&["report", a, b, "--format", "json"]);
    assert_eq!(day["rows"][0]["total_users"], 2, "{day}");
    assert_eq!(
        day["skipped"]["total"], 1,
        "the access log's skipped line: {day}"
    );

    // The same viewers in a replay.
    let screen = common::overview(&["replay", a, b, "--at", "2012-08-07 22:31"]);
    assert!(screen.contains("ch1") && screen.contains("ch2"), "{screen}");
}

#[test]
fn access_logs_and_their_mistakes_get_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, _) = write_logs(dir.path());
    let a = a.to_str().expect("utf8");
    let here = dir.path().to_str().expect("utf8");
    fails(&["report", here, a], "is a directory");
    fails(
        &["report", here],
        "access logs are read by naming them (2 *.log* files there",
    );
    fails(
        &["report", "/nonexistent/cdn.log"],
        "no such directory or file",
    );
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recordings/olympics-2012-sample"
    );
    fails(
        &["report", sample, "--by", "node"],
        "--by node is for CDN access logs",
    );
    fails(
        &["report", a, "--by", "node", "--filter", "channel=ch1"],
        "--filter does not apply to --by node",
    );

    // nginx's default format is not ours: said, with the first line's error.
    let combined = dir.path().join("combined.log");
    std::fs::write(
        &combined,
        "10.0.0.1 - - [07/Aug/2012:22:30:00 +0800] \"GET /live/seg.m4s HTTP/1.1\" 200 1000 \"-\" \"curl\"\n",
    )
    .expect("write");
    fails(
        &["report", combined.to_str().expect("utf8")],
        "no line is a request in peerscope's access-log format (deploy/nginx-cdn.conf); line 1",
    );

    // Requests without CMCD: the node's figures, but no viewer to show.
    let plain = dir.path().join("plain.log");
    std::fs::write(
        &plain,
        line(&Req {
            node: "hk-3",
            bytes: 10,
            time: "0.001",
            ..SEGMENT
        }) + "\n",
    )
    .expect("write");
    let plain = plain.to_str().expect("utf8");
    let v = json(&["report", plain, "--by", "node", "--format", "json"]);
    assert_eq!(v["rows"][0]["requests"], 1, "{v}");
    fails(
        &["report", plain],
        "no request in the access logs carried a CMCD report",
    );
    fails(
        &["replay", plain, "--snapshot", "overview"],
        "no viewer to replay",
    );
}
