//! Feedback records of a test's own making, written as a recording: the property tests'
//! streams.

use std::collections::BTreeMap;
use std::path::Path;

use peerscope::engine::calendar::MINUTE_MS;

/// 2012-08-07 00:00 UTC: where the streams start.
pub const T0: i64 = 1_344_297_600_000;

/// One record: a peer's message as a feedback server stamped it.
#[derive(Debug, Clone)]
pub struct Rec {
    pub peer: u8,
    pub session: u8,
    pub seq: u64,
    pub recv: i64,
    pub event: &'static str,
    pub period: f64,
    pub up: f64,
    pub down: f64,
    pub server: f64,
    pub bitrate: f64,
    pub play: f64,
    pub stall: f64,
    pub startup: Option<i64>,
    pub server_index: u8,
}

/// The record as a log line.
pub fn line(r: &Rec) -> String {
    serde_json::json!({
        "v": 1, "peer": format!("p{}", r.peer), "session": format!("s{}", r.session), "seq": r.seq,
        "ts": r.recv, "event": r.event, "channel": "c", "period_s": r.period, "up_kbps": r.up,
        "down_kbps": r.down, "server_kbps": r.server, "bitrate_kbps": r.bitrate, "play_s": r.play,
        "stall_s": r.stall, "startup_ms": r.startup, "buffer_s": 1, "partners": 1, "nat": "open",
        "player": "x", "os": "y", "rtt_ms": 1, "ip": "10.0.0.1", "recv": r.recv, "srv": "s",
    })
    .to_string()
}

/// Writes `recs` as a recording: one minute file per server, lines in an order
/// `shuffle_seed` picks.
pub fn write_recording(dir: &Path, recs: &[Rec], shuffle_seed: u64) {
    let mut files: BTreeMap<(u8, i64), Vec<String>> = BTreeMap::new();
    for r in recs {
        files
            .entry((r.server_index, r.recv.div_euclid(MINUTE_MS)))
            .or_default()
            .push(line(r));
    }
    for ((srv, minute), mut lines) in files {
        // Lines inside a file in an arbitrary order.
        let n = lines.len();
        for i in 0..n {
            let j = (shuffle_seed as usize).wrapping_mul(31).wrapping_add(i * 7) % n;
            lines.swap(i, j);
        }
        let t = chrono::DateTime::from_timestamp_millis(minute * MINUTE_MS).expect("time");
        let d = dir
            .join(format!("fs{srv}/feedback"))
            .join(t.format("%Y%m%d").to_string());
        std::fs::create_dir_all(&d).expect("mkdir");
        let body = lines.join("\n") + "\n";
        std::fs::write(d.join(t.format("%Y%m%d-%H%M.jsonl").to_string()), body).expect("write");
    }
}
