use super::*;

const GOOD: &str = r#"{"v":1,"peer":"p1","session":"s1","seq":7,"ts":1344303000000,"event":"report","channel":"main","period_s":30,"up_kbps":800.5,"down_kbps":900,"server_kbps":100,"bitrate_kbps":420,"play_s":29,"stall_s":1,"startup_ms":2100,"buffer_s":12,"partners":9,"nat":"cone","player":"ps-2.4.0","os":"win7","rtt_ms":33.5,"ip":"112.116.0.9","recv":1344303000100,"srv":"fs1"}"#;

fn with(field: &str, value: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(GOOD).expect("valid");
    let mut obj = v.as_object().expect("object").clone();
    if value == "<absent>" {
        obj.remove(field);
    } else {
        obj.insert(
            field.into(),
            serde_json::from_str(value).expect("valid value"),
        );
    }
    serde_json::Value::Object(obj).to_string()
}

fn reject(line: &str) -> RecordError {
    parse_feedback(line.as_bytes(), Origin::Log).expect_err("must be rejected")
}

#[test]
fn a_good_record_parses_with_borrowed_strings() {
    let r = parse_feedback(GOOD.as_bytes(), Origin::Log).expect("valid");
    assert!(matches!(r.peer, Cow::Borrowed("p1")));
    assert_eq!(r.payload.seq, 7);
    assert_eq!(r.payload.event, Event::Report);
    assert_eq!(r.nat, Nat::Cone);
    assert_eq!(r.payload.startup_ms, Some(2100));
    assert_eq!(r.payload.recv, 1_344_303_000_100);
    assert!((r.payload.up_kbps - 800.5).abs() < f64::EPSILON);
    assert_eq!(r.core().ip, "112.116.0.9");
}

#[test]
fn unknown_fields_are_ignored_and_escapes_decoded() {
    let line = with("extra", r#"{"nested":[1,2,{"a":null}]}"#).replace("\"p1\"", r#""p\u00e9""#);
    let r = parse_feedback(line.as_bytes(), Origin::Log).expect("valid");
    assert_eq!(r.peer, "pé");
}

#[test]
fn startup_may_be_null_or_absent() {
    for v in ["null", "<absent>"] {
        let line = with("startup_ms", v);
        let r = parse_feedback(line.as_bytes(), Origin::Log).expect("valid");
        assert_eq!(r.payload.startup_ms, None);
    }
}

#[test]
fn each_rejection_names_its_field_and_reason() {
    let cases: &[(&str, &str, Reason)] = &[
        ("peer", "<absent>", Reason::MissingField),
        ("recv", "<absent>", Reason::MissingField),
        ("seq", r#""7""#, Reason::WrongType),
        ("seq", "7.0", Reason::WrongType),
        ("seq", "-1", Reason::OutOfRange),
        ("seq", "18446744073709551616", Reason::WrongType),
        ("period_s", "0", Reason::OutOfRange),
        ("up_kbps", "-0.5", Reason::OutOfRange),
        ("up_kbps", "true", Reason::WrongType),
        ("bitrate_kbps", "null", Reason::WrongType),
        ("event", r#""pause""#, Reason::UnknownValue),
        ("nat", "1", Reason::WrongType),
        (
            "channel",
            &format!("\"{}\"", "c".repeat(33)),
            Reason::TooLong,
        ),
        ("peer", r#""""#, Reason::OutOfRange),
        ("v", "2", Reason::UnknownValue),
        ("startup_ms", "2.5", Reason::WrongType),
        ("partners", "[1]", Reason::WrongType),
    ];
    for (field, value, reason) in cases {
        let err = reject(&with(field, value));
        assert_eq!(err.reason, *reason, "{field}={value}: {err}");
        let named = if *field == "v" { "v" } else { field };
        assert_eq!(err.field, Some(named), "{field}={value}: {err}");
        assert!(err.to_string().contains(&format!("`{named}`")), "{err}");
    }
}

#[test]
fn bad_values_are_quoted_in_the_message() {
    let err = reject(&with("period_s", "-3"));
    assert_eq!(err.to_string(), "field `period_s`: must be > 0, got -3");
    let err = reject(&with("seq", r#""abc""#));
    assert_eq!(
        err.to_string(),
        "field `seq`: expected an integer, got a string \"abc\""
    );
}

#[test]
fn hostile_lines_are_rejected_not_fatal() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(Vec<u8>, Reason)> = vec![
        (b"".to_vec(), Reason::InvalidJson),
        (b"{".to_vec(), Reason::InvalidJson),
        (
            GOOD.as_bytes()[..GOOD.len() - 5].to_vec(),
            Reason::InvalidJson,
        ),
        (b"[1,2]".to_vec(), Reason::NotAnObject),
        (b"\"x\"".to_vec(), Reason::NotAnObject),
        (b"{\"v\":1,\"peer\":\"\xff\"}".to_vec(), Reason::InvalidJson),
        (deep.into_bytes(), Reason::NotAnObject),
        (
            format!("{{\"v\":1,\"x\":{}}}", "[".repeat(200)).into_bytes(),
            Reason::InvalidJson,
        ),
        (
            GOOD.replace("800.5", "1e999").into_bytes(),
            Reason::InvalidJson,
        ),
        (format!("{GOOD} {GOOD}").into_bytes(), Reason::InvalidJson),
    ];
    for (line, reason) in cases {
        let err = parse_feedback(&line, Origin::Log).expect_err("rejected");
        assert_eq!(
            err.reason,
            reason,
            "{}: {err}",
            String::from_utf8_lossy(&line[..line.len().min(60)])
        );
    }
}

#[test]
fn peer_posts_need_no_stamp() {
    let line = with("recv", "<absent>");
    let line = with_in(&line, "ip", "<absent>");
    let r = parse_feedback(line.as_bytes(), Origin::Peer).expect("valid without recv and ip");
    assert_eq!(r.ip, None);
    assert_eq!(reject(&line).field, Some("ip"));
}

fn with_in(line: &str, field: &str, value: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(line).expect("valid");
    let obj = v.as_object_mut().expect("object");
    if value == "<absent>" {
        obj.remove(field);
    } else {
        obj.insert(field.into(), serde_json::from_str(value).expect("value"));
    }
    v.to_string()
}

const PROBE: &str = r#"{"v":1,"probe":"UA","dest":"bbc","group":"Internet(England)","ts":1,"rtt_ms":215.5,"loss_fwd":0.01,"loss_rev":0,"reorder_fwd":0,"reorder_rev":0.2,"samples":100,"hops":[{"ip":"10.0.0.1","asn":null},{"ip":"1.2.3.4","asn":4760}],"recv":2,"srv":"fs1"}"#;

#[test]
fn probe_records_parse_with_hops() {
    let p = parse_probe(PROBE.as_bytes(), Origin::Log).expect("valid");
    assert_eq!(p.probe, "UA");
    assert_eq!(p.hops.as_ref().map(Vec::len), Some(2));
    assert_eq!(p.hops.expect("hops")[1].asn, Some(4760));
    let no_hops = with_in(PROBE, "hops", "<absent>");
    assert_eq!(
        parse_probe(no_hops.as_bytes(), Origin::Log)
            .expect("valid")
            .hops,
        None
    );
}

#[test]
fn probe_rejections_name_fields() {
    for (field, value, reason) in [
        ("loss_fwd", "1.5", Reason::OutOfRange),
        ("samples", "0", Reason::OutOfRange),
        ("hops", r#"[{"ip":1}]"#, Reason::WrongType),
        ("dest", "<absent>", Reason::MissingField),
    ] {
        let err = parse_probe(with_in(PROBE, field, value).as_bytes(), Origin::Log)
            .expect_err("rejected");
        assert_eq!((err.reason, err.field), (reason, Some(field)), "{err}");
    }
}

mod differential {
    use super::*;
    use proptest::prelude::*;

    const INTERESTING: &[u8] = b"\"\\-0123456789.eE+ {}[],:tfnul\x01\xff\xc3\t";

    fn mutate(base: &str, edits: &[(usize, usize, bool)]) -> Vec<u8> {
        let mut line = base.as_bytes().to_vec();
        for &(pos, pick, insert) in edits {
            let pos = pos % (line.len() + 1);
            let byte = INTERESTING[pick % INTERESTING.len()];
            if insert || pos == line.len() {
                line.insert(pos, byte);
            } else {
                line[pos] = byte;
            }
        }
        line
    }

    /// A peer's POST of the good record: no `ip`, `recv` or `srv`, keys in another order.
    fn peer_post() -> String {
        let v: serde_json::Value = serde_json::from_str(GOOD).expect("valid");
        let mut obj = v.as_object().expect("object").clone();
        for k in ["ip", "recv", "srv"] {
            obj.remove(k);
        }
        let mut pairs: Vec<(String, serde_json::Value)> = obj.into_iter().collect();
        pairs.reverse();
        let body: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| format!("{}:{v}", serde_json::Value::from(k)))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    /// Every reader that takes the line gives what the general reader gives; the fast
    /// readers never reject, so they can only agree or step aside.
    fn same_verdicts(line: &[u8], origin: Origin) -> Result<(), TestCaseError> {
        let general = parse_feedback_general(line, origin);
        if let Some(r) = fast::any_order(line, origin) {
            prop_assert_eq!(Ok(&r), general.as_ref(), "any-order reader");
        }
        if origin == Origin::Log {
            if let Some(r) = fast::canonical(line) {
                prop_assert_eq!(Ok(&r), general.as_ref(), "canonical reader");
                prop_assert!(
                    fast::any_order(line, origin).is_some(),
                    "any order takes it too"
                );
            }
        }
        prop_assert_eq!(parse_feedback(line, origin), general);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn the_readers_agree_on_logs_and_on_peers(
            edits in proptest::collection::vec((0usize..400, 0usize..64, any::<bool>()), 0..4),
            cut in proptest::option::of(0usize..400),
            base in 0u8..3,
        ) {
            let (text, origin) = match base {
                0 => (GOOD.to_owned(), Origin::Log),
                1 => (peer_post(), Origin::Peer),
                _ => (GOOD.to_owned(), Origin::Peer),
            };
            let mut line = mutate(&text, &edits);
            if let Some(c) = cut {
                line.truncate(c % (line.len() + 1));
            }
            same_verdicts(&line, origin)?;
            // A probe line never panics either reader's way.
            let _ = parse_probe(&line, origin);
        }
    }

    #[test]
    fn the_unmutated_lines_take_their_fast_readers() {
        assert!(fast::canonical(GOOD.as_bytes()).is_some());
        assert!(fast::any_order(peer_post().as_bytes(), Origin::Peer).is_some());
        assert!(fast::canonical(peer_post().as_bytes()).is_none());
    }

    #[test]
    fn numbers_read_the_same_every_way() {
        for n in [
            "0",
            "7",
            "-7",
            "1.5",
            "1e3",
            "1E-3",
            "-0.0",
            "123456789012345678",
            "9223372036854775808",
            "0.1",
            "2.2250738585072014e-308",
            "1.7976931348623157e308",
            "30.000000000000004",
        ] {
            let line = GOOD.replace("\"period_s\":30", &format!("\"period_s\":{n}"));
            for origin in [Origin::Log, Origin::Peer] {
                let fast = fast::feedback(line.as_bytes(), origin);
                let general = parse_feedback_general(line.as_bytes(), origin);
                if let Some(r) = fast {
                    assert_eq!(Ok(r), general, "{n}");
                }
            }
        }
    }
}
