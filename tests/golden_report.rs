//! A small hand-written recording whose report figures are worked out by hand below.
//!
//! Two servers (fs1, fs2), time zone UTC, T = 2012-08-07 00:00:00 UTC; times are
//! seconds after T. IP table: 10.0.0.0/24 → X/D1, 10.0.1.0/24 → Y/D2; 192.0.2.9 is unknown.
//!
//! | s    | srv | peer | session | seq | event  | up   | down | server | B   | play | stall | startup |
//! |------|-----|------|---------|-----|--------|------|------|--------|-----|------|-------|---------|
//! | 5    | fs1 | A    | a1      | 0   | join   |      |      |        |     |      |       |         |
//! | 35   | fs1 | A    | a1      | 1   | report | 1000 | 1000 | 200    | 400 | 30   | 0     | 1500    |
//! | 38   | fs2 | A    | a1      | 1   | (retry of seq 1: a duplicate, dropped)                          |
//! | 50   | fs2 | B    | b1      | 10  | report | 200  | 600  | 300    | 500 | 30   | 0     | 3000    |
//! | 65   | fs2 | A    | a1      | 2   | report | 500  | 1000 | 0      | 400 | 27   | 3     | 1500 (repeat: not counted) |
//! | 80   | fs1 | A    | a1      | 3   | leave  |      |      |        |     |      |       |         |
//! | 110  | fs2 | B    | b1      | 11  | report | 0    | 800  | 800    | 500 | 0    | 0     |         |
//! | 130  | fs2 | C    | c1      | 0   | join   |      |      |        |     |      |       |         |
//! | 160  | fs2 | C    | c1      | 1   | report | 900  | 900  | 100    | 400 | 15   | 15    | 500     |
//! | 190  | fs1 | A    | a2      | 4   | join   |      |      |        |     |      |       |         |
//! | 210  | fs1 | D    | d1      | 0   | join   |      |      |        |     |      |       |         |
//! | 220  | fs1 | A    | a2      | 5   | leave  |      |      |        |     |      |       |         |
//!
//! Also: two malformed lines in fs1's 00:01 file (invalid JSON, wrong type), and fs2's
//! 00:02 file is two gzip members, the second (peer E's record) cut short: E is lost.
//! Every `period_s` is 30, so a peer is online for 60 s after its latest record.
//!
//! MOS(B, D) = −5·D + 4(1 − e^(−0.0015·B)) + 2:
//!   A@35 (B 400, D 0)   = 4 × 0.451188364 + 2 = 3.804753456
//!   B@50 (B 500, D 0)   = 4 × 0.527633447 + 2 = 4.110533788
//!   A@65 (D 0.1)        = 3.804753456 − 0.5   = 3.304753456
//!   B@110 (play + stall = 0): left out of continuity and `QoE`
//!   C@160 (D 0.5)       = 3.804753456 − 2.5   = 1.304753456

use std::io::Write;
use std::path::Path;
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

const T: i64 = 1_344_297_600_000;

struct Rec<'a> {
    at_s: i64,
    srv: &'a str,
    peer: &'a str,
    session: &'a str,
    seq: u64,
    event: &'a str,
    ip: &'a str,
    figures: [f64; 6],
    startup: Option<i64>,
}

fn line(r: &Rec) -> String {
    let [up, down, server, bitrate, play, stall] = r.figures;
    json!({
        "v": 1, "peer": r.peer, "session": r.session, "seq": r.seq, "ts": T + r.at_s * 1000,
        "event": r.event, "channel": "main", "period_s": 30, "up_kbps": up, "down_kbps": down,
        "server_kbps": server, "bitrate_kbps": if bitrate > 0.0 { bitrate } else { 400.0 },
        "play_s": play, "stall_s": stall, "startup_ms": r.startup, "buffer_s": 10,
        "partners": 3, "nat": "open", "player": "t", "os": "linux", "rtt_ms": 20,
        "ip": r.ip, "recv": T + r.at_s * 1000, "srv": r.srv,
    })
    .to_string()
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(text.as_bytes()).expect("gzip");
    e.finish().expect("gzip")
}

fn write(root: &Path, srv: &str, minute: &str, bytes: &[u8], gzip: bool) {
    let dir = root.join(srv).join("feedback/20120807");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let name = format!("20120807-{minute}.jsonl{}", if gzip { ".gz" } else { "" });
    std::fs::write(dir.join(name), bytes).expect("write");
}

fn recording() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let z = [0.0; 6];
    let a = |at_s, srv, seq, event, figures, startup| Rec {
        at_s,
        srv,
        peer: "A",
        session: if at_s < 180 { "a1" } else { "a2" },
        seq,
        event,
        ip: "10.0.0.1",
        figures,
        startup,
    };
    let recs = [
        a(5, "fs1", 0, "join", z, None),
        a(
            35,
            "fs1",
            1,
            "report",
            [1000.0, 1000.0, 200.0, 400.0, 30.0, 0.0],
            Some(1500),
        ),
        a(
            38,
            "fs2",
            1,
            "report",
            [1000.0, 1000.0, 200.0, 400.0, 30.0, 0.0],
            Some(1500),
        ),
        Rec {
            at_s: 50,
            srv: "fs2",
            peer: "B",
            session: "b1",
            seq: 10,
            event: "report",
            ip: "10.0.1.1",
            figures: [200.0, 600.0, 300.0, 500.0, 30.0, 0.0],
            startup: Some(3000),
        },
        a(
            65,
            "fs2",
            2,
            "report",
            [500.0, 1000.0, 0.0, 400.0, 27.0, 3.0],
            Some(1500),
        ),
        a(80, "fs1", 3, "leave", z, None),
        Rec {
            at_s: 110,
            srv: "fs2",
            peer: "B",
            session: "b1",
            seq: 11,
            event: "report",
            ip: "10.0.1.1",
            figures: [0.0, 800.0, 800.0, 500.0, 0.0, 0.0],
            startup: None,
        },
        Rec {
            at_s: 130,
            srv: "fs2",
            peer: "C",
            session: "c1",
            seq: 0,
            event: "join",
            ip: "192.0.2.9",
            figures: z,
            startup: None,
        },
        Rec {
            at_s: 160,
            srv: "fs2",
            peer: "C",
            session: "c1",
            seq: 1,
            event: "report",
            ip: "192.0.2.9",
            figures: [900.0, 900.0, 100.0, 400.0, 15.0, 15.0],
            startup: Some(500),
        },
        a(190, "fs1", 4, "join", z, None),
        Rec {
            at_s: 210,
            srv: "fs1",
            peer: "D",
            session: "d1",
            seq: 0,
            event: "join",
            ip: "10.0.0.2",
            figures: z,
            startup: None,
        },
        a(220, "fs1", 5, "leave", z, None),
    ];
    let file = |srv: &str, minute: i64| -> String {
        recs.iter()
            .filter(|r| r.srv == srv && r.at_s / 60 == minute)
            .map(|r| line(r) + "\n")
            .collect()
    };
    let root = dir.path();
    write(root, "fs1", "0000", &gz(&file("fs1", 0)), true);
    write(root, "fs2", "0000", file("fs2", 0).as_bytes(), false);
    let mut fs1_01 = file("fs1", 1);
    fs1_01.push_str("{\"v\":1,\"peer\":\n");
    fs1_01.push_str(&line(&recs[1]).replace("\"seq\":1", "\"seq\":\"9\""));
    fs1_01.push('\n');
    write(root, "fs1", "0001", &gz(&fs1_01), true);
    write(root, "fs2", "0001", &gz(&file("fs2", 1)), true);
    // Two members; the second (a record of peer E) is cut in half.
    let mut damaged = gz(&file("fs2", 2));
    let e = Rec {
        at_s: 170,
        srv: "fs2",
        peer: "E",
        session: "e1",
        seq: 0,
        event: "join",
        ip: "10.0.0.3",
        figures: z,
        startup: None,
    };
    let lost = gz(&(line(&e) + "\n"));
    damaged.extend_from_slice(&lost[..lost.len() / 2]);
    write(root, "fs2", "0002", &damaged, true);
    write(root, "fs1", "0003", &gz(&file("fs1", 3)), true);
    std::fs::write(
        root.join("geo.csv"),
        "cidr,isp,district,lat,lon\n10.0.0.0/24,X,D1,,\n10.0.1.0/24,Y,D2,,\n",
    )
    .expect("geo");
    dir
}

fn report(dir: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .arg("report")
        .arg(dir)
        .args(["--timezone", "UTC", "--format", "json", "--ip-geo"])
        .arg(dir.join("geo.csv"))
        .args(args)
        .output()
        .expect("run peerscope");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn close(v: &Value, want: f64) {
    let got = v
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"));
    assert!((got - want).abs() < 1e-6, "got {got}, want {want}");
}

#[test]
fn minutes_match_the_hand_worked_figures() {
    let dir = recording();
    let v = report(dir.path(), &["--by", "minute"]);
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 4);
    let m0 = &rows[0];
    assert_eq!(m0["minute"], "2012-08-07 00:00");
    // At 00:01:00 A (latest 00:00:35) and B (00:00:50) are online.
    assert_eq!(m0["concurrent"], 2);
    assert_eq!(m0["new_peers"], 2);
    close(&m0["up_kbps"], f64::midpoint(1000.0, 200.0));
    close(&m0["down_kbps"], f64::midpoint(1000.0, 600.0));
    close(&m0["contribution"], 1200.0 / 1600.0);
    close(&m0["continuity"], 1.0);
    close(&m0["qoe"], f64::midpoint(3.804_753_456, 4.110_533_788));
    // Startups 1500 and 3000: nearest rank ⌈0.5 × 2⌉ = 1st.
    assert_eq!(m0["startup_p50_ms"], 1500);

    let m1 = &rows[1];
    // A left at 00:01:20; B's latest (00:01:50) is 10 s old.
    assert_eq!(m1["concurrent"], 1);
    assert_eq!(m1["new_peers"], 0);
    close(&m1["up_kbps"], 500.0 / 2.0);
    close(&m1["down_kbps"], f64::midpoint(1000.0, 800.0));
    close(&m1["contribution"], 500.0 / 1800.0);
    close(&m1["continuity"], 27.0 / 30.0);
    close(&m1["qoe"], 3.304_753_456);
    assert_eq!(m1["startup_p50_ms"], Value::Null);

    let m2 = &rows[2];
    // B timed out (00:01:50 + 60 s < 00:03:00); C's report is 20 s old. E was lost.
    assert_eq!(m2["concurrent"], 1);
    assert_eq!(m2["new_peers"], 1);
    close(&m2["continuity"], 0.5);
    close(&m2["qoe"], 1.304_753_456);
    assert_eq!(m2["startup_p50_ms"], 500);

    let m3 = &rows[3];
    // A joined and left again; D joined at 00:03:30; C timed out.
    assert_eq!(m3["concurrent"], 1);
    assert_eq!(m3["new_peers"], 1);
    assert_eq!(m3["up_kbps"], Value::Null);
    assert_eq!(m3["qoe"], Value::Null);

    assert_eq!(v["skipped"]["total"], 2);
    assert_eq!(v["skipped"]["by_reason"]["invalid_json"], 1);
    assert_eq!(v["skipped"]["by_reason"]["wrong_type"], 1);
}

#[test]
fn the_day_matches_the_hand_worked_figures() {
    let dir = recording();
    let v = report(dir.path(), &["--by", "day"]);
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    let d = &rows[0];
    assert_eq!(d["day"], "2012-08-07");
    assert_eq!(d["new_users"], 4);
    assert_eq!(d["total_users"], 4);
    assert_eq!(d["cumulative_users"], 4);
    // Five reports, each 30 s: Σup = 2600, Σdown = 4300.
    close(&d["avg_up_kbps"], 2600.0 / 5.0);
    close(&d["avg_down_kbps"], 4300.0 / 5.0);
    // Views: a1 5→80 s (leave) 75 s, a2 190→220 s 30 s, b1 50→110 s (timed out) 60 s,
    // c1 130→160 s 30 s, d1 0 s: 195 s over 5 views and 4 peers.
    close(&d["online_min_per_view"], 195.0 / 5.0 / 60.0);
    close(&d["online_min_per_user"], 195.0 / 4.0 / 60.0);
    // Play 30 + 30 + 27 + 0 + 15 = 102, stall 3 + 15 = 18.
    close(&d["continuity"], 102.0 / 120.0);
    close(
        &d["qoe"],
        (3.804_753_456 + 4.110_533_788 + 3.304_753_456 + 1.304_753_456) / 4.0,
    );
    assert_eq!(d["peak_concurrent"], 2);
    assert_eq!(d["peak_at"], "2012-08-07 00:00");
}

#[test]
fn isp_coverage_counts_distinct_addresses() {
    let dir = recording();
    let v = report(dir.path(), &["--by", "isp"]);
    let rows = v["rows"].as_array().expect("rows");
    let got: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["isp"].as_str().unwrap_or("").to_owned(),
                r["distinct_ips"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("X".into(), 2), ("Others".into(), 1), ("Y".into(), 1)]
    );
    close(&rows[0]["share"], 0.5);
}

#[test]
fn a_filter_reports_the_filtered_stream() {
    let dir = recording();
    let v = report(dir.path(), &["--by", "minute", "--filter", "isp=X"]);
    let rows = v["rows"].as_array().expect("rows");
    // Only A and D: the same minutes, B's and C's figures gone.
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["concurrent"], 1);
    close(&rows[0]["up_kbps"], 1000.0);
    assert_eq!(rows[2]["concurrent"], 0);
    assert_eq!(rows[2]["up_kbps"], Value::Null);
    let v = report(dir.path(), &["--by", "day", "--filter", "district=D2"]);
    assert_eq!(v["rows"][0]["total_users"], 1);
    close(&v["rows"][0]["online_min_per_view"], 1.0);
}

#[test]
fn csv_has_exactly_the_documented_columns() {
    let dir = recording();
    let out = Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .arg("report")
        .arg(dir.path())
        .args([
            "--timezone",
            "UTC",
            "--by",
            "day",
            "--format",
            "csv",
            "--ip-geo",
        ])
        .arg(dir.path().join("geo.csv"))
        .output()
        .expect("run");
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(
        text.lines().next(),
        Some(
            "day,new_users,total_users,cumulative_users,avg_up_kbps,avg_down_kbps,online_min_per_user,online_min_per_view,continuity,qoe,peak_concurrent,peak_at"
        )
    );
    let stderr = String::from_utf8(out.stderr).expect("utf8");
    assert!(stderr.contains("2 lines skipped"), "{stderr}");
    assert!(stderr.contains("damaged gzip"), "{stderr}");
}

/// `--by session` (an extension of §8): each view's figures over its own reports.
#[test]
fn sessions_match_the_hand_worked_figures() {
    let dir = recording();
    let v = report(dir.path(), &["--by", "session"]);
    let rows = v["rows"].as_array().expect("rows");
    let order: Vec<&str> = rows.iter().filter_map(|r| r["session"].as_str()).collect();
    assert_eq!(order, ["a1", "b1", "c1", "a2", "d1"], "by start");
    let (a1, b1, c1, a2) = (&rows[0], &rows[1], &rows[2], &rows[3]);
    // a1: join at 5 s, reports at 35 and 65 (the retry at 38 dropped), leave at 80.
    close(&a1["view_min"], 75.0 / 60.0);
    assert_eq!(
        (&a1["reports"], &a1["startup_ms"]),
        (&json!(2), &json!(1500))
    );
    close(&a1["bitrate_kbps"], 400.0);
    close(&a1["down_kbps"], 1000.0);
    close(&a1["stall_s"], 3.0);
    close(&a1["continuity"], 57.0 / 60.0);
    close(&a1["qoe"], f64::midpoint(3.804_753_456, 3.304_753_456));
    // b1: its report at 110 has no play and no stall: out of continuity and QoE, in
    // the rates.
    close(&b1["view_min"], 1.0);
    close(&b1["down_kbps"], f64::midpoint(600.0, 800.0));
    close(&b1["bitrate_kbps"], 500.0);
    close(&b1["continuity"], 1.0);
    close(&b1["qoe"], 4.110_533_788);
    assert_eq!(b1["startup_ms"], 3000);
    close(&c1["continuity"], 0.5);
    close(&c1["qoe"], 1.304_753_456);
    close(&c1["stall_s"], 15.0);
    // a2: a join and a leave, no report: nothing to judge it by.
    assert_eq!(a2["reports"], 0);
    assert!(a2["bitrate_kbps"].is_null() && a2["continuity"].is_null() && a2["qoe"].is_null());
    close(&a2["view_min"], 0.5);
}
