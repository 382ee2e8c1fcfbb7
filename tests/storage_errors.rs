//! Storage errors never produce a false 2xx (RELIABILITY 4). The server runs with a file-
//! size limit (`ulimit -f`, SIGXFSZ ignored), so once its minute file is full every write
//! fails (EFBIG) as on a full disk: those requests get 503, what was acknowledged before
//! is all there, and nothing of a refused request is left in the log.

use std::process::Command;

mod common;
use common::logged;

fn record(seq: u64) -> String {
    format!(
        r#"{{"v":1,"peer":"full","session":"s","seq":{seq},"ts":1,"event":"report","channel":"main","period_s":30,"up_kbps":800,"down_kbps":900,"server_kbps":100,"bitrate_kbps":420,"play_s":30,"stall_s":0,"startup_ms":null,"buffer_s":12,"partners":9,"nat":"cone","player":"x","os":"y","rtt_ms":33}}"#
    )
}

#[test]
fn a_full_file_answers_503_and_acknowledges_only_what_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        r#"trap "" XFSZ; ulimit -f 32; exec "$0" "$@""#,
        env!("CARGO_BIN_EXE_peerscope"),
    ])
    .args(["serve", "--listen", "127.0.0.1:0", "--log-dir"])
    .arg(dir.path())
    .env_remove("PEERSCOPE_TOKEN");
    let (mut child, addr) = common::start_serve(cmd);
    let c = reqwest::blocking::Client::new();
    let mut acked = 0u64;
    let mut refused = 0u64;
    for seq in 0..200u64 {
        // Two records per request: a refused request must leave neither behind.
        let body = format!("{}\n{}\n", record(seq * 2), record(seq * 2 + 1));
        let status = c
            .post(format!("http://{addr}/v1/feedback"))
            .body(body)
            .send()
            .expect("post")
            .status();
        match status.as_u16() {
            204 => acked += 2,
            503 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        acked > 0 && refused > 0,
        "acked {acked}, refused {refused}: the limit was not reached"
    );
    let metrics = c
        .get(format!("http://{addr}/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    assert!(metrics.contains("peerscope_write_errors_total{stream=\"feedback\"}"));
    assert!(
        !metrics.contains("peerscope_write_errors_total{stream=\"feedback\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("peerscope_store_errors_total {refused}")),
        "{metrics}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let stored = logged(dir.path());
    assert_eq!(
        stored.len() as u64,
        acked,
        "the log holds exactly the acknowledged records"
    );
    let seqs: Vec<u64> = stored.iter().map(|(_, s)| *s).collect();
    assert_eq!(seqs, (0..acked).collect::<Vec<_>>());
}
