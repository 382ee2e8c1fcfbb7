//! The access-log reader (deploy/nginx-cdn.conf's format): never panics; a request it
//! takes has sane numbers, adds to a node's figures, and its CMCD report, kept as a
//! `cmcd` log line, reads back the same with the node's address, time and name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peerscope::engine::cdn::figures::NodeFigures;
use peerscope::engine::cdn::parse_request;
use peerscope::engine::cmcd::json::{SERVER_KEYS, log_line, parse_log_line};

fuzz_target!(|data: &[u8]| {
    let mut figures = NodeFigures::default();
    for line in data.split(|&b| b == b'\n') {
        let Ok(mut request) = parse_request(line) else { continue };
        assert!(request.at_ms >= 0 && request.time_ms <= 600_000, "{request:?}");
        assert!(request.origin_ms.is_none_or(|ms| ms <= 600_000), "{request:?}");
        if let Some(Ok(report)) = request.cmcd.take() {
            let mut out = Vec::new();
            log_line(&report, &request.client, request.at_ms, &request.node, &mut out);
            assert!(!out.contains(&b'\n'));
            let logged = parse_log_line(&out).expect("a kept report reads back");
            let mut stored = report.clone();
            stored.members.retain(|(k, _)| !SERVER_KEYS.contains(&k.as_ref()));
            assert_eq!(logged.report, stored);
            assert_eq!((logged.ip.as_str(), logged.recv), (request.client.as_str(), request.at_ms));
        }
        figures.add(&request);
        assert!(figures.cache_hits <= figures.cache_lookups && figures.cache_lookups <= figures.requests);
        let _ = (figures.origin_ms.percentile(95.0), figures.request_ms.percentile(50.0));
    }
});
