//! The probe stream of a recording under a replay clock.
//!
//! Route-change scores depend on a path's whole past (an AS last seen two weeks ago),
//! so the probe book is always fed from the recording's start. Moving forward feeds the
//! minutes in between; moving back restarts from the nearest checkpoint — a copy of the
//! book taken every [`CHECKPOINT_MS`] of recording — instead of from the start.

use std::sync::Arc;

use crate::engine::probes::ProbeBook;
use crate::engine::probes::route_change::RouteChangeParams;
use crate::engine::probes::snapshot::{ProbeQuery, ProbeSnapshot};
use crate::engine::record::ProbeRecord;
use crate::recording::probes::read_probe_minute;
use crate::recording::scan::MinuteGroup;
use crate::recording::skipped::Skipped;
use crate::source::replay::{DamagedFiles, note_damage};

pub const CHECKPOINT_MS: i64 = 6 * 3_600_000;

struct Checkpoint {
    /// Every record with `recv` < `until` is in `book`; `next` is the first group after.
    until: i64,
    next: usize,
    book: ProbeBook,
    skipped: u64,
}

pub struct ProbeReplay {
    groups: Arc<Vec<MinuteGroup>>,
    params: RouteChangeParams,
    book: ProbeBook,
    next: usize,
    /// Records with `recv` ≤ this are in the book.
    clock: i64,
    /// Rest of a minute read in part, ordered by `recv`.
    pending: Vec<ProbeRecord<'static>>,
    checkpoints: Vec<Checkpoint>,
    /// Lines skipped in what the book holds.
    skipped: u64,
    /// Files met so far that could not be read whole.
    damaged: DamagedFiles,
}

impl ProbeReplay {
    pub fn new(groups: Vec<MinuteGroup>, params: RouteChangeParams) -> Self {
        ProbeReplay {
            groups: Arc::new(groups),
            params,
            book: ProbeBook::new(params),
            next: 0,
            clock: i64::MIN,
            pending: Vec::new(),
            checkpoints: Vec::new(),
            skipped: 0,
            damaged: DamagedFiles::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    pub fn damaged(&self) -> &DamagedFiles {
        &self.damaged
    }

    pub fn book(&self) -> &ProbeBook {
        &self.book
    }

    /// Puts the book at `clock`: every record with `recv` ≤ `clock` is in it.
    pub fn seek(&mut self, clock: i64) {
        if clock < self.clock {
            self.restore(clock);
        }
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.feed(rest, clock);
        }
        let groups = Arc::clone(&self.groups);
        while let Some(g) = groups.get(self.next) {
            if g.start_ms > clock || !self.pending.is_empty() {
                break;
            }
            // Checkpoints sit on minute boundaries, before the group is read.
            if self
                .checkpoints
                .last()
                .is_none_or(|c| g.start_ms - c.until >= CHECKPOINT_MS)
            {
                self.checkpoints.push(Checkpoint {
                    until: g.start_ms,
                    next: self.next,
                    book: self.book.clone(),
                    skipped: self.skipped,
                });
            }
            self.next += 1;
            let mut skipped = Skipped::default();
            let records = read_probe_minute(g, &mut skipped);
            self.skipped += skipped.total();
            note_damage(&mut self.damaged, &skipped);
            self.feed(records, clock);
        }
        self.clock = clock;
        self.book.advance(clock);
    }

    /// Feeds the records up to `clock` and keeps the rest pending.
    fn feed(&mut self, records: Vec<ProbeRecord<'static>>, clock: i64) {
        let split = records.partition_point(|r| r.recv <= clock);
        let mut records = records;
        self.pending = records.split_off(split);
        for r in &records {
            self.book.ingest(r);
        }
    }

    fn restore(&mut self, clock: i64) {
        // A minute starting after the clock holds nothing the book may have yet.
        let keep = self.checkpoints.partition_point(|c| c.until <= clock);
        self.checkpoints.truncate(keep);
        self.pending.clear();
        if let Some(c) = self.checkpoints.last() {
            self.book = c.book.clone();
            self.next = c.next;
            self.skipped = c.skipped;
        } else {
            self.book = ProbeBook::new(self.params);
            self.next = 0;
            self.skipped = 0;
        }
        self.clock = i64::MIN;
    }

    pub fn snapshot(&self, q: &ProbeQuery) -> ProbeSnapshot {
        self.book.snapshot(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::probes::ProbeMetric;
    use crate::recording::scan::Recording;

    fn groups() -> Vec<MinuteGroup> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/recordings/olympics-2012-sample"
        );
        Recording::scan(std::path::Path::new(dir))
            .expect("sample")
            .probes
    }

    /// Forward in small steps, back past a checkpoint, forward again: the same book as
    /// one seek from the start.
    #[test]
    fn seeking_back_and_forth_matches_one_pass() {
        let g = groups();
        let start = g[0].start_ms;
        let mut wandering = ProbeReplay::new(g.clone(), RouteChangeParams::default());
        for k in 0..40 {
            wandering.seek(start + k * 277_000);
        }
        let target = start + 150 * 60_000;
        wandering.seek(target + 20 * 60_000);
        wandering.seek(start + 30_000);
        wandering.seek(target);
        let mut direct = ProbeReplay::new(g, RouteChangeParams::default());
        direct.seek(target);
        let q = ProbeQuery {
            dest: Some("uon".into()),
            range_ms: 3 * 3_600_000,
            ..ProbeQuery::new(target, ProbeMetric::Rtt)
        };
        assert_eq!(wandering.snapshot(&q), direct.snapshot(&q));
        assert_eq!(wandering.book().accepted(), direct.book().accepted());
        assert!(direct.book().accepted() > 5_000);
        assert_eq!(direct.snapshot(&q).events.len(), 8);
    }
}
