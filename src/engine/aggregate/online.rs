//! Online peers (DESIGN §5), once, for `report` and the live engine alike: at t a peer is
//! online while its latest record with `recv` ≤ t is not a `leave` and t < `recv` +
//! 2 × its `period_s`.
//!
//! Records come per peer and *cell*: the live engine's ISP × channel × district × area,
//! or, for `report`, one cell holding its (filtered) record stream. A record opens an
//! interval [`recv`, end) in its cell, cut short by the peer's next record in that cell;
//! the tracker files +1 at `recv` and −1 where the interval ends, as deltas a caller
//! puts in its time buckets. The number online at an instant is then a running sum, and
//! sums add up across cells.
//!
//! Adding cells is exact for one cell, but a filter spanning several would count a peer
//! that moved between them (a new channel without a `leave`, a new address) once in
//! each, for up to 2 × period: the filtered stream's rule cuts the old interval at the
//! move. So the tracker keeps each such moment, an [`Overlap`] — the peer's records from
//! one that arrived while a track in another cell was open, until every interval then
//! open has ended — and answers, for any filter and instant, the correction to the sum
//! of its cells. Moves are rare, so overlaps cost little to keep and to apply.
//!
//! A caller may keep its own per-peer state `P` beside the peer's tracks
//! ([`OnlineTracker::record`] hands it back): every record reaches both, and one place
//! in memory is one cache miss where two tables would be two.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::engine::aggregate::tiers::CellId;

const NO_END: i64 = i64::MIN;

/// A peer's latest record in one cell, and where its online interval ends (`NO_END`
/// once ended, or for a `leave`).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Track {
    cell: CellId,
    last_recv: i64,
    /// When its last record arrived among all the tracker took: of two records of a
    /// peer in the same millisecond, the later to arrive is its latest.
    arrival: u64,
    end: i64,
}

impl Track {
    /// Which of two tracks holds the later record.
    fn later(&self) -> (i64, u64) {
        (self.last_recv, self.arrival)
    }

    fn open_at(&self, t: i64) -> bool {
        self.end != NO_END && self.last_recv <= t && t < self.end
    }
}

/// One record as an overlap remembers it.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Mark {
    recv: i64,
    cell: CellId,
    /// `NO_END` for a `leave`.
    end: i64,
}

/// A peer's records while it had open intervals in more than one cell, from the first
/// such record until every interval it held then has ended.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Overlap {
    end: i64,
    marks: Vec<Mark>,
}

/// Where an overlap is kept: its start, and a number that tells apart two starting in
/// the same millisecond.
type OverlapKey = (i64, u64);

impl Overlap {
    /// Filtered-stream count minus the sum of the filter's cells at `t`, for this peer.
    fn correction(&self, t: i64, matches: &dyn Fn(CellId) -> bool) -> i64 {
        // The latest matching record decides the filtered stream; arrival order breaks a
        // tie in `recv`, as there the later record cuts the earlier at once.
        let mut latest: Option<&Mark> = None;
        let mut cells: Vec<(CellId, &Mark)> = Vec::new();
        for m in self.marks.iter().filter(|m| m.recv <= t && matches(m.cell)) {
            if latest.is_none_or(|l| m.recv >= l.recv) {
                latest = Some(m);
            }
            match cells.iter_mut().find(|(c, _)| *c == m.cell) {
                Some(slot) if m.recv >= slot.1.recv => slot.1 = m,
                Some(_) => {}
                None => cells.push((m.cell, m)),
            }
        }
        let open = |m: &Mark| i64::from(m.end != NO_END && t < m.end);
        let stream = latest.map_or(0, open);
        let summed: i64 = cells.iter().map(|(_, m)| open(m)).sum();
        stream - summed
    }
}

/// When an interval's −1 is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Expiry {
    /// As the clock passes it ([`OnlineTracker::expire`]): a live engine answers for now.
    Eager,
    /// When the peer's next record cuts it, or at [`OnlineTracker::close`]: a reader of a
    /// finished stream files each −1 once, in time order.
    AtClose,
}

/// Where the tracker's deltas go: +1 or −1 online in `cell` for `peer`'s interval,
/// counting at every instant t ≥ `at`.
pub trait DeltaSink {
    fn online_delta(&mut self, peer: u32, cell: CellId, at: i64, delta: i32);
}

/// A closure that files a change by cell, whoever the peer.
impl<F: FnMut(CellId, i64, i32)> DeltaSink for F {
    fn online_delta(&mut self, _peer: u32, cell: CellId, at: i64, delta: i32) {
        self(cell, at, delta);
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct PeerTracks<P> {
    tracks: SmallVec<[Track; 1]>,
    /// The overlap this peer is in, while it lasts.
    overlap: Option<OverlapKey>,
    /// The caller's own state for this peer.
    kept: P,
}

/// Every overlap so far, by start.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Overlaps {
    by_start: BTreeMap<OverlapKey, Overlap>,
    /// The longest so far: how far back from an instant one may still cover it.
    longest: i64,
    made: u64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OnlineTracker<P = ()> {
    peers: Vec<PeerTracks<P>>,
    expiry: Expiry,
    /// Interval ends not yet filed, soonest first (with `Expiry::Eager`).
    ends: BinaryHeap<Reverse<(i64, u32, CellId)>>,
    overlaps: Overlaps,
    /// Records taken: each track's arrival.
    taken: u64,
}

impl<P: Default> OnlineTracker<P> {
    pub fn new(expiry: Expiry) -> Self {
        OnlineTracker {
            peers: Vec::new(),
            expiry,
            ends: BinaryHeap::new(),
            overlaps: Overlaps::default(),
            taken: 0,
        }
    }

    /// The caller's state for `peer` (its default until set).
    pub fn kept_mut(&mut self, peer: u32) -> &mut P {
        &mut grown(&mut self.peers, peer).kept
    }

    /// Takes one record of `peer` in `cell` at `recv`, keeping it online until `until`
    /// (`None`: a `leave`), and hands back the caller's state for the peer. A record
    /// older than the peer's latest in that cell is late and changes no interval (it
    /// cannot be the latest).
    pub fn record(
        &mut self,
        peer: u32,
        cell: CellId,
        recv: i64,
        until: Option<i64>,
        sink: &mut impl DeltaSink,
    ) -> &mut P {
        self.taken += 1;
        let arrival = self.taken;
        let expiry = self.expiry;
        let p = grown(&mut self.peers, peer);
        let at = match p.tracks.iter().position(|t| t.cell == cell) {
            Some(at) if recv < p.tracks[at].last_recv => return &mut p.kept,
            Some(at) => at,
            None => {
                p.tracks.push(Track {
                    cell,
                    last_recv: recv,
                    arrival,
                    end: NO_END,
                });
                p.tracks.len() - 1
            }
        };
        let end = until.unwrap_or(NO_END);
        self.overlaps.note(p, Mark { recv, cell, end });
        let track = &mut p.tracks[at];
        track.last_recv = recv;
        track.arrival = arrival;
        let previous = std::mem::replace(&mut track.end, NO_END);
        if previous != NO_END {
            sink.online_delta(peer, cell, previous.min(recv), -1);
        }
        if let Some(until) = until {
            track.end = until;
            sink.online_delta(peer, cell, recv, 1);
            if expiry == Expiry::Eager {
                self.ends.push(Reverse((until, peer, cell)));
            }
        }
        &mut p.kept
    }

    /// Files the −1 of every interval that has ended by `now` (`Expiry::Eager`).
    pub fn expire(&mut self, now: i64, sink: &mut impl DeltaSink) {
        while let Some(Reverse((end, peer, cell))) = self.ends.peek().copied() {
            if end > now {
                break;
            }
            self.ends.pop();
            let Some(p) = self.peers.get_mut(peer as usize) else {
                continue;
            };
            // A track cut short since has a new end: this entry is stale.
            if let Some(t) = p.tracks.iter_mut().find(|t| t.cell == cell && t.end == end) {
                t.end = NO_END;
                sink.online_delta(peer, cell, end, -1);
            }
        }
    }

    /// Files the −1 of every interval still open: the stream is complete.
    pub fn close(&mut self, sink: &mut impl DeltaSink) {
        for (peer, p) in (0u32..).zip(&mut self.peers) {
            for t in &mut p.tracks {
                let end = std::mem::replace(&mut t.end, NO_END);
                if end != NO_END {
                    sink.online_delta(peer, t.cell, end, -1);
                }
            }
        }
    }

    /// Peers online at `now` under the filter `matches` (the filtered stream's rule:
    /// the peer's latest matching record decides), from per-peer state: exact for an
    /// instant at or after every record taken.
    pub fn online_at(&self, now: i64, matches: &dyn Fn(CellId) -> bool) -> i64 {
        self.peers
            .iter()
            .filter(|p| latest(&p.tracks, now, matches).is_some_and(|t| t.open_at(now)))
            .count() as i64
    }

    /// Peers online at `now` per group of cells (`group` of a cell, `None` to leave it
    /// out), each group read as its own filter.
    pub fn online_by<G: Eq + std::hash::Hash + Clone>(
        &self,
        now: i64,
        group: &dyn Fn(CellId) -> Option<G>,
    ) -> FxHashMap<G, i64> {
        let mut counts: FxHashMap<G, i64> = FxHashMap::default();
        let mut best: Vec<(G, Track)> = Vec::new();
        for p in &self.peers {
            best.clear();
            for t in p.tracks.iter().filter(|t| t.last_recv <= now) {
                let Some(g) = group(t.cell) else { continue };
                match best.iter_mut().find(|(k, _)| *k == g) {
                    Some(slot) if t.later() > slot.1.later() => slot.1 = *t,
                    Some(_) => {}
                    None => best.push((g, *t)),
                }
            }
            for (g, t) in &best {
                if t.open_at(now) {
                    *counts.entry(g.clone()).or_default() += 1;
                }
            }
        }
        counts
    }

    /// What to add to the sum of the cells `matches` takes, at `t`, for the filtered
    /// stream's count: minus the peers counted in two matching cells at once, and
    /// minus those whose latest matching record is a `leave` elsewhere.
    pub fn correction(&self, t: i64, matches: &dyn Fn(CellId) -> bool) -> i64 {
        let from = (t.saturating_sub(self.overlaps.longest), 0);
        self.overlaps
            .by_start
            .range(from..=(t, u64::MAX))
            .filter(|(_, o)| t < o.end)
            .map(|(_, o)| o.correction(t, matches))
            .sum()
    }

    /// Overlaps kept: how often peers moved between cells while online.
    pub fn overlap_count(&self) -> usize {
        self.overlaps.by_start.len()
    }
}

impl Overlaps {
    /// Remembers `mark` if the peer is in an overlap, or starts one when another of its
    /// cells holds an open interval.
    fn note<P>(&mut self, p: &mut PeerTracks<P>, mark: Mark) {
        if let Some((key, o)) = p
            .overlap
            .and_then(|k| Some(k).zip(self.by_start.get_mut(&k)))
        {
            if mark.recv < o.end {
                o.marks.push(mark);
                o.end = o.end.max(mark.end);
                self.longest = self.longest.max(o.end - key.0);
                return;
            }
        }
        p.overlap = None;
        let open = |t: &&Track| t.end != NO_END && t.end > mark.recv;
        if !p.tracks.iter().filter(open).any(|t| t.cell != mark.cell) {
            return;
        }
        let mut marks: Vec<Mark> = p
            .tracks
            .iter()
            .filter(open)
            .map(|t| Mark {
                recv: t.last_recv,
                cell: t.cell,
                end: t.end,
            })
            .collect();
        marks.push(mark);
        let start = mark.recv;
        let end = marks
            .iter()
            .map(|m| m.end)
            .max()
            .unwrap_or(start)
            .max(start);
        self.longest = self.longest.max(end - start);
        self.made += 1;
        let key = (start, self.made);
        self.by_start.insert(key, Overlap { end, marks });
        p.overlap = Some(key);
    }
}

/// The entry of `peer`, made (with those of every lower id) on first sight.
fn grown<P: Default>(peers: &mut Vec<PeerTracks<P>>, peer: u32) -> &mut PeerTracks<P> {
    let i = peer as usize;
    if i >= peers.len() {
        peers.resize_with(i + 1, PeerTracks::default);
    }
    &mut peers[i]
}

/// The track with the latest record at or before `now` among the cells `matches` takes.
fn latest(tracks: &[Track], now: i64, matches: impl Fn(CellId) -> bool) -> Option<&Track> {
    tracks
        .iter()
        .filter(|t| t.last_recv <= now && matches(t.cell))
        .max_by_key(|t| t.later())
}

#[cfg(test)]
#[path = "online_tests.rs"]
mod tests;
