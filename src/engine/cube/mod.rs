//! What a shipper derives from the record stream for the ClickHouse cubes: per accepted
//! record its cell, 10 s bucket, day and sums (the engine's own [`BucketStats`]), and
//! the ±1 changes of online peers, each in the cell of the record that opened the
//! interval. Plain Rust: `ship` sends these facts, the cubes add them up.
//!
//! Online peers follow [`OnlineTracker`] over the stream as one cell, so their sum over
//! all cells is exactly DESIGN §5's count. A peer that moves cells while online (a new
//! channel without a `leave`, a new address) is counted in its new cell from the move:
//! a filter's count can differ from the filtered stream's, where the old cell keeps the
//! peer until its interval ends (at most 2 × `period_s` per move). The README's "Scale"
//! section bounds that difference.

#[cfg(test)]
mod tests;

use rustc_hash::FxHashSet;

use crate::engine::aggregate::bucket::BucketStats;
use crate::engine::aggregate::online::{DeltaSink, Expiry, OnlineTracker};
use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::aggregate::tiers::CellId;
use crate::engine::calendar::{Calendar, Day};
use crate::engine::geography::location::{DistrictId, IspId};
use crate::engine::observe::observation::Observation;
use crate::engine::record::Event;

/// The finest bucket of the cubes.
pub const BUCKET_MS: i64 = 10_000;

/// The one cell of the tracker's stream.
const STREAM: CellId = 0;

/// Where a fact is counted: the dimensions filters and views select by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cell {
    pub isp: IspId,
    pub channel: u32,
    pub district: DistrictId,
    pub area: u16,
}

/// One accepted record as the cubes count it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFact {
    pub obs: Observation,
    pub cell: Cell,
    /// Start of its 10 s bucket, and the local day of that start.
    pub bucket_ms: i64,
    pub day: Day,
    /// What the record adds to its bucket (no startup samples: see `startup_ms`).
    pub sums: BucketStats,
    /// Its session's startup delay, when this record is the first to bring it.
    pub startup_ms: Option<i64>,
    /// The MOS of the report, when it covers playback.
    pub mos: Option<f64>,
}

/// A change of online peers in a cell, counting at every bucket end from the end of the
/// bucket starting at `bucket_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnlineFact {
    pub cell: Cell,
    pub bucket_ms: i64,
    pub day: Day,
    pub delta: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    Record(Box<RecordFact>),
    Online(OnlineFact),
}

impl Fact {
    /// The local day the fact counts in.
    pub fn day(&self) -> Day {
        match self {
            Fact::Record(r) => r.day,
            Fact::Online(c) => c.day,
        }
    }
}

/// The shipper's state over its stream: online intervals, the cell each peer was last
/// counted in, and the sessions whose startup delay has been counted.
#[derive(Debug, Clone)]
pub struct CubeTracker {
    qoe: QoeParams,
    calendar: Calendar,
    online: OnlineTracker,
    last_cell: Vec<Option<Cell>>,
    startup_seen: FxHashSet<u32>,
    changes: Vec<(u32, i64, i32)>,
}

impl CubeTracker {
    /// `Expiry::Eager` for a stream that goes on (call [`expire`](Self::expire) as the
    /// clock moves), `Expiry::AtClose` for a finished one.
    pub fn new(qoe: QoeParams, calendar: Calendar, expiry: Expiry) -> Self {
        CubeTracker {
            qoe,
            calendar,
            online: OnlineTracker::new(expiry),
            last_cell: Vec::new(),
            startup_seen: FxHashSet::default(),
            changes: Vec::new(),
        }
    }

    /// Takes one accepted record (in `recv` order) and appends what it adds.
    pub fn record(&mut self, obs: &Observation, cell: Cell, out: &mut Vec<Fact>) {
        let recv = obs.payload.recv;
        let bucket_ms = recv.div_euclid(BUCKET_MS) * BUCKET_MS;
        let mut sums = BucketStats {
            records: 1,
            ..BucketStats::default()
        };
        let mut startup_ms = None;
        let mut mos = None;
        if obs.payload.event == Event::Report {
            let report = obs.payload.report_sums(&self.qoe);
            sums.add_report(&report);
            mos = report.mos;
            if let Some(ms) = obs.payload.startup_ms {
                if self.startup_seen.insert(obs.session) {
                    startup_ms = Some(ms);
                }
            }
        }
        out.push(Fact::Record(Box::new(RecordFact {
            obs: *obs,
            cell,
            bucket_ms,
            day: self.calendar.day_of(bucket_ms),
            sums,
            startup_ms,
            mos,
        })));

        let until = (obs.payload.event != Event::Leave).then(|| obs.payload.online_until());
        let mut changes = std::mem::take(&mut self.changes);
        self.online
            .record(obs.peer, STREAM, recv, until, &mut Changes(&mut changes));
        // An interval that goes on in the same cell files −1 and +1 at the same instant:
        // nothing changed, nothing to send.
        let previous = self.cell_of(obs.peer);
        let continues =
            previous == Some(cell) && matches!(changes[..], [(_, a, -1), (_, b, 1)] if a == b);
        if !continues {
            for &(_, at, delta) in &changes {
                let counted_in = if delta < 0 { previous } else { Some(cell) };
                if let Some(c) = counted_in {
                    out.push(self.online_fact(c, at, delta));
                }
            }
        }
        changes.clear();
        self.changes = changes;
        let i = obs.peer as usize;
        if i >= self.last_cell.len() {
            self.last_cell.resize(i + 1, None);
        }
        self.last_cell[i] = Some(cell);
    }

    /// Files the −1 of every interval that has ended by `now` (a stream that goes on).
    pub fn expire(&mut self, now: i64, out: &mut Vec<Fact>) {
        let mut changes = std::mem::take(&mut self.changes);
        self.online.expire(now, &mut Changes(&mut changes));
        self.file_ends(&changes, out);
        changes.clear();
        self.changes = changes;
    }

    /// Files the −1 of every interval still open: the stream is complete.
    pub fn close(&mut self, out: &mut Vec<Fact>) {
        let mut changes = std::mem::take(&mut self.changes);
        self.online.close(&mut Changes(&mut changes));
        self.file_ends(&changes, out);
        changes.clear();
        self.changes = changes;
    }

    fn file_ends(&self, changes: &[(u32, i64, i32)], out: &mut Vec<Fact>) {
        for &(peer, at, delta) in changes {
            if let Some(c) = self.cell_of(peer) {
                out.push(self.online_fact(c, at, delta));
            }
        }
    }

    fn cell_of(&self, peer: u32) -> Option<Cell> {
        self.last_cell.get(peer as usize).copied().flatten()
    }

    /// A change at `at` counts from the first bucket end at or after it.
    fn online_fact(&self, cell: Cell, at: i64, delta: i32) -> Fact {
        let bucket_ms = (at - 1).div_euclid(BUCKET_MS) * BUCKET_MS;
        Fact::Online(OnlineFact {
            cell,
            bucket_ms,
            day: self.calendar.day_of(bucket_ms),
            delta,
        })
    }
}

/// The tracker's changes, each with the peer whose interval it is.
struct Changes<'a>(&'a mut Vec<(u32, i64, i32)>);

impl DeltaSink for Changes<'_> {
    fn online_delta(&mut self, peer: u32, _cell: CellId, at: i64, delta: i32) {
        self.0.push((peer, at, delta));
    }
}

/// The lower end of a startup delay's histogram bin: 10 ms wide below 1 s, 100 ms below
/// 10 s, 1 s below a minute, 10 s above. A percentile read from the bins is its rank's
/// bin's lower end, so it is below the exact value by less than that bin's width.
pub fn startup_bin(ms: i64) -> u32 {
    let ms = ms.max(0);
    let width = startup_bin_width(ms);
    u32::try_from(ms - ms % width).unwrap_or(u32::MAX - u32::MAX % 10_000)
}

/// The width of the bin holding `ms`.
pub fn startup_bin_width(ms: i64) -> i64 {
    match ms {
        ..1_000 => 10,
        1_000..10_000 => 100,
        10_000..60_000 => 1_000,
        _ => 10_000,
    }
}

/// The bin of a MOS: tenths, 10 (1.0) to 50 (5.0).
pub fn qoe_bin(mos: f64) -> u8 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let tenth = (mos * 10.0).floor().clamp(10.0, 50.0) as u8;
    tenth
}

/// The nearest-rank percentile `p` of a histogram given as (lower end, count) in
/// ascending order: the lower end of the bin holding that rank.
pub fn histogram_rank(bins: &[(u32, u64)], p: f64) -> Option<i64> {
    let n: u64 = bins.iter().map(|(_, c)| c).sum();
    if n == 0 {
        return None;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for &(lower, count) in bins {
        seen += count;
        if seen >= rank.min(n) {
            return Some(i64::from(lower));
        }
    }
    None
}
