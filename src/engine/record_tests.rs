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
    assert_eq!(r.seq, 7);
    assert_eq!(r.event, Event::Report);
    assert_eq!(r.nat, Nat::Cone);
    assert_eq!(r.startup_ms, Some(2100));
    assert_eq!(r.recv, 1_344_303_000_100);
    assert!((r.up_kbps - 800.5).abs() < f64::EPSILON);
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
        assert_eq!(r.startup_ms, None);
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

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn fast_and_general_decoders_agree(
            edits in proptest::collection::vec((0usize..400, 0usize..64, any::<bool>()), 0..4),
            cut in proptest::option::of(0usize..400),
            probe in any::<bool>(),
        ) {
            let base = if probe { PROBE.replace(r#","hops":[{"ip":"10.0.0.1","asn":null},{"ip":"1.2.3.4","asn":4760}]"#, "") } else { GOOD.to_owned() };
            let mut line = mutate(&base, &edits);
            if let Some(c) = cut {
                line.truncate(c % (line.len() + 1));
            }
            if probe {
                let fast = format!("{:?}", parse_probe(&line, Origin::Log));
                let general = with_general_decoder(|| format!("{:?}", parse_probe(&line, Origin::Log)));
                prop_assert_eq!(fast, general);
            } else {
                let fast = format!("{:?}", parse_feedback(&line, Origin::Log));
                let general = with_general_decoder(|| format!("{:?}", parse_feedback(&line, Origin::Log)));
                prop_assert_eq!(fast, general);
            }
        }
    }

    #[test]
    fn numbers_read_the_same_both_ways() {
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
            let fast = format!("{:?}", parse_feedback(line.as_bytes(), Origin::Log));
            let general = with_general_decoder(|| {
                format!("{:?}", parse_feedback(line.as_bytes(), Origin::Log))
            });
            assert_eq!(fast, general, "{n}");
        }
    }
}
