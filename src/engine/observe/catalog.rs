//! The front of the engine: turns parsed records into [`Observation`]s.
//!
//! It interns identifiers, locates each peer's address (cached per peer, since a peer
//! rarely changes address) and drops duplicates — the same (`peer`, `seq`) seen twice,
//! as after a client retry routed to another feedback server.

use crate::engine::geography::location::{IpGeo, Location};
use crate::engine::observe::intern::Interner;
use crate::engine::observe::observation::Observation;
use crate::engine::observe::seqset::SeqSet;
use crate::engine::record::FeedbackCore;

/// Per peer: seen sequence numbers, and the ids of its latest session, channel and
/// address, which the next record nearly always repeats (a compare instead of a hash).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct PeerEntry {
    seqs: SeqSet,
    ip: u32,
    /// Not kept: located again from `ip` when next met.
    #[serde(skip)]
    location: Option<Location>,
    session: Option<u32>,
    channel: Option<u32>,
}

fn cached(interner: &mut Interner, slot: &mut Option<u32>, name: &str) -> u32 {
    match *slot {
        Some(id) if interner.name(id) == name => id,
        _ => {
            let id = interner.intern(name);
            *slot = Some(id);
            id
        }
    }
}

/// Identifier tables shared by every view of the data.
///
/// Kept (by the recording index's build, to take it up again) without its IP table: it
/// comes back with an empty one, the only one that build uses.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Catalog {
    #[serde(skip, default = "IpGeo::empty")]
    pub geo: IpGeo,
    pub peers: Interner,
    pub sessions: Interner,
    pub channels: Interner,
    pub ips: Interner,
    peer_entries: Vec<PeerEntry>,
    duplicates: u64,
}

impl Catalog {
    pub fn new(geo: IpGeo) -> Self {
        Catalog {
            geo,
            peers: Interner::default(),
            sessions: Interner::default(),
            channels: Interner::default(),
            ips: Interner::default(),
            peer_entries: Vec::new(),
            duplicates: 0,
        }
    }

    /// The id of a peer, known from now on (also one met before the records read, in a
    /// report of one day: none of its records yet).
    pub fn know_peer(&mut self, name: &str) -> u32 {
        let peer = self.peers.intern(name);
        if peer as usize == self.peer_entries.len() {
            self.peer_entries.push(PeerEntry::default());
        }
        peer
    }

    /// Resolves a record, or `None` when it duplicates one already accepted.
    pub fn observe(&mut self, r: &FeedbackCore<'_>) -> Option<Observation> {
        let peer = self.know_peer(r.peer);
        let entry = &mut self.peer_entries[peer as usize];
        if !entry.seqs.insert(r.payload.seq) {
            self.duplicates += 1;
            return None;
        }
        let location = match entry.location {
            Some(loc) if self.ips.name(entry.ip) == r.ip => loc,
            _ => {
                let loc = self.geo.locate_str(r.ip);
                entry.ip = self.ips.intern(r.ip);
                entry.location = Some(loc);
                loc
            }
        };
        let ip = entry.ip;
        let session = cached(&mut self.sessions, &mut entry.session, r.session);
        let channel = cached(&mut self.channels, &mut entry.channel, r.channel);
        Some(Observation {
            peer,
            session,
            channel,
            ip,
            location,
            payload: r.payload,
        })
    }

    /// Records dropped as duplicates so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}
