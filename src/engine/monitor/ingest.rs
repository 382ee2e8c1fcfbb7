//! Taking records in, and moving the clock.

use super::{Monitor, PeerLive, SAMPLE_SPAN_MS, Sample};
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
