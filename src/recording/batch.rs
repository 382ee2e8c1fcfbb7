//! One minute of feedback, parsed and sorted by `recv`, in a compact owned form.
//!
//! Minutes are parsed on worker threads and consumed in order by the engine, so a batch
//! must own its data. Strings go into one arena per batch and rows hold spans into it:
//! four allocations per minute instead of four per record.
//!
//! CMCD reports are parsed on the workers too, but become feedback rows only in the
//! consumer, in order: a session's play and stall time depend on its previous report,
//! which may be in the previous minute ([`FeedbackBatch::derive_cmcd`]).

use std::ops::Range;

use crate::engine::cmcd::json::parse_log_line;
use crate::engine::cmcd::sessions::{CmcdSessions, Reading};
use crate::engine::record::{FeedbackCore, Origin, Payload, parse_feedback};

use super::decode::{lines, read_minute_file, recycle};
use super::layout::Stream;
use super::scan::MinuteGroup;
use super::skipped::Skipped;

#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    peer: Span,
    session: Span,
    channel: Span,
    ip: Span,
    payload: Payload,
}

/// One CMCD report as the tracker reads it, with when and from where it came.
#[derive(Debug)]
struct Heard {
    reading: Reading,
    recv: i64,
    ip: String,
}

#[derive(Debug, Default)]
pub struct FeedbackBatch {
    pub start_ms: i64,
    arena: String,
    rows: Vec<Row>,
    /// What the session tracker needs of the minute's CMCD reports, by `recv`, until
    /// [`derive_cmcd`](Self::derive_cmcd).
    cmcd: Vec<Heard>,
    pub skipped: Skipped,
    /// Bytes decoded (uncompressed) for this minute.
    pub bytes: u64,
}

impl FeedbackBatch {
    /// Reads and parses every file of the group; the rows come out sorted by `recv`
    /// (ties keep file order, so the result does not depend on thread timing).
    pub fn read(group: &MinuteGroup) -> FeedbackBatch {
        let mut batch = FeedbackBatch {
            start_ms: group.start_ms,
            ..FeedbackBatch::default()
        };
        for file in &group.files {
            let text = read_minute_file(file);
            batch.skipped.take_file(&file.path, &text);
            batch.bytes += text.bytes.len() as u64;
            if file.stream == Stream::Cmcd {
                for (n, line) in lines(&text.bytes) {
                    match parse_log_line(line) {
                        Ok(r) => batch
                            .cmcd
                            .extend(Reading::of(&r.report).map(|reading| Heard {
                                reading,
                                recv: r.recv,
                                ip: r.ip,
                            })),
                        Err(e) => batch.skipped.record(&file.path, n, &e),
                    }
                }
                recycle(text);
                continue;
            }
            batch.rows.reserve(text.bytes.len() / 300);
            for (n, line) in lines(&text.bytes) {
                match parse_feedback(line, Origin::Log) {
                    Ok(r) => {
                        let row = Row {
                            peer: batch.push(&r.peer),
                            session: batch.push(&r.session),
                            channel: batch.push(&r.channel),
                            ip: batch.push(r.ip.as_deref().unwrap_or("")),
                            payload: r.payload,
                        };
                        batch.rows.push(row);
                    }
                    Err(e) => batch.skipped.record(&file.path, n, &e),
                }
            }
            recycle(text);
        }
        batch.rows.sort_by_key(|r| r.payload.recv);
        batch.cmcd.sort_by_key(|r| r.recv);
        batch
    }

    /// Turns the minute's CMCD reports into feedback rows through `sessions`, which
    /// holds every session's state from the minutes before; rows stay in `recv` order.
    pub fn derive_cmcd(&mut self, sessions: &mut CmcdSessions) {
        if self.cmcd.is_empty() {
            return;
        }
        let reports = std::mem::take(&mut self.cmcd);
        for heard in &reports {
            sessions.push(&heard.reading, heard.recv, &heard.ip, |r| {
                let row = Row {
                    peer: self.push(r.peer),
                    session: self.push(r.session),
                    channel: self.push(r.channel),
                    ip: self.push(r.ip),
                    payload: r.payload,
                };
                self.rows.push(row);
            });
        }
        // Both parts are sorted: the stable sort merges them, feedback first on ties.
        self.rows.sort_by_key(|r| r.payload.recv);
    }

    fn push(&mut self, s: &str) -> Span {
        let start = self.arena.len();
        self.arena.push_str(s);
        Span {
            start: offset(start),
            end: offset(self.arena.len()),
        }
    }

    fn text(&self, s: Span) -> &str {
        &self.arena[Range {
            start: s.start as usize,
            end: s.end as usize,
        }]
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn records(&self) -> impl Iterator<Item = FeedbackCore<'_>> {
        self.rows.iter().map(|r| FeedbackCore {
            peer: self.text(r.peer),
            session: self.text(r.session),
            channel: self.text(r.channel),
            ip: self.text(r.ip),
            payload: r.payload,
        })
    }
}

fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("a minute's strings fit in 4 GiB")
}
