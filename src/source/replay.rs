//! The replay source: a recording listed by minute, and an engine that can be put at
//! any instant of it without reading from the start.
//!
//! A seek builds a fresh [`Monitor`] from the minute files of `[t − lookback − warm-up,
//! t]` only: the lookback is what the views show (the window, the sparklines, the
//! timeline's range), the warm-up lets peers that were online before it be counted
//! online (a peer reports every 30 s, and stays online 2 × its period). Moving the
//! clock forward by less than the lookback feeds the records in between instead. "New
//! peers" stays exact because the engine judges newness by the recording's own first
//! appearances ([`FirstSeen`]), kept in the recording's index.
//!
//! Views that read only the whole service's history before the window (no filter, no
//! split) need the records of far less: once the index is read, the engine takes the
//! records of its cells' lookback (the window) and its warm-up, and the service's older
//! history, and its sums during the warm-up, come from the index's
//! [`ServiceHistory`], exactly as reading them would have left them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::aggregate::service::ServiceHistory;
use crate::engine::aggregate::tiers::FINEST_BUCKET_MS;
use crate::engine::geography::Geography;
use crate::engine::geography::location::IpGeo;
use crate::engine::monitor::Monitor;
use crate::engine::observe::first_seen::FirstSeen;
use crate::recording::batch::FeedbackBatch;
use crate::recording::pipeline::read_in_order;
use crate::recording::scan::{MinuteGroup, Recording, ScanProblem};
use crate::recording::skipped::Skipped;

const MINUTE_MS: i64 = 60_000;
/// Records read before the lookback so that peers online at its start are known.
pub const WARM_UP_MS: i64 = 5 * MINUTE_MS;

/// Files that could not be read whole (damaged gzip, unreadable, not regular files),
/// by path, with why: facts about the recording, kept across seeks.
pub type DamagedFiles = BTreeMap<PathBuf, String>;

/// Adds what a minute's reading found wrong with its files.
pub fn note_damage(damaged: &mut DamagedFiles, skipped: &Skipped) {
    for (path, why) in &skipped.damaged_files {
        damaged.entry(path.clone()).or_insert_with(|| why.clone());
    }
}

/// The minute groups of a recording's feedback stream, in time order, and what the
/// scan found wrong in the tree.
#[derive(Debug, Default)]
pub struct FeedbackMinutes {
    groups: Vec<MinuteGroup>,
    problems: Vec<ScanProblem>,
}

impl FeedbackMinutes {
    pub fn new(recording: Recording) -> Self {
        FeedbackMinutes {
            groups: recording.feedback,
            problems: recording.problems,
        }
    }

    /// Links, FIFOs, unreadable directories… the scan skipped.
    pub fn problems(&self) -> &[ScanProblem] {
        &self.problems
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    pub fn groups(&self) -> &[MinuteGroup] {
        &self.groups
    }

    /// The first minute's start, if any.
    pub fn start(&self) -> Option<i64> {
        self.groups.first().map(|g| g.start_ms)
    }

    /// The end of the last minute, if any.
    pub fn end(&self) -> Option<i64> {
        self.groups.last().map(|g| g.start_ms + MINUTE_MS)
    }

    /// Position of the first group starting at or after `t`.
    fn position(&self, t: i64) -> usize {
        self.groups.partition_point(|g| g.start_ms < t)
    }
}

/// A [`Monitor`] positioned at a replay clock.
pub struct ReplayEngine {
    minutes: Arc<FeedbackMinutes>,
    geo: IpGeo,
    qoe: QoeParams,
    first_seen: Option<Arc<FirstSeen>>,
    /// The service's history from the index, once read.
    service: Option<Arc<ServiceHistory>>,
    geography: Option<Arc<Geography>>,
    monitor: Monitor,
    /// Records with `recv` ≤ this have been fed (i64::MIN: none).
    clock: i64,
    /// The engine holds every cell's history from here on.
    fed_from: i64,
    /// The engine holds the whole service's history from here on (before `fed_from`
    /// when seeded from the index).
    service_from: i64,
    /// The warm-up whose whole-service sums are settled from the service's history
    /// once the clock has passed it.
    settling: Option<(i64, i64)>,
    /// Next group to read.
    next: usize,
    /// A group read in part: the rows after `pending_at` are not fed yet.
    pending: Option<(FeedbackBatch, usize)>,
    /// Lines skipped (bad records, long lines) in what was read since the last rebuild.
    skipped: Skipped,
    /// Files met so far that could not be read whole.
    damaged: DamagedFiles,
    threads: usize,
}

impl ReplayEngine {
    pub fn new(minutes: Arc<FeedbackMinutes>, geo: IpGeo, qoe: QoeParams) -> Self {
        let monitor = Monitor::new(geo.clone(), qoe);
        ReplayEngine {
            minutes,
            geo,
            qoe,
            first_seen: None,
            service: None,
            geography: None,
            monitor,
            clock: i64::MIN,
            fed_from: i64::MAX,
            service_from: i64::MAX,
            settling: None,
            next: 0,
            pending: None,
            skipped: Skipped::default(),
            damaged: DamagedFiles::new(),
            threads: std::thread::available_parallelism().map_or(2, usize::from),
        }
    }

    /// From now on, "new peers" follows the recording's first appearances; the engine
    /// is rebuilt at its next seek.
    pub fn set_first_seen(&mut self, first_seen: Arc<FirstSeen>) {
        self.first_seen = Some(first_seen);
        self.fed_from = i64::MAX;
    }

    /// From now on, seeks that need no cell's history before their window read the
    /// service's older history from `service`; the engine is rebuilt at its next seek.
    pub fn set_service_history(&mut self, service: Arc<ServiceHistory>) {
        self.service = Some(service);
        self.fed_from = i64::MAX;
    }

    /// Places peers in map areas from the next seek on.
    pub fn set_geography(&mut self, geography: Arc<Geography>) {
        self.geography = Some(geography);
        self.fed_from = i64::MAX;
    }

    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Lines skipped (bad records, long lines) in what the engine read since it was
    /// rebuilt.
    pub fn skipped(&self) -> &Skipped {
        &self.skipped
    }

    /// Lines skipped in the minutes the engine holds: those it read, and those of the
    /// service's history it was given.
    pub fn skipped_lines(&self) -> u64 {
        let seeded = match &self.service {
            Some(service) if self.service_from < self.fed_from => {
                service.skipped_lines(self.service_from, self.fed_from)
            }
            _ => 0,
        };
        self.skipped.total() + seeded
    }

    pub fn damaged(&self) -> &DamagedFiles {
        &self.damaged
    }

    /// Whether the engine holds the recording's history from `t` on: fed from the
    /// recording's start, or from far enough before `t` that its online peers are known.
    pub fn holds_history_from(&self, t: i64) -> bool {
        let from_start = self.minutes.start().is_some_and(|s| self.fed_from <= s);
        from_start || self.fed_from.saturating_add(WARM_UP_MS) <= t
    }

    /// Puts the engine at `clock` with the whole service's history back to `clock −
    /// lookback_ms` and every cell's back to `clock − cells_lookback_ms` (at most the
    /// lookback; the same when the service's history is not known yet).
    pub fn seek(&mut self, clock: i64, lookback_ms: i64, cells_lookback_ms: i64) {
        let cells_lookback_ms = match self.service {
            Some(_) => cells_lookback_ms.min(lookback_ms),
            None => lookback_ms,
        };
        let from = clock - lookback_ms;
        let cells_from = clock - cells_lookback_ms;
        let forward =
            clock >= self.clock && cells_from >= self.fed_from && from >= self.service_from;
        if !forward || clock - self.clock > cells_lookback_ms + WARM_UP_MS {
            self.rebuild(cells_from - WARM_UP_MS);
            self.seed_service(from - WARM_UP_MS);
        }
        let settle = self.settling.take();
        self.feed_until(clock);
        self.monitor.advance(clock);
        if let (Some((from, to)), Some(service)) = (settle, &self.service) {
            self.monitor.settle_service_warm_up(service, from, to);
        }
    }

    /// Gives the freshly rebuilt engine the service's history of `[from, fed_from)`;
    /// the service's sums of the warm-up after `fed_from` are settled once read.
    fn seed_service(&mut self, from: i64) {
        let from = from.div_euclid(MINUTE_MS) * MINUTE_MS;
        let Some(service) = &self.service else {
            return;
        };
        if from >= self.fed_from {
            return;
        }
        self.monitor.seed_service(service, from, self.fed_from);
        self.service_from = from;
        // The engine files an online change at `t` in the bucket holding `t − 1`: those
        // of records at the warm-up's very start land in the seeded bucket before it.
        let settle_from = self.fed_from - FINEST_BUCKET_MS;
        self.settling = Some((settle_from, self.fed_from + WARM_UP_MS));
    }

    fn rebuild(&mut self, from: i64) {
        let mut monitor = Monitor::new(self.geo.clone(), self.qoe);
        if let Some(f) = &self.first_seen {
            monitor = monitor.with_first_seen(Arc::clone(f));
        }
        if let Some(g) = &self.geography {
            monitor = monitor.with_geography(Arc::clone(g));
        }
        self.monitor = monitor;
        let start = from.div_euclid(MINUTE_MS) * MINUTE_MS;
        self.next = self.minutes.position(start);
        self.fed_from = start;
        self.service_from = start;
        self.settling = None;
        self.clock = start - 1;
        self.pending = None;
        self.skipped = Skipped::default();
    }

    /// Feeds every record with `recv` ≤ `clock`.
    fn feed_until(&mut self, clock: i64) {
        if let Some((batch, at)) = self.pending.take() {
            if let Some(rest) = self.feed_batch(batch, at, clock) {
                self.pending = Some(rest);
                self.clock = clock;
                return;
            }
        }
        // Whole minutes before the clock's minute, read on several threads.
        let minutes = Arc::clone(&self.minutes);
        let end = minutes.position(clock.div_euclid(MINUTE_MS) * MINUTE_MS + MINUTE_MS);
        let groups = &minutes.groups[self.next.min(end)..end];
        self.next = end;
        let mut leftover = None;
        read_in_order(groups, self.threads, |batch| {
            self.skipped.merge(&batch.skipped);
            note_damage(&mut self.damaged, &batch.skipped);
            if let Some(rest) = self.feed_batch(batch, 0, clock) {
                leftover = Some(rest);
            }
            true
        });
        self.pending = leftover;
        self.clock = clock;
    }

    /// Feeds the rows of `batch` from `at` with `recv` ≤ `clock`; returns the batch and
    /// the next row when some are left for later.
    fn feed_batch(
        &mut self,
        batch: FeedbackBatch,
        at: usize,
        clock: i64,
    ) -> Option<(FeedbackBatch, usize)> {
        let mut fed = at;
        for r in batch.records().skip(at) {
            if r.payload.recv > clock {
                break;
            }
            self.monitor.ingest(&r);
            fed += 1;
        }
        (fed < batch.len()).then_some((batch, fed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::query::snapshot::Query;
    use crate::recording::index::{IndexOptions, RecordingIndex};

    const SAMPLE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recordings/olympics-2012-sample"
    );

    fn sample() -> Arc<FeedbackMinutes> {
        let rec = Recording::scan(std::path::Path::new(SAMPLE)).expect("sample recording");
        Arc::new(FeedbackMinutes::new(rec))
    }

    fn first_seen(minutes: &FeedbackMinutes) -> FirstSeen {
        let options = IndexOptions::default();
        let root = std::path::Path::new(SAMPLE);
        RecordingIndex::open(root, minutes.groups(), &[], &options)
            .0
            .first_seen()
    }

    fn geo() -> IpGeo {
        IpGeo::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/maps/ip-geo.csv"
        )))
        .expect("ip-geo")
    }

    /// A seek lands on the same figures as reading everything from the start.
    #[test]
    fn a_seek_matches_reading_from_the_start() {
        let index = sample();
        let first = Arc::new(first_seen(&index));
        let start = index.start().expect("start");
        let targets = [start + 95 * MINUTE_MS + 17_000, start + 40 * MINUTE_MS];
        let mut whole = ReplayEngine::new(Arc::clone(&index), geo(), QoeParams::default());
        whole.set_first_seen(Arc::clone(&first));
        let mut seeking = ReplayEngine::new(Arc::clone(&index), geo(), QoeParams::default());
        seeking.set_first_seen(first);
        for t in targets {
            // From the very start: a lookback longer than the recording.
            whole.seek(t, 10 * 3_600_000, 10 * 3_600_000);
            seeking.seek(t, 30 * MINUTE_MS, 30 * MINUTE_MS);
            let q = Query::at(t, MINUTE_MS);
            let a = whole.monitor().snapshot(&q);
            let b = seeking.monitor().snapshot(&q);
            assert_eq!(a.current, b.current, "at {t}");
            assert_eq!(
                a.recent[a.recent.len() - 10..],
                b.recent[b.recent.len() - 10..]
            );
            assert!(a.current.online > 0 && a.current.figures.new_peers > 0);
        }
    }

    #[test]
    fn stepping_forward_feeds_only_what_is_new() {
        let index = sample();
        let start = index.start().expect("start");
        let mut stepping = ReplayEngine::new(Arc::clone(&index), geo(), QoeParams::default());
        let mut direct = ReplayEngine::new(Arc::clone(&index), geo(), QoeParams::default());
        for k in 1..=20 {
            stepping.seek(start + k * 7_000, 3_600_000, 3_600_000);
        }
        let t = start + 20 * 7_000;
        direct.seek(t, 3_600_000, 3_600_000);
        let q = Query::at(t, 10_000);
        assert_eq!(
            stepping.monitor().snapshot(&q).current,
            direct.monitor().snapshot(&q).current
        );
        assert_eq!(stepping.monitor().accepted(), direct.monitor().accepted());
    }
}
