//! `/v1/cmcd` on a real `serve`: CMCD v2 reports in every form players send, stored in
//! the `cmcd` stream, and what `report`, `watch --snapshot` and `replay` make of them;
//! bad reports refused with the key named and counted in `/metrics`.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use reqwest::blocking::Client;

mod common;
use common::peerscope;

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        common::terminate(&mut self.child);
    }
}

fn start(dir: &Path) -> Server {
    let (child, addr) = common::spawn_serve(dir, "127.0.0.1:0", &["--name", "fsC"], &[]);
    Server { child, addr }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// The issue's report, its `ts` moved to `ts`.
fn issue_report(sid: &str, ts: i64) -> String {
    format!(
        r#"[{{"v":2,"e":"t","sid":"{sid}","cid":"ch1","sta":"p","br":[3200],"bl":[21300],"mtp":[25400],"ts":{ts}}}]"#
    )
}

#[test]
fn reports_in_every_form_reach_report_watch_and_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let server = start(&logs);
    let c = client();
    let url = format!("http://{}/v1/cmcd", server.addr);
    let t0 = now_ms() - 90_000;

    // Session A, JSON: starting, then the issue's report, then a stall and a recovery
    // as event-mode text lines, then a time-interval report.
    let a = "6e2fb550-c457-11e9-bb97-0800200c9a66";
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"v":2,"e":"ps","sid":"{a}","cid":"ch1","sta":"s","ts":{t0}}}"#
        ))
        .send()
        .expect("post");
    assert_eq!(r.status(), 204);
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .body(issue_report(a, t0 + 1_000))
        .send()
        .expect("post");
    assert_eq!(r.status(), 204);
    let lines = format!(
        "v=2,e=ps,sid=\"{a}\",sta=r,ts={}\nv=2,e=ps,sid=\"{a}\",sta=p,ts={}\nv=2,e=t,sid=\"{a}\",cid=\"ch1\",sta=p,br=(3200),mtp=(25400),ts={}\n",
        t0 + 20_000,
        t0 + 26_000,
        t0 + 31_000
    );
    let r = c
        .post(&url)
        .header("content-type", "application/cmcd")
        .body(lines)
        .send()
        .expect("post");
    assert_eq!(r.status(), 204);

    // Session B: the same report as `?CMCD=` query text, then in the header form.
    let b = "b-session";
    for (i, ts) in [t0 + 2_000, t0 + 32_000].into_iter().enumerate() {
        let text =
            format!(r#"v=2,e=t,sid="{b}",cid="ch2",sta=p,br=(1600),bl=(21300),mtp=(9000),ts={ts}"#);
        let r = if i == 0 {
            c.post(&url).query(&[("CMCD", text.as_str())]).send()
        } else {
            c.post(&url)
                .header("CMCD-Session", format!(r#"sid="{b}",cid="ch2",v=2"#))
                .header("CMCD-Object", "br=(1600)")
                .header("CMCD-Request", format!("e=t,sta=p,mtp=(9000),ts={ts}"))
                .send()
        }
        .expect("post");
        assert_eq!(r.status(), 204, "form {i}");
        assert_eq!(
            r.headers()
                .get("access-control-allow-origin")
                .map(reqwest::header::HeaderValue::as_bytes),
            Some(&b"*"[..])
        );
    }

    // Stored as they came, with the server's stamps.
    let rec = peerscope::recording::scan::Recording::scan(&logs).expect("scan");
    let cmcd_files: Vec<_> = rec
        .feedback
        .iter()
        .flat_map(|g| &g.files)
        .filter(|f| f.stream == peerscope::recording::layout::Stream::Cmcd)
        .collect();
    assert!(!cmcd_files.is_empty());
    let stored: usize = cmcd_files
        .iter()
        .map(|f| {
            let text = peerscope::recording::decode::read_minute_file(f);
            peerscope::recording::decode::lines(&text.bytes)
                .map(|(_, l)| {
                    let logged = peerscope::engine::cmcd::json::parse_log_line(l).expect("stored");
                    assert_eq!(
                        (logged.ip.as_str(), logged.srv.as_deref()),
                        ("127.0.0.1", Some("fsC"))
                    );
                })
                .count()
        })
        .sum();
    assert_eq!(stored, 7);

    // `report --by minute`: two sessions, the stall, no upload.
    let logs_arg = logs.to_string_lossy().into_owned();
    let out = json(&peerscope(&[
        "report", &logs_arg, "--by", "minute", "--format", "json",
    ]));
    let rows = out["rows"].as_array().expect("rows");
    let new: u64 = rows
        .iter()
        .map(|r| r["new_peers"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(new, 2, "{out}");
    assert!(
        rows.iter()
            .all(|r| r["up_kbps"].is_null() && r["contribution"].is_null()),
        "{out}"
    );
    let continuity: Vec<f64> = rows
        .iter()
        .filter_map(|r| r["continuity"].as_f64())
        .collect();
    assert!(
        continuity.iter().any(|c| *c < 1.0),
        "the stall shows: {out}"
    );
    assert!(
        rows.iter().any(|r| r["down_kbps"].as_f64().is_some()),
        "{out}"
    );
    assert_eq!(out["skipped"]["total"], 0, "{out}");

    // Filtered by content id: each session under its own channel.
    for (channel, bitrate_session_down) in [("ch1", 25400.0), ("ch2", 9000.0)] {
        let filter = format!("channel={channel}");
        let out = json(&peerscope(&[
            "report", &logs_arg, "--by", "minute", "--format", "json", "--filter", &filter,
        ]));
        let rows = out["rows"].as_array().expect("rows");
        let new: u64 = rows
            .iter()
            .map(|r| r["new_peers"].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(new, 1, "{channel}: {out}");
        assert!(
            rows.iter()
                .filter_map(|r| r["down_kbps"].as_f64())
                .all(|d| (d - bitrate_session_down).abs() < 1e-9),
            "{channel}: {out}"
        );
    }

    // `watch --snapshot`: both sessions online, their contents listed, upload "–".
    let server_url = format!("http://{}", server.addr);
    let screen = common::overview(&["watch", "--server", &server_url]);
    assert!(screen.contains("ch1") && screen.contains("ch2"), "{screen}");
    assert!(
        screen.contains("– kbps"),
        "upload is not given by CMCD:\n{screen}"
    );

    // `replay` of the directory draws the same contents.
    let replayed = common::overview(&["replay", &logs_arg]);
    assert!(
        replayed.contains("ch1") && replayed.contains("ch2"),
        "{replayed}"
    );
}

#[test]
fn bad_reports_are_refused_by_key_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let c = client();
    let url = format!("http://{}/v1/cmcd", server.addr);
    let now = now_ms();
    let refused = |body: String, content_type: &str, says: &str| {
        let r = c
            .post(&url)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .expect("post");
        assert_eq!(r.status(), 400, "{body}");
        let answer: serde_json::Value = r.json().expect("JSON error");
        let error = answer["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(says), "{body}: {answer}");
    };
    refused(
        format!(r#"sid="s",br=(1,2),ts={now}"#),
        "application/cmcd",
        "key `br`",
    );
    refused(
        r#"{"sid":"s","sta":"z"}"#.into(),
        "application/json",
        "field `sta`",
    );
    refused(
        r#"{"br":[3200]}"#.into(),
        "application/json",
        "field `sid`: missing",
    );
    refused(
        format!(r#"sid="s",ts={}"#, now + 3 * 86_400_000),
        "application/cmcd",
        "ahead of the server's clock",
    );
    refused(
        format!(r#"sid="s",ts={}"#, now - 40 * 86_400_000),
        "application/cmcd",
        "behind",
    );
    // The query form, broken: the key is named too.
    let r = c
        .post(&url)
        .query(&[("CMCD", format!(r#"sid="s",br=(3200,ts={now}"#))])
        .send()
        .expect("post");
    assert_eq!(r.status(), 400);
    let answer: serde_json::Value = r.json().expect("JSON error");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("key `br`"),
        "{answer}"
    );
    // A body that is not JSON at all is refused whole.
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .body("[{")
        .send()
        .expect("post");
    assert_eq!(r.status(), 400);
    // Nothing at all: no report.
    let r = c.post(&url).send().expect("post");
    assert_eq!(r.status(), 400);
    // Some good, some bad: 200 with the list, the good one stored.
    let r = c
        .post(&url)
        .header("content-type", "application/cmcd")
        .body(format!("sid=\"ok\",ts={now}\nsid=\"bad\",bl=-5,ts={now}\n"))
        .send()
        .expect("post");
    assert_eq!(r.status(), 200);
    let answer: serde_json::Value = r.json().expect("JSON");
    assert_eq!(answer["accepted"], 1, "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 1, "{answer}");

    let addr = server.addr.as_str();
    assert_eq!(
        common::metric(addr, "peerscope_records_accepted_total{stream=\"cmcd\"}"),
        1
    );
    for (reason, n) in [
        ("invalid_cmcd", 2),
        ("unknown_value", 1),
        ("missing_field", 1),
        ("out_of_range", 3),
    ] {
        let line =
            format!("peerscope_records_rejected_total{{stream=\"cmcd\",reason=\"{reason}\"}}");
        assert_eq!(common::metric(addr, &line), n, "{reason}");
    }
    // The preflight of a cross-origin POST.
    let r = c
        .request(reqwest::Method::OPTIONS, &url)
        .send()
        .expect("options");
    assert_eq!(r.status(), 204);
    let allowed = r
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        allowed.contains("content-type") && allowed.contains("cmcd-session"),
        "{allowed}"
    );
}

/// `simulate --format cmcd` tells the same viewers as the feedback format: read back
/// through the session tracker, the concurrency of every minute matches (the network
/// delays drawn after an event differ between the formats, so a peer at a minute's
/// edge may count a minute apart), and the hour's continuity and QoE stay close.
#[test]
fn simulated_cmcd_players_give_the_feedback_formats_figures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut reports = Vec::new();
    for format in ["feedback", "cmcd"] {
        let out = dir.path().join(format);
        let out_arg = out.to_string_lossy().into_owned();
        let sim = peerscope(&[
            "simulate",
            "--format",
            format,
            "--scale",
            "0.02",
            "--from",
            "2012-08-07 09:00",
            "--to",
            "2012-08-07 10:00",
            "--no-probes",
            "--out",
            &out_arg,
        ]);
        assert!(
            sim.status.success(),
            "{}",
            String::from_utf8_lossy(&sim.stderr)
        );
        let report = json(&peerscope(&[
            "report", &out_arg, "--by", "minute", "--format", "json",
        ]));
        let rows: std::collections::BTreeMap<String, serde_json::Value> = report["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["minute"].as_str().unwrap_or_default().to_owned(),
                    r.clone(),
                )
            })
            .collect();
        reports.push(rows);
    }
    let (feedback, cmcd) = (&reports[0], &reports[1]);
    let mut differing = 0;
    // From 09:05: peers online before the recording starts are counted once they report.
    for (minute, f) in feedback.range("2012-08-07 09:05".to_owned()..) {
        let c = &cmcd[minute];
        let (fc, cc) = (
            f["concurrent"].as_i64().unwrap_or(0),
            c["concurrent"].as_i64().unwrap_or(0),
        );
        assert!((fc - cc).abs() <= 2, "{minute}: feedback {fc}, cmcd {cc}");
        differing += usize::from(fc != cc);
        assert!(c["up_kbps"].is_null(), "{minute}: CMCD gives no upload");
    }
    assert!(differing <= 3, "{differing} minutes differ in concurrency");
    // Stalls are drawn apart in each format: the hour's means agree, not each minute's.
    for metric in ["continuity", "qoe"] {
        let mean = |rows: &std::collections::BTreeMap<String, serde_json::Value>| {
            let v: Vec<f64> = rows.values().filter_map(|r| r[metric].as_f64()).collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let (a, b) = (mean(feedback), mean(cmcd));
        assert!((a - b).abs() < 0.03, "{metric}: feedback {a}, cmcd {b}");
    }
}
