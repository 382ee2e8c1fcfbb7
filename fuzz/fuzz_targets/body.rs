//! The request body decoder and the stamping of each record: never panics, never
//! inflates past the limit, and every stamped line is a valid logged record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peerscope::engine::record::{Origin, parse_feedback};
use peerscope::server::body::{Limits, decode, split};
use peerscope::server::stamp::{Kind, stamp};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_body: 1 << 16, max_decoded: 1 << 20, max_record: 1 << 12 };
    let gzip = data.first().is_some_and(|b| b & 1 == 1);
    let Ok(body) = decode(data.get(1..).unwrap_or_default(), gzip, &limits) else { return };
    assert!(body.len() <= limits.max_decoded);
    let Ok(items) = split(&body, &limits) else { return };
    for (_, item) in items {
        let Ok(text) = item else { continue };
        if let Ok(line) = stamp(Kind::Feedback, text, 1, "fs1", "192.0.2.1") {
            assert!(!line.contains(&b'\n'));
            let record = parse_feedback(&line, Origin::Log).expect("a stamped line is a valid logged record");
            assert_eq!(record.recv, 1);
        }
    }
});
