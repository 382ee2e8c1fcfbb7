use super::json::{log_line, parse_log_line, report_from_object};
use super::sessions::{CmcdSessions, NO_CONTENT_ID};
use super::text::{parse_dictionary, to_text};
use super::*;
use crate::engine::record::Event;

/// The report the issue checks with, in JSON.
const ISSUE_JSON: &str = r#"{"v":2,"e":"t","sid":"6e2fb550-c457-11e9-bb97-0800200c9a66","cid":"ch1","sta":"p","br":[3200],"bl":[21300],"mtp":[25400],"ts":1344349800000}"#;
/// The same in the text form.
const ISSUE_TEXT: &str = r#"v=2,e=t,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",cid="ch1",sta=p,br=(3200),bl=(21300),mtp=(25400),ts=1344349800000"#;

fn from_json(text: &str) -> Result<Report, crate::engine::record::RecordError> {
    let v: serde_json::Value = serde_json::from_str(text).expect("test JSON");
    let serde_json::Value::Object(o) = v else {
        panic!("an object")
    };
    report_from_object(o)?.checked()
}

fn from_text(text: &str) -> Result<Report, crate::engine::record::RecordError> {
    parse_dictionary(text)?.checked()
}

#[test]
fn the_text_and_json_forms_of_one_report_are_the_same_report() {
    let a = from_json(ISSUE_JSON).expect("valid");
    let b = from_text(ISSUE_TEXT).expect("valid");
    assert_eq!(a, b);
    assert_eq!(a.int("br"), Some(3200));
    assert_eq!(a.text("sta"), Some("p"));
    assert_eq!(a.int("ts"), Some(1_344_349_800_000));
    assert_eq!(from_text(&to_text(&a)).expect("round trip"), a);
}

#[test]
fn every_rfc_8941_bare_type_and_parameters_are_read() {
    let r = parse_dictionary(
        r#"su,bs=?0,pr=1.25,d=-4,cdn="a \"q\" \\ b",ot=av,nor=("../a.mp4";r="0-99" "b.m4s"),br=(3200;ot=v 128;ot=a),com.example-myKey=:aGk=:, x=?1;p"#,
    )
    .expect("valid text");
    assert_eq!(r.first("su"), Some(&Bare::Bool(true)));
    assert_eq!(r.first("bs"), Some(&Bare::Bool(false)));
    assert_eq!(r.first("pr"), Some(&Bare::Dec(1.25)));
    assert_eq!(r.int("d"), Some(-4));
    assert_eq!(r.text("cdn"), Some(r#"a "q" \ b"#));
    assert_eq!(r.text("ot"), Some("av"));
    assert_eq!(r.get("nor").map(|v| v.items().len()), Some(2));
    assert_eq!(
        r.get("nor").and_then(|v| v.items()[0].param("r")),
        Some(&Bare::Text("0-99".into()))
    );
    // A v2 inner list: the video item is the one read as the bitrate.
    assert_eq!(r.int("br"), Some(3200));
    assert_eq!(r.text("com.example-myKey"), Some(":aGk=:"));
    assert_eq!(
        r.get("x").and_then(|v| v.items()[0].param("p")),
        Some(&Bare::Bool(true))
    );
    // The same value written back as text and read again.
    assert_eq!(parse_dictionary(&to_text(&r)).expect("round trip"), r);
}

#[test]
fn v1_single_values_and_v2_inner_lists_are_both_accepted() {
    let v1 = from_text(r#"br=3200,bl=21300,mtp=25400,sid="s""#).expect("v1");
    let v2 = from_text(r#"br=(3200),bl=(21300),mtp=(25400),sid="s",v=2"#).expect("v2");
    for r in [&v1, &v2] {
        assert_eq!(
            (r.int("br"), r.int("bl"), r.int("mtp")),
            (Some(3200), Some(21300), Some(25400))
        );
    }
}

#[test]
fn malformed_text_is_refused_with_the_key_and_position() {
    for (text, says) in [
        (r#"sid="s",br=3.14159"#, "key `br`"),
        (
            r#"sid="s",cid="unterminated"#,
            "key `cid`: a string is not closed",
        ),
        (r#"sid="s",,br=1"#, "expected a key"),
        (r#"sid="s",br=1,"#, "a `,` ends the text"),
        (r#"sid="s" br=1"#, "expected `,` between members"),
        (r#"sid="s",bs=?2"#, "key `bs`: a boolean is ?0 or ?1"),
        (r#"sid="s",br=(1,2)"#, "key `br`: expected a space or `)`"),
        (
            "sid=\"s\u{e9}\"",
            "key `sid`: a string holds printable ASCII only",
        ),
        (
            r#"sid="s",n=1234567890123456"#,
            "key `n`: an integer has at most 15 digits",
        ),
    ] {
        let err = from_text(text).expect_err(text).to_string();
        assert!(err.contains(says), "{text}: {err}");
    }
}

#[test]
fn known_keys_of_the_wrong_type_or_range_are_refused_by_name() {
    for (text, field, says) in [
        (r#"sid="s",br="fast""#, "br", "expected a number"),
        (r#"sid="s",d=2000.5"#, "d", "expected an integer"),
        (r#"sid="s",br=-1"#, "br", "must be ≥ 0"),
        (r#"sid="s",sta=z"#, "sta", "is not one of s, p, k, r"),
        (r#"sid="s",v=3"#, "v", "version 3 is not supported"),
        (r#"sid="s",bs=1"#, "bs", "expected a boolean"),
        (r#"sid="s",cid=(a b)"#, "cid", "expected one value"),
        (r#"sid="""#, "sid", "must not be empty"),
        ("cid=\"c\"", "sid", "missing"),
    ] {
        let err = from_text(text).expect_err(text);
        assert_eq!(err.field, Some(field), "{text}: {err}");
        assert!(err.to_string().contains(says), "{text}: {err}");
    }
    let long = format!(r#"sid="{}""#, "x".repeat(65));
    assert_eq!(from_text(&long).expect_err("too long").field, Some("sid"));
}

#[test]
fn unknown_and_custom_keys_are_kept() {
    let r = from_json(r#"{"sid":"s","com.example-n":[1,2],"zz":"later revision","ot":{"value":"v","params":{"q":1}}}"#)
        .expect("valid");
    assert_eq!(r.members.len(), 4);
    let mut line = Vec::new();
    log_line(&r, "10.0.0.1", 7, "fs1", &mut line);
    let back = parse_log_line(&line).expect("stored line reads back");
    assert_eq!(back.report, r);
    assert_eq!(
        (back.recv, back.ip.as_str(), back.srv.as_deref()),
        (7, "10.0.0.1", Some("fs1"))
    );
}

#[test]
fn a_players_own_ip_recv_and_srv_are_not_taken_in_the_text_form_either() {
    let r = from_text(r#"sid="s",srv="me",recv=1"#).expect("valid");
    let mut line = Vec::new();
    log_line(&r, "10.0.0.1", 7, "fs1", &mut line);
    let back = parse_log_line(&line).expect("reads back");
    assert_eq!(back.report.members.len(), 1);
    assert_eq!((back.recv, back.srv.as_deref()), (7, Some("fs1")));
}

#[test]
fn a_players_own_ip_recv_and_srv_are_not_taken() {
    let r = from_json(r#"{"sid":"s","ip":"6.6.6.6","recv":1,"srv":"me"}"#).expect("valid");
    assert_eq!(r.members.len(), 1);
    let mut line = Vec::new();
    log_line(&r, "10.0.0.1", 7, "fs1", &mut line);
    let v: serde_json::Value = serde_json::from_slice(&line).expect("JSON");
    assert_eq!(v["ip"], "10.0.0.1");
    assert_eq!(v["recv"], 7);
}

/// What a derived record says: event, period, play, stall, down, bitrate, startup, channel.
type Derived = (Event, f64, f64, f64, f64, f64, Option<i64>, String);

/// One scripted session: (ms after start, text report).
fn run(script: &[(i64, &str)]) -> Vec<Derived> {
    const T0: i64 = 1_344_349_800_000;
    let mut sessions = CmcdSessions::new();
    let mut out = Vec::new();
    for (at, text) in script {
        let text = format!(r#"sid="a",ts={},{text}"#, T0 + at);
        let report = from_text(&text).expect("script report");
        sessions.push_report(&report, T0 + at + 40, "10.1.2.3", |r| {
            let p = r.payload;
            out.push((
                p.event,
                p.period_s,
                p.play_s,
                p.stall_s,
                p.down_kbps,
                p.bitrate_kbps,
                p.startup_ms,
                r.channel.to_owned(),
            ));
            assert_eq!((r.peer, r.session, r.ip), ("a", "a", "10.1.2.3"));
            assert!(p.up_kbps.is_nan() && p.server_kbps.is_nan());
        });
    }
    out
}

#[test]
fn a_session_with_a_stall_becomes_a_join_reports_and_a_leave() {
    let out = run(&[
        (0, r#"e=ps,sta=s,cid="ch1""#),
        // The time-interval report sent at start is folded into the next.
        (10, "e=t,br=(3200),mtp=(25400)"),
        (1_500, "e=ps,sta=p,msd=1500"),
        (20_000, "e=ps,sta=r"),
        (23_000, "e=ps,sta=p"),
        (30_010, "e=t,br=(3200),mtp=(12000)"),
        (60_010, "e=t,br=(1600)"),
        (65_010, "e=ps,sta=q"),
    ]);
    let events: Vec<Event> = out.iter().map(|o| o.0).collect();
    assert_eq!(
        events,
        [
            Event::Join,
            Event::Report,
            Event::Report,
            Event::Report,
            Event::Leave
        ]
    );
    // 0 → 30.01 s: starting 1.5 s, playing 18.5 + 7.01 s, rebuffering 3 s.
    let first = &out[1];
    assert!((first.1 - 30.01).abs() < 1e-9, "{first:?}");
    assert!(
        (first.2 - 25.51).abs() < 1e-9 && (first.3 - 3.0).abs() < 1e-9,
        "{first:?}"
    );
    assert_eq!((first.4, first.5, first.6), (12000.0, 3200.0, Some(1500)));
    assert_eq!(first.7, "ch1");
    // 30.01 → 60.01 s playing; the last throughput is kept, the new bitrate taken.
    let second = &out[2];
    assert_eq!(
        (second.2, second.3, second.4, second.5, second.6),
        (30.0, 0.0, 12000.0, 1600.0, None)
    );
    // The end: 5 s more of play, then the leave.
    assert!((out[3].2 - 5.0).abs() < 1e-9);
}

#[test]
fn a_session_without_content_id_or_bitrate_says_so() {
    let out = run(&[(0, "e=ps,sta=p"), (30_000, "e=t")]);
    assert_eq!(out[0].7, NO_CONTENT_ID);
    assert!(out[1].4.is_nan() && out[1].5.is_nan(), "{:?}", out[1]);
    let qoe = crate::engine::aggregate::qoe::QoeParams::default();
    assert_eq!(qoe.mos(out[1].5, out[1].2, out[1].3), None);
}

#[test]
fn a_retried_copy_is_dropped_and_a_late_copy_moves_no_state() {
    let mut sessions = CmcdSessions::new();
    let mut events = Vec::new();
    let reports = [
        (0, r#"sid="a",ts=1000,e=ps,sta=p"#),
        (30_000, r#"sid="a",ts=31000,e=t"#),
        (30_500, r#"sid="a",ts=31000,e=t"#),
        (40_000, r#"sid="a",ts=41000,e=ps,sta=r"#),
        (40_100, r#"sid="a",ts=30000,e=ps,sta=p"#),
        (61_000, r#"sid="a",ts=61000,e=t"#),
    ];
    for (recv, text) in reports {
        let r = from_text(text).expect("valid");
        sessions.push_report(&r, recv, "", |c| {
            events.push((c.payload.event, c.payload.play_s, c.payload.stall_s));
        });
    }
    assert_eq!(sessions.duplicates, 1);
    assert_eq!(
        events,
        [
            (Event::Join, 0.0, 0.0),
            (Event::Report, 30.0, 0.0),
            (Event::Report, 10.0, 20.0)
        ]
    );
}

#[test]
fn a_retried_copy_of_the_report_that_ended_a_view_starts_no_other() {
    let mut sessions = CmcdSessions::new();
    let mut events = Vec::new();
    for (recv, text) in [
        (0, r#"sid="a",ts=0,e=ps,sta=p"#),
        (30_000, r#"sid="a",ts=30000,e=ps,sta=q"#),
        (33_000, r#"sid="a",ts=30000,e=ps,sta=q"#),
        (90_000, r#"sid="a",ts=90000,e=ps,sta=s"#),
    ] {
        let r = from_text(text).expect("valid");
        sessions.push_report(&r, recv, "", |c| events.push(c.payload.event));
    }
    assert_eq!(sessions.duplicates, 1);
    // The same sid playing again later is a new view.
    assert_eq!(
        events,
        [Event::Join, Event::Report, Event::Leave, Event::Join]
    );
}

#[test]
fn request_mode_reports_without_states_count_bsd_as_stall() {
    let out = run(&[
        (0, "br=800"),
        (10_000, "br=800,bsd=(2000)"),
        (20_000, "br=800,pr=0"),
    ]);
    assert_eq!(out.len(), 3);
    assert_eq!((out[1].2, out[1].3), (8.0, 2.0));
    assert_eq!((out[2].2, out[2].3), (0.0, 0.0));
}

#[test]
fn a_long_silence_is_not_counted_as_play() {
    let out = run(&[(0, "e=ps,sta=p"), (30_000, "e=t"), (3_000_000, "e=t")]);
    // At most twice the period, and at least a minute.
    assert!((out[2].2 - 60.0).abs() < 1e-9, "{:?}", out[2]);
}

/// Reports dash.js 5.2.1 and hls.js 1.7.4 sent from Debian's chromium during
/// `tests/browser_e2e.rs` (refreshed with `PEERSCOPE_CMCD_FIXTURES=tests/fixtures/cmcd`):
/// each reads, and its session shows the bitrate the stream was encoded at, a throughput
/// and the stall the test's slowed segments caused.
#[test]
fn reports_captured_from_real_players_read_and_give_their_sessions_stall() {
    for (name, text, bitrate) in [
        (
            "dash.js",
            include_str!("../../../tests/fixtures/cmcd/dashjs-5.2.1.cmcd"),
            600.0,
        ),
        (
            "hls.js",
            include_str!("../../../tests/fixtures/cmcd/hlsjs-1.7.4.cmcd"),
            730.0,
        ),
    ] {
        let mut sessions = CmcdSessions::new();
        let (mut play, mut stall, mut events) = (0.0, 0.0, Vec::new());
        let (mut bitrates, mut throughputs) = (Vec::new(), Vec::new());
        for line in text.lines() {
            let report = from_text(line).unwrap_or_else(|e| panic!("{name}: {line}: {e}"));
            let ts = report.int("ts").expect("event mode carries ts");
            sessions.push_report(&report, ts + 40, "127.0.0.1", |r| {
                events.push(r.payload.event);
                play += r.payload.play_s;
                stall += r.payload.stall_s;
                if r.payload.event == Event::Report {
                    bitrates.push(r.payload.bitrate_kbps);
                    throughputs.push(r.payload.down_kbps);
                }
            });
        }
        assert_eq!(events.first(), Some(&Event::Join), "{name}");
        assert!(
            events.iter().filter(|e| **e == Event::Report).count() >= 4,
            "{name}: {events:?}"
        );
        assert!(
            stall >= 1.0,
            "{name}: the slowed segments stalled it: {stall} s"
        );
        assert!(play > stall, "{name}: {play} s played, {stall} s stalled");
        assert!(
            bitrates.iter().any(|b| (b - bitrate).abs() < 1e-9),
            "{name}: {bitrates:?}"
        );
        // dash.js sends `mtp` only with play-state reports: some periods have none.
        assert!(
            throughputs.iter().any(|d| *d > 0.0),
            "{name}: {throughputs:?}"
        );
    }
}

#[test]
fn dash_js_names_the_video_item_of_an_inner_list_with_a_bare_parameter() {
    let r = from_text(r#"sid="s",br=(64;a 600;v),bl=(14000;v 7900;a)"#).expect("valid");
    assert_eq!((r.int("br"), r.int("bl")), (Some(600), Some(14000)));
}

#[test]
fn an_audio_request_s_bitrate_is_not_the_session_s() {
    // Request mode: dash.js sends `br=(64;a)` on audio segments and `br=(600;v)` on
    // video ones; v1 players say `ot=a` with a bare `br`.
    let out = run(&[
        (0, "ot=v,br=(600;v)"),
        (10_000, "ot=a,br=(64;a)"),
        (20_000, "ot=a,br=64"),
        (30_000, "ot=av,br=900"),
    ]);
    let bitrates: Vec<f64> = out.iter().skip(1).map(|d| d.5).collect();
    assert_eq!(bitrates, [600.0, 600.0, 900.0]);
}

#[test]
fn v1_audio_and_video_requests_of_one_millisecond_are_two_reports() {
    let mut sessions = CmcdSessions::new();
    for text in [r#"sid="a",ot=v,br=600"#, r#"sid="a",ot=a,br=64"#] {
        sessions.push_report(&from_text(text).expect("valid"), 1_000, "", |_| {});
    }
    assert_eq!(sessions.duplicates, 0);
}

#[test]
fn bitrates_sent_as_decimals_are_read_rounded() {
    // hls.js 1.7.4 in request mode: `lb=(400.4)`, `tpb=(400.4)`.
    let r = from_text(r#"sid="s",br=(400),lb=(400.4),tpb=(400.6),mtp=1999.5"#).expect("valid");
    assert_eq!(
        (r.int("br"), r.int("lb"), r.int("tpb"), r.int("mtp")),
        (Some(400), Some(400), Some(401), Some(2000))
    );
}

#[test]
fn stored_lines_read_back_or_say_what_is_wrong() {
    let ok = parse_log_line(br#"{"s\u0069d":"a","br":[600],"x-y":null,"cid":"c","cid":"d","ip":"10.0.0.1","recv":5,"srv":"fs1"}"#)
        .expect("reads");
    // An escaped key is the same key; a key given twice keeps its last value.
    assert_eq!(
        (ok.report.text("sid"), ok.report.text("cid")),
        (Some("a"), Some("d"))
    );
    assert_eq!(
        (ok.recv, ok.ip.as_str(), ok.srv.as_deref()),
        (5, "10.0.0.1", Some("fs1"))
    );
    assert!(ok.report.get("x-y").is_none());
    let gone = parse_log_line(br#"{"sid":"a","br":600,"br":null,"recv":1}"#).expect("reads");
    assert!(
        gone.report.get("br").is_none(),
        "a later null removes the key"
    );
    let many = (0..140)
        .map(|i| format!(r#""k{i}":1"#))
        .collect::<Vec<_>>()
        .join(",")
        + ",";
    for (line, reason, field) in [
        ("[1]".to_owned(), Reason::NotAnObject, None),
        (
            r#"{"sid":"a","recv":1"#.to_owned(),
            Reason::InvalidJson,
            None,
        ),
        (
            r#"{"sid":"a","recv":1} x"#.to_owned(),
            Reason::InvalidJson,
            None,
        ),
        (
            r#"{"sid":"a"}"#.to_owned(),
            Reason::MissingField,
            Some("recv"),
        ),
        (
            r#"{"sid":"a","recv":"1"}"#.to_owned(),
            Reason::WrongType,
            Some("recv"),
        ),
        (
            r#"{"recv":1}"#.to_owned(),
            Reason::MissingField,
            Some("sid"),
        ),
        (
            r#"{"sid":"a","b r":1,"recv":1}"#.to_owned(),
            Reason::InvalidCmcd,
            None,
        ),
        (
            r#"{"sid":"a","br":[[1]],"recv":1}"#.to_owned(),
            Reason::WrongType,
            None,
        ),
        // A refused member, then broken JSON: the JSON is the line's error.
        (r#"{"b r":1,"sid":"#.to_owned(), Reason::InvalidJson, None),
        (
            format!(r#"{{{many}"sid":"a","recv":1}}"#),
            Reason::TooLong,
            None,
        ),
    ] {
        let e = parse_log_line(line.as_bytes()).expect_err(&line);
        assert_eq!((e.reason, e.field), (reason, field), "{line}: {e}");
    }
}
