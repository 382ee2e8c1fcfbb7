//! Taking records in, and moving the clock.

use super::{Monitor, PeerLive, SAMPLE_SPAN_MS, Sample};
use crate::engine::aggregate::bucket::BucketStats;
use crate::engine::aggregate::service::ServiceHistory;
use crate::engine::aggregate::tiers::{ALL, CellId, History};
use crate::engine::record::Event;
use crate::engine::record::FeedbackCore;

/// Files an online change in its cell's bucket: it counts at every bucket end at or
/// after `at`, so it goes in the bucket holding `at − 1`.
fn file_online(history: &mut History) -> impl FnMut(CellId, i64, i32) + '_ {
    |cell, at, delta| history.cell_mut(at - 1, cell).online_delta += delta
}

impl Monitor {
    /// Takes one record; duplicates are dropped. Records should come in `recv` order.
    pub fn ingest(&mut self, record: &FeedbackCore<'_>) {
        let Some(obs) = self.catalog.observe(record) else {
            return;
        };
        self.accepted += 1;
        self.latest_recv = self.latest_recv.max(obs.payload.recv);
        let cell = self.cell_of(&obs);
        let peer = obs.peer as usize;
        if peer >= self.peers.len() {
            self.peers.resize_with(peer + 1, PeerLive::default);
        }
        let unseen_here = !std::mem::replace(&mut self.peers[peer].seen, true);
        let is_new = match &self.first_seen {
            Some(first) => unseen_here && first.first(record.peer) == Some(obs.payload.recv),
            None => unseen_here,
        };
        let until = (obs.payload.event != Event::Leave).then(|| obs.payload.online_until());
        {
            let mut file = file_online(&mut self.history);
            self.online_all
                .record(obs.peer, ALL, obs.payload.recv, until, &mut file);
            self.online_cells
                .record(obs.peer, cell, obs.payload.recv, until, &mut file);
        }
        for c in [ALL, cell] {
            let b = self.history.cell_mut(obs.payload.recv, c);
            b.records += 1;
            if is_new {
                b.new_peers += 1;
            }
        }
        if obs.payload.event != Event::Report {
            return;
        }
        let sums = obs.payload.report_sums(&self.qoe);
        let startup = obs
            .payload
            .startup_ms
            .filter(|_| self.startup_seen.insert(obs.session));
        for c in [ALL, cell] {
            let b = self.history.cell_mut(obs.payload.recv, c);
            b.add_report(&sums);
            if let Some(s) = startup {
                b.startups.push(s);
            }
        }
        self.peers[peer].samples.push_back(Sample {
            recv: obs.payload.recv,
            cell,
            sums,
            startup,
        });
        self.sampled.insert(obs.peer);
    }

    /// Puts the whole service's history of `[from, to)` in the cell [`ALL`] as if this
    /// engine had read those records: call before it takes any, with `to` no later than
    /// its first record.
    pub fn seed_service(&mut self, service: &ServiceHistory, from: i64, to: i64) {
        debug_assert!(self.accepted == 0);
        let (online, buckets) = service.range(from, to);
        if online != 0 {
            // Peers online before `from` count from there on.
            self.history.cell_mut(from, ALL).online_delta += i32::try_from(online).unwrap_or(0);
        }
        for (start, stats) in buckets {
            self.history.cell_mut(*start, ALL).merge(stats);
        }
    }

    /// Replaces the whole service's sums of `[from, to)` with the service's own: after
    /// [`seed_service`](Self::seed_service) up to `from` and taking records from `from`
    /// on, this engine counts online only the peers it has met, and takes a duplicate of
    /// a record from before `from` as new; both are right once the warm-up `[from, to)`
    /// has passed, not during it. Call once the clock is past `to`, so that every online
    /// end in it is filed.
    pub fn settle_service_warm_up(&mut self, service: &ServiceHistory, from: i64, to: i64) {
        debug_assert!(self.clock >= to);
        for stats in self.history.cell_in_mut(from, to, ALL) {
            *stats = BucketStats::default();
        }
        for (start, stats) in service.range(from, to).1 {
            *self.history.cell_mut(*start, ALL) = stats.clone();
        }
    }

    /// Moves the clock: files online ends that ran out, ages history, drops old samples.
    pub fn advance(&mut self, now: i64) {
        self.clock = self.clock.max(now);
        {
            let mut file = file_online(&mut self.history);
            self.online_all.expire(self.clock, &mut file);
            self.online_cells.expire(self.clock, &mut file);
        }
        self.history.compact(self.clock);
        let horizon = self.clock - SAMPLE_SPAN_MS;
        let peers = &mut self.peers;
        self.sampled.retain(|&p| {
            let samples = &mut peers[p as usize].samples;
            while samples.front().is_some_and(|s| s.recv < horizon) {
                samples.pop_front();
            }
            !samples.is_empty()
        });
    }
}
