//! The record readers on arbitrary bytes, for logs and for peers: none panics, and every
//! reader that takes a line gives exactly what the general reader gives (the fast
//! readers never reject; they can only agree or leave the line to it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use peerscope::engine::record::{Origin, fast, parse_feedback, parse_feedback_general, parse_probe};

fuzz_target!(|line: &[u8]| {
    for origin in [Origin::Log, Origin::Peer] {
        let general = parse_feedback_general(line, origin);
        if let Some(r) = fast::any_order(line, origin) {
            assert_eq!(Ok(&r), general.as_ref(), "the any-order reader and the general one disagree");
        }
        if origin == Origin::Log {
            if let Some(r) = fast::canonical(line) {
                assert_eq!(Ok(&r), general.as_ref(), "the canonical reader and the general one disagree");
            }
        }
        assert_eq!(parse_feedback(line, origin), general);
        let _ = parse_probe(line, origin);
    }
});
