//! The CMCD readers and the session tracker: never panic; a report read from text
//! reads back the same from its text and from its stored log line; whatever reports
//! come, the derived records have a positive period and non-negative play and stall.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peerscope::engine::cmcd::json::{SERVER_KEYS, parse_log_line, report_from_object};
use peerscope::engine::cmcd::sessions::CmcdSessions;
use peerscope::engine::cmcd::text::{parse_dictionary, to_text};
use peerscope::server::stamp::stamp_cmcd;

fuzz_target!(|data: &[u8]| {
    let mut sessions = CmcdSessions::new();
    // Several reports per input, one per line, so sessions see a sequence.
    for (n, line) in data.split(|&b| b == b'\n').enumerate() {
        let report = if line.first() == Some(&b'{') {
            let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(line) else { continue };
            match report_from_object(o) {
                Ok(r) => r,
                Err(_) => continue,
            }
        } else {
            let Ok(text) = std::str::from_utf8(line) else { continue };
            let Ok(r) = parse_dictionary(text) else { continue };
            let again = parse_dictionary(&to_text(&r)).expect("a report's text reads back");
            assert_eq!(again, r, "text round trip");
            r
        };
        let recv = 1_344_349_800_000 + n as i64 * 7_000;
        let mut line = Vec::new();
        if stamp_cmcd(report.clone(), recv, "fs1", "192.0.2.1", &mut line).is_err() {
            continue;
        }
        assert!(!line.contains(&b'\n'));
        let logged = parse_log_line(&line).expect("a stored report reads back");
        let mut stored = report.clone().checked().expect("checked");
        stored.members.retain(|(k, _)| !SERVER_KEYS.contains(&k.as_ref()));
        assert_eq!(logged.report, stored);
        sessions.push_report(&logged.report, recv, &logged.ip, |r| {
            let p = r.payload;
            assert!(p.period_s > 0.0 && p.period_s.is_finite(), "{p:?}");
            assert!(p.play_s >= 0.0 && p.stall_s >= 0.0, "{p:?}");
            assert_eq!(p.recv, recv);
        });
    }
});
