//! The probe stream of a recording under a replay clock.
//!
//! Route-change scores depend on a path's whole past (an AS last seen two weeks ago),
//! so the probe book is always fed in order from a copy of it: the recording's index
//! keeps one every [`CHECKPOINT_MS`] of recording ([`ProbeCheckpoints`]), and a seek
//! starts from the latest before the clock when that saves reading. Until the index
//! is there (or when it keeps none), the book is fed from the recording's start, and a
//! copy is kept in memory every [`CHECKPOINT_MS`] for moving back.

use std::sync::Arc;

use crate::engine::probes::ProbeBook;
use crate::engine::probes::route_change::RouteChangeParams;
use crate::engine::probes::snapshot::{ProbeQuery, ProbeSnapshot};
use crate::engine::record::ProbeRecord;
use crate::recording::probe_checkpoints::{CHECKPOINT_MS, ProbeCheckpoints, StoredBook};
use crate::recording::probes::read_probe_minute;
use crate::recording::scan::MinuteGroup;
use crate::recording::skipped::Skipped;
use crate::source::replay::{DamagedFiles, note_damage};

/// Minutes read ahead of the book (each a minute of the probe stream, a few hundred
/// records at full scale): enough that the reader does not wait while the book's copy
/// is loaded (about 17 ms at the end of four days, the time of some 25 minutes).
const MINUTES_READ_AHEAD: usize = 64;

/// One minute's records, and what reading it skipped.
fn read_minute(group: &MinuteGroup) -> (Skipped, Vec<ProbeRecord<'static>>) {
    let mut skipped = Skipped::default();
    let records = read_probe_minute(group, &mut skipped);
    (skipped, records)
}

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
    /// Copies kept on disk by the recording's index.
    stored: Option<Arc<ProbeCheckpoints>>,
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
            stored: None,
            skipped: 0,
            damaged: DamagedFiles::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The probe stream's minutes.
    pub fn minutes(&self) -> Arc<Vec<MinuteGroup>> {
        Arc::clone(&self.groups)
    }

    /// From now on, seeks start from the index's copies of the book (which make the
    /// copies kept in memory unneeded).
    pub fn use_stored(&mut self, stored: Arc<ProbeCheckpoints>) {
        self.stored = Some(stored);
        self.checkpoints.clear();
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
        let mut copy = None;
        if clock < self.clock {
            self.restore(clock);
        } else if let Some(stored) = self.stored_at_or_before(clock) {
            // A copy ahead of what the book holds: start from it instead of reading up.
            if stored.next > self.next {
                copy = Some(stored);
            }
        }
        let groups = Arc::clone(&self.groups);
        let from = copy.map_or(self.next, |c| c.next);
        let upto = from + groups[from..].partition_point(|g| g.start_ms <= clock);
        // Reading the minutes is most of a long seek: one thread reads them in order
        // while this one loads the copy (the larger, the longer the recording) and
        // feeds the book.
        std::thread::scope(|scope| {
            let (tx, read_ahead) = std::sync::mpsc::sync_channel(MINUTES_READ_AHEAD);
            if upto - from > 1 {
                let minutes = &groups[from..upto];
                scope.spawn(move || {
                    for g in minutes {
                        if tx.send(read_minute(g)).is_err() {
                            break;
                        }
                    }
                });
            } else {
                // Nothing to read ahead: the minute there is, read in turn.
                drop(tx);
            }
            // A copy that cannot be read leaves the book where it was: what was read
            // ahead is then not what comes next (dropping it stops the reader).
            let read_ahead = match copy {
                Some(stored) if !self.load(stored) => None,
                _ => Some(read_ahead),
            };
            self.feed_minutes(clock, read_ahead.iter().flatten());
        });
        self.clock = clock;
        self.book.advance(clock);
    }

    /// Feeds what is pending, then the minutes from `next` on that start by `clock`,
    /// taking each from `read_ahead` while it has them (they are the same minutes).
    fn feed_minutes(
        &mut self,
        clock: i64,
        mut read_ahead: impl Iterator<Item = (Skipped, Vec<ProbeRecord<'static>>)>,
    ) {
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
            if self.stored.is_none()
                && self
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
            let (skipped, records) = read_ahead.next().unwrap_or_else(|| read_minute(g));
            self.skipped += skipped.total();
            note_damage(&mut self.damaged, &skipped);
            self.feed(records, clock);
        }
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

    fn stored_at_or_before(&self, clock: i64) -> Option<StoredBook> {
        self.stored.as_ref()?.latest_at_or_before(clock)
    }

    /// Puts the book at a stored copy. One that cannot be read is given up, with every
    /// other: the book is then fed from the start, as without an index, and the file is
    /// removed so that the next run builds the index again.
    fn load(&mut self, stored: StoredBook) -> bool {
        let Some(books) = &self.stored else {
            return false;
        };
        let Ok(book) = books.load(&stored) else {
            let _ = std::fs::remove_file(books.store());
            self.stored = None;
            return false;
        };
        self.book = book;
        self.next = stored.next;
        self.skipped = stored.skipped;
        self.pending.clear();
        self.clock = i64::MIN;
        true
    }

    fn restore(&mut self, clock: i64) {
        if let Some(stored) = self.stored_at_or_before(clock) {
            if self.load(stored) {
                return;
            }
        }
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
        let q = query(target);
        assert_eq!(wandering.snapshot(&q), direct.snapshot(&q));
        assert_eq!(wandering.book().accepted(), direct.book().accepted());
        assert!(direct.book().accepted() > 5_000);
        assert_eq!(direct.snapshot(&q).events.len(), 8);
    }

    const EVERY_MS: i64 = 20 * 60_000;

    fn stored(groups: &[MinuteGroup], dir: &std::path::Path) -> Arc<ProbeCheckpoints> {
        let store = dir.join("sample.probes");
        let books = ProbeCheckpoints::build(groups, RouteChangeParams::default(), &store, EVERY_MS)
            .expect("books written");
        Arc::new(books)
    }

    fn query(at: i64) -> ProbeQuery {
        ProbeQuery {
            dest: Some("uon".into()),
            range_ms: 3 * 3_600_000,
            ..ProbeQuery::new(at, ProbeMetric::Rtt)
        }
    }

    /// Far forward, back, forward a little, to the end: a replay that starts from the
    /// stored copies holds the book of one pass from the start at every clock.
    #[test]
    fn stored_copies_give_the_book_of_one_pass() {
        let g = groups();
        let dir = tempfile::tempdir().expect("tempdir");
        let books = stored(&g, dir.path());
        let start = g[0].start_ms;
        let end = g[g.len() - 1].start_ms + 60_000;
        // A copy before the first minute and one every 20 minutes after.
        assert_eq!(books.latest_at_or_before(start).map(|b| b.next), Some(0));
        assert!(
            books
                .latest_at_or_before(end)
                .is_some_and(|b| b.until >= start + 8 * EVERY_MS)
        );
        let mut using = ProbeReplay::new(g.clone(), RouteChangeParams::default());
        using.use_stored(books);
        for t in [
            start + 150 * 60_000 + 7_000,
            start + 30_000,
            start + 61 * 60_000,
            start + 62 * 60_000 + 500,
            end,
        ] {
            using.seek(t);
            let mut direct = ProbeReplay::new(g.clone(), RouteChangeParams::default());
            direct.seek(t);
            assert_eq!(
                using.snapshot(&query(t)),
                direct.snapshot(&query(t)),
                "at {t}"
            );
            assert_eq!(using.book().accepted(), direct.book().accepted(), "at {t}");
            assert_eq!(using.skipped(), direct.skipped());
        }
        // Route changes are scored from the whole past: some must have been carried.
        assert!(!using.snapshot(&query(end)).events.is_empty());
    }

    /// A copy whose bytes changed on disk is never used: the book is fed from the
    /// start instead, and the file is removed so that the index is built again.
    #[test]
    fn a_damaged_copy_is_given_up_and_removed() {
        let g = groups();
        let dir = tempfile::tempdir().expect("tempdir");
        let books = stored(&g, dir.path());
        let store = books.store().to_owned();
        let mut bytes = std::fs::read(&store).expect("store");
        // In the last copy, the one a seek to the end starts from.
        let last = bytes.len() - 10;
        bytes[last] ^= 0x5a;
        std::fs::write(&store, bytes).expect("damage");
        let end = g[g.len() - 1].start_ms + 60_000;
        let mut using = ProbeReplay::new(g.clone(), RouteChangeParams::default());
        using.use_stored(books);
        using.seek(end);
        let mut direct = ProbeReplay::new(g, RouteChangeParams::default());
        direct.seek(end);
        assert_eq!(using.snapshot(&query(end)), direct.snapshot(&query(end)));
        assert!(!store.exists(), "a damaged store is removed");
    }
}
