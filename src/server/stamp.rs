//! Turning an accepted peer record into its log line (DESIGN §2, §4): the server is
//! authoritative for `ip` and adds `recv` and `srv`; every other field, known or not, is
//! kept as the peer sent it.
//!
//! The common record — one line, none of those three keys — is stamped by appending text
//! before its closing brace; anything else is rewritten through a JSON map, so a peer
//! cannot smuggle its own `ip` or a second line into the log. A CMCD report, whatever
//! form it came in, is checked and written by [`stamp_cmcd`].

use serde_json::{Map, Value};

use crate::engine::cmcd::{self, Report};
use crate::engine::record::{Origin, Reason, RecordError, parse_feedback, parse_probe};
use crate::recording::layout::Stream;

/// How far a CMCD report's `ts` may be from the server's clock: its session's play and
/// stall time come from `ts` differences, and a clock a day off is not a clock.
pub const CMCD_CLOCK_SKEW_MS: i64 = 24 * 3_600_000;

/// Validates `record` and appends its log line (without the newline) to `out`; on an
/// error `out` is left as it was. Appending saves a buffer and a copy per record on the
/// ingest path, where most bodies hold one record.
pub fn stamp(
    stream: Stream,
    record: &[u8],
    recv: i64,
    srv: &str,
    ip: &str,
    out: &mut Vec<u8>,
) -> Result<(), RecordError> {
    match stream {
        Stream::Feedback => parse_feedback(record, Origin::Peer).map(|_| ())?,
        Stream::Probes => parse_probe(record, Origin::Peer).map(|_| ())?,
        Stream::Cmcd => {
            let object: Map<String, Value> =
                serde_json::from_slice(record.trim_ascii()).map_err(|e| RecordError {
                    reason: if e.is_data() {
                        Reason::NotAnObject
                    } else {
                        Reason::InvalidJson
                    },
                    field: None,
                    detail: format!("invalid JSON: {e}"),
                })?;
            let report = cmcd::json::report_from_object(object)?;
            return stamp_cmcd(report, recv, srv, ip, out);
        }
    }
    let text = record.trim_ascii();
    let plain = !text.iter().any(|&b| b == b'\n' || b == b'\r')
        && !contains(text, b"\"ip\"")
        && !contains(text, b"\"recv\"")
        && !contains(text, b"\"srv\"")
        && text.len() > 2;
    if plain {
        out.reserve(text.len() + 64);
        out.extend_from_slice(&text[..text.len() - 1]);
        if stream == Stream::Feedback {
            out.extend_from_slice(b",\"ip\":");
            push_json_string(out, ip);
        }
        out.extend_from_slice(b",\"recv\":");
        out.extend_from_slice(itoa::Buffer::new().format(recv).as_bytes());
        out.extend_from_slice(b",\"srv\":");
        push_json_string(out, srv);
        out.push(b'}');
        return Ok(());
    }
    let mut map: Map<String, Value> = serde_json::from_slice(text).map_err(|e| RecordError {
        reason: Reason::InvalidJson,
        field: None,
        detail: format!("invalid JSON: {e}"),
    })?;
    if stream == Stream::Feedback {
        map.insert("ip".into(), Value::from(ip));
    }
    map.insert("recv".into(), Value::from(recv));
    map.insert("srv".into(), Value::from(srv));
    let line = serde_json::to_vec(&map).map_err(|e| RecordError {
        reason: Reason::InvalidJson,
        field: None,
        detail: e.to_string(),
    })?;
    out.extend_from_slice(&line);
    Ok(())
}

/// Checks one CMCD report (its keys, and its clock against the server's) and appends its
/// log line (without the newline) to `out`; on an error `out` is left as it was.
pub fn stamp_cmcd(
    report: Report,
    recv: i64,
    srv: &str,
    ip: &str,
    out: &mut Vec<u8>,
) -> Result<(), RecordError> {
    let report = report.checked()?;
    if let Some(ts) = report.int("ts") {
        let skew = ts.saturating_sub(recv);
        if skew.abs() > CMCD_CLOCK_SKEW_MS {
            let hours = skew as f64 / 3_600_000.0;
            return Err(RecordError {
                reason: Reason::OutOfRange,
                field: Some("ts"),
                detail: format!(
                    "{ts} is {:.0} h {} the server's clock (at most 24 h allowed)",
                    hours.abs(),
                    if skew > 0 { "ahead of" } else { "behind" }
                ),
            });
        }
    }
    cmcd::json::log_line(&report, ip, recv, srv, out);
    Ok(())
}

/// Appends `s` as a JSON string; addresses and server names rarely need escaping.
fn push_json_string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, s).is_err() {
        // Writing a str into a Vec cannot fail; an empty string keeps the line valid.
        out.extend_from_slice(b"\"\"");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = r#"{"v":1,"peer":"p1","session":"s1","seq":7,"ts":1,"event":"report","channel":"main","period_s":30,"up_kbps":800,"down_kbps":900,"server_kbps":100,"bitrate_kbps":420,"play_s":30,"stall_s":0,"startup_ms":null,"buffer_s":12,"partners":9,"nat":"cone","player":"x","os":"y","rtt_ms":33,"custom":{"k":[1,2]}}"#;

    fn stamped(
        stream: Stream,
        record: &[u8],
        recv: i64,
        srv: &str,
        ip: &str,
    ) -> Result<Vec<u8>, RecordError> {
        let mut out = b"previous\n".to_vec();
        let result = stamp(stream, record, recv, srv, ip, &mut out);
        let line = out.split_off(b"previous\n".len());
        assert_eq!(out, b"previous\n", "what was in the buffer stays");
        match result {
            Ok(()) => Ok(line),
            Err(e) => {
                assert!(line.is_empty(), "nothing is appended for a refused record");
                Err(e)
            }
        }
    }

    /// `record` with a field the decoders skip over, `"note"`, inserted before `field`;
    /// its value holds a Latin-1 byte, which is not UTF-8.
    fn with_latin1_note(record: &str, field: &str) -> Vec<u8> {
        let at = record.find(field).expect("the field is in the record");
        let mut bytes = record.as_bytes()[..at].to_vec();
        bytes.extend_from_slice(b"\"note\":\"caf\xe9\",");
        bytes.extend_from_slice(&record.as_bytes()[at..]);
        bytes
    }

    fn logged(line: &[u8]) -> serde_json::Value {
        let r = parse_feedback(line, Origin::Log).expect("the log line is a valid logged record");
        assert_eq!(r.payload.seq, 7);
        serde_json::from_slice(line).expect("JSON")
    }

    #[test]
    fn plain_records_get_the_stamp_appended_and_keep_unknown_fields() {
        let line = stamped(
            Stream::Feedback,
            PEER.as_bytes(),
            1234,
            "fs1",
            "203.0.113.9",
        )
        .expect("valid");
        assert!(line.starts_with(&PEER.as_bytes()[..PEER.len() - 1]));
        let v = logged(&line);
        assert_eq!(
            (v["ip"].as_str(), v["recv"].as_i64(), v["srv"].as_str()),
            (Some("203.0.113.9"), Some(1234), Some("fs1"))
        );
        assert_eq!(v["custom"]["k"][1], 2);
    }

    #[test]
    fn a_peer_cannot_choose_its_ip_recv_or_log_lines() {
        let sneaky = PEER.replace(r#""v":1,"#, "\"v\":1,\"ip\":\"10.9.9.9\",\"recv\":1,\n");
        let line = stamped(
            Stream::Feedback,
            sneaky.as_bytes(),
            99,
            "fs\"2",
            "2001:db8::1",
        )
        .expect("valid");
        assert!(!line.contains(&b'\n'));
        let v = logged(&line);
        assert_eq!(
            (v["ip"].as_str(), v["recv"].as_i64(), v["srv"].as_str()),
            (Some("2001:db8::1"), Some(99), Some("fs\"2"))
        );
    }

    #[test]
    fn invalid_records_are_refused_with_their_field() {
        let bad = PEER.replace("\"seq\":7", "\"seq\":\"7\"");
        let err =
            stamped(Stream::Feedback, bad.as_bytes(), 1, "fs1", "1.2.3.4").expect_err("refused");
        assert_eq!(err.field, Some("seq"));
        assert!(stamped(Stream::Feedback, b"{}", 1, "fs1", "1.2.3.4").is_err());
        let latin1 = with_latin1_note(PEER, "\"rtt_ms\"");
        let err = stamped(Stream::Feedback, &latin1, 1, "fs1", "1.2.3.4").expect_err("refused");
        assert!(err.detail.contains("not UTF-8"), "{}", err.detail);
    }

    #[test]
    fn probes_get_recv_and_srv() {
        let probe = r#"{"v":1,"probe":"UA","dest":"bbc","group":"Internet(England)","ts":1,"rtt_ms":215.5,"loss_fwd":0,"loss_rev":0,"reorder_fwd":0,"reorder_rev":0.2,"samples":100}"#;
        let line = stamped(Stream::Probes, probe.as_bytes(), 5, "fs1", "1.2.3.4").expect("valid");
        let p = parse_probe(&line, Origin::Log).expect("logged probe");
        assert_eq!(p.recv, 5);
        let latin1 = with_latin1_note(probe, "\"samples\"");
        let err = stamped(Stream::Probes, &latin1, 5, "fs1", "1.2.3.4").expect_err("refused");
        assert!(err.detail.contains("not UTF-8"), "{}", err.detail);
        assert!(!String::from_utf8_lossy(&line).contains("\"ip\""));
    }
}
