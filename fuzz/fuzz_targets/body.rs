//! The request body decoder and the stamping of each record: never panics, never
//! inflates past the limit, every stamped line is a valid logged record, and the
//! one-line shortcut of the ingest path accepts only what `each_record` reads as that one record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peerscope::engine::record::{Origin, parse_feedback};
use peerscope::recording::layout::Stream;
use peerscope::server::body::{Limits, decode, each_record, single_line};
use peerscope::server::stamp::stamp;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_body: 1 << 16, max_decoded: 1 << 20, max_record: 1 << 12 };
    let gzip = data.first().is_some_and(|b| b & 1 == 1);
    let Ok(body) = decode(data.get(1..).unwrap_or_default(), gzip, &limits) else { return };
    assert!(body.len() <= limits.max_decoded);
    let shortcut = single_line(&body, &limits).and_then(|text| {
        let mut line = Vec::new();
        stamp(Stream::Feedback, text, 1, "fs1", "192.0.2.1", &mut line).ok().map(|()| line)
    });
    let mut stamped = Vec::new();
    let split = each_record(&body, &limits, |_, item| {
        let Ok(text) = item else { return };
        let mut line = Vec::new();
        if stamp(Stream::Feedback, text, 1, "fs1", "192.0.2.1", &mut line).is_ok() {
            assert!(!line.contains(&b'\n'));
            let record = parse_feedback(&line, Origin::Log).expect("a stamped line is a valid logged record");
            assert_eq!(record.payload.recv, 1);
            stamped.push(line);
        }
    });
    if split.is_err() {
        assert!(shortcut.is_none(), "the shortcut stamped a body that the general path refuses");
        return;
    }
    if let Some(line) = shortcut {
        assert_eq!(stamped, [line], "the shortcut and split disagree");
    }
});
