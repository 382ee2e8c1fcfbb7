use super::figures::{Latencies, NodeFigures};
use super::*;

/// A line nginx 1.26 wrote with deploy/nginx-cdn.conf's format, for a dash.js 5.2.1
/// segment request (CMCD v2 in request mode, query form).
const DASH_SEGMENT: &str = r#"{"msec":1796246795.859,"node":"edge-1","addr":"127.0.0.1","method":"GET","uri":"/dash/chunk-stream0-00003.m4s?CMCD=ab%3D%28300%3Bv+64%3Ba%29%2Cbl%3D%284000%3Bv%29%2Cbr%3D%28300%3Bv%29%2Ccid%3D%22c1%22%2Cd%3D2000%2Cdl%3D4000%2Clab%3D%28300%3Bv+64%3Ba%29%2Cmtp%3D%2812600%3Bv%29%2Cnor%3D%28%22chunk-stream0-00004.m4s%22%29%2Cot%3Dv%2Cpb%3D%28300%3Bv%29%2Crtp%3D800%2Csf%3Dd%2Csid%3D%22s1%22%2Csn%3D8%2Cst%3Dv%2Csta%3Dr%2Ctab%3D%28300%3Bv+64%3Ba%29%2Ctb%3D%28300%3Bv%29%2Ctpb%3D%28300%3Bv%29%2Cv%3D2","status":200,"bytes":58124,"request_time":0.001,"upstream_header_time":"0.001","cache":"MISS","cmcd_request":"","cmcd_object":"","cmcd_status":"","cmcd_session":""}"#;

fn line(fields: &str) -> String {
    format!(
        r#"{{"msec":1344349800.250,"node":"hk-1","addr":"203.0.113.9","uri":"/seg/1.m4s","status":200,"bytes":1000,"request_time":0.120{fields}}}"#
    )
}

fn parse(text: &str) -> Result<Request, RecordError> {
    parse_request(text.as_bytes())
}

#[test]
fn a_real_nginx_line_gives_the_request_and_its_cmcd() {
    let r = parse(DASH_SEGMENT).expect("parses");
    assert_eq!(r.at_ms, 1_796_246_795_859);
    assert_eq!(
        (r.node.as_str(), r.client.as_str()),
        ("edge-1", "127.0.0.1")
    );
    assert_eq!((r.status, r.bytes, r.time_ms), (200, 58124, 1));
    assert_eq!((r.origin_ms, r.cache), (Some(1), CacheStatus::Miss));
    let cmcd = r.cmcd.expect("has CMCD").expect("valid CMCD");
    assert_eq!(cmcd.text("sid"), Some("s1"));
    assert_eq!(cmcd.text("cid"), Some("c1"));
    assert_eq!(cmcd.int("br"), Some(300));
    assert_eq!(cmcd.int("mtp"), Some(12600));
    assert_eq!(cmcd.text("sta"), Some("r"));
    // `+` in the query is the space between inner-list items.
    assert_eq!(cmcd.get("ab").map(|v| v.items().len()), Some(2));
}

#[test]
fn the_header_form_and_the_query_form_make_one_report() {
    let text = line(r#","cmcd_request":"bl=21300, mtp=25400","cmcd_session":"-","cmcd_status":"""#)
        .replace("/seg/1.m4s", "/a.m4s?x=1&CMCD=br%3D3200%2Csid%3D%22s%22");
    let r = parse(&text).expect("parses");
    let cmcd = r.cmcd.expect("has CMCD").expect("valid");
    assert_eq!(
        (cmcd.int("br"), cmcd.int("bl"), cmcd.int("mtp")),
        (Some(3200), Some(21300), Some(25400))
    );
}

#[test]
fn a_request_without_cmcd_counts_for_the_node_only() {
    let r = parse(&line("")).expect("parses");
    assert!(r.cmcd.is_none());
    assert_eq!(r.cache, CacheStatus::NotCached);
    assert_eq!(r.origin_ms, None);
}

#[test]
fn broken_cmcd_is_refused_but_the_request_stays() {
    let r = parse(&line("").replace("/seg/1.m4s", "/a?CMCD=br%3D%2C%2C")).expect("the line parses");
    let e = r.cmcd.expect("had CMCD").expect_err("refused");
    assert_eq!(e.reason, Reason::InvalidCmcd);
    // A report without a session id cannot be followed.
    let r = parse(&line("").replace("/seg/1.m4s", "/a?CMCD=br%3D300")).expect("the line parses");
    let e = r.cmcd.expect("had CMCD").expect_err("refused");
    assert_eq!(e.field, Some("sid"));
}

#[test]
fn origin_times_of_every_upstream_tried_add_up() {
    for (text, want) in [
        (r#""0.010, 0.020""#, Some(30)),
        (r#""0.004 : 0.002""#, Some(6)),
        (r#""-, 0.050""#, Some(50)),
        (r#""-""#, None),
        (r#""""#, None),
        ("0.007", Some(7)),
    ] {
        let r = parse(&line(&format!(r#","upstream_header_time":{text}"#))).expect(text);
        assert_eq!(r.origin_ms, want, "{text}");
    }
}

#[test]
fn cache_statuses_are_hits_misses_or_not_cached() {
    for (text, want) in [
        ("HIT", CacheStatus::Hit),
        ("STALE", CacheStatus::Hit),
        ("UPDATING", CacheStatus::Hit),
        ("REVALIDATED", CacheStatus::Hit),
        ("MISS", CacheStatus::Miss),
        ("EXPIRED", CacheStatus::Miss),
        ("BYPASS", CacheStatus::Miss),
        ("-", CacheStatus::NotCached),
    ] {
        let r = parse(&line(&format!(r#","cache":"{text}""#))).expect(text);
        assert_eq!(r.cache, want, "{text}");
    }
    let e = parse(&line(r#","cache":"hit""#)).expect_err("unknown status");
    assert_eq!((e.reason, e.field), (Reason::UnknownValue, Some("cache")));
}

#[test]
fn bad_lines_are_refused_naming_the_field() {
    let cases: [(&str, Reason, Option<&str>); 9] = [
        ("not json", Reason::InvalidJson, None),
        ("[1,2]", Reason::NotAnObject, None),
        (
            r#"{"node":"a","addr":"b","uri":"/","status":200,"bytes":1,"request_time":0}"#,
            Reason::MissingField,
            Some("msec"),
        ),
        (
            &line(r#","status":"200""#).replacen(r#""status":200,"#, "", 1),
            Reason::WrongType,
            Some("status"),
        ),
        (
            &line("").replace(r#""status":200"#, r#""status":42"#),
            Reason::OutOfRange,
            Some("status"),
        ),
        (
            &line("").replace(r#""bytes":1000"#, r#""bytes":-1"#),
            Reason::WrongType,
            Some("bytes"),
        ),
        (
            &line("").replace("0.120", "1e9"),
            Reason::OutOfRange,
            Some("request_time"),
        ),
        (
            &line(r#","upstream_header_time":"soon""#),
            Reason::WrongType,
            Some("upstream_header_time"),
        ),
        (
            &line("").replace(r#""node":"hk-1""#, r#""node":7"#),
            Reason::WrongType,
            Some("node"),
        ),
    ];
    for (text, reason, field) in cases {
        let e = parse(text).expect_err(text);
        assert_eq!((e.reason, e.field), (reason, field), "{text}: {e}");
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let r = parse(&line(r#","http_user_agent":"x","request_length":310"#)).expect("parses");
    assert_eq!(r.status, 200);
}

fn request(status: u16, cache: CacheStatus, origin_ms: Option<u32>, time_ms: u32) -> Request {
    Request {
        at_ms: 0,
        node: "n".into(),
        client: "c".into(),
        status,
        bytes: 100,
        time_ms,
        origin_ms,
        cache,
        cmcd: None,
    }
}

#[test]
fn node_figures_count_hits_errors_and_latencies() {
    let mut f = NodeFigures::default();
    for r in [
        request(200, CacheStatus::Hit, None, 2),
        request(200, CacheStatus::Hit, None, 3),
        request(200, CacheStatus::Miss, Some(40), 50),
        request(404, CacheStatus::Miss, Some(10), 11),
        request(502, CacheStatus::NotCached, None, 900),
    ] {
        f.add(&r);
    }
    assert_eq!((f.requests, f.bytes), (5, 500));
    assert_eq!(f.hit_ratio(), Some(0.5));
    assert_eq!(f.error_rate(), Some(0.4));
    assert_eq!((f.client_errors, f.server_errors), (1, 1));
    assert_eq!(f.origin_ms.percentile(50.0), Some(10));
    assert_eq!(f.origin_ms.percentile(95.0), Some(40));
    assert_eq!(f.request_ms.percentile(50.0), Some(11));
    assert_eq!(NodeFigures::default().hit_ratio(), None);
    assert_eq!(NodeFigures::default().error_rate(), None);
}

#[test]
fn merging_minutes_gives_the_figures_of_the_span() {
    let rs = [
        request(200, CacheStatus::Hit, None, 2),
        request(200, CacheStatus::Miss, Some(40), 50),
        request(503, CacheStatus::Miss, Some(7), 9),
    ];
    let mut whole = NodeFigures::default();
    let (mut a, mut b) = (NodeFigures::default(), NodeFigures::default());
    for (i, r) in rs.iter().enumerate() {
        whole.add(r);
        if i == 0 { &mut a } else { &mut b }.add(r);
    }
    a.merge(&b);
    assert_eq!(a, whole);
}

#[test]
fn percentiles_are_nearest_rank() {
    let mut l = Latencies::default();
    for ms in 1..=100 {
        l.add(ms);
    }
    assert_eq!(l.percentile(50.0), Some(50));
    assert_eq!(l.percentile(95.0), Some(95));
    assert_eq!(l.percentile(100.0), Some(100));
    assert_eq!(l.percentile(0.0), Some(1));
    assert_eq!(Latencies::default().percentile(50.0), None);
}
