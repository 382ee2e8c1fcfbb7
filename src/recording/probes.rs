//! The probe stream of a recording, minute by minute in `recv` order. Probe data is a
//! few records per path and round, so a minute is read whole into owned records.

use super::decode::{lines, read_minute_file};
use super::scan::MinuteGroup;
use super::skipped::Skipped;
use crate::engine::record::{Origin, ProbeRecord, parse_probe};

/// The records of one minute group across servers, ordered by `recv` (stable, so a
/// server's own order is kept among equal times). Bad lines and damaged files are
/// counted in `skipped`.
pub fn read_probe_minute(group: &MinuteGroup, skipped: &mut Skipped) -> Vec<ProbeRecord<'static>> {
    let mut out = Vec::new();
    for file in &group.files {
        let text = read_minute_file(file);
        skipped.take_file(&file.path, &text);
        for (n, line) in lines(&text.bytes) {
            match parse_probe(line, Origin::Log) {
                Ok(r) => out.push(r.into_owned()),
                Err(e) => skipped.record(&file.path, n, &e),
            }
        }
    }
    out.sort_by_key(|r| r.recv);
    out
}

/// Calls `f` with every probe record of `groups`, in order.
pub fn each_probe(
    groups: &[MinuteGroup],
    skipped: &mut Skipped,
    mut f: impl FnMut(&ProbeRecord<'_>),
) {
    for g in groups {
        for r in read_probe_minute(g, skipped) {
            f(&r);
        }
    }
}
