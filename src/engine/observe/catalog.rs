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
use smallvec::SmallVec;

/// Per peer: seen sequence numbers, and its latest session, channel and address, which
/// the next record nearly always repeats. Held beside the peer's name in its table, so
/// the lookup of a record's peer reaches it too. Only the numbers are kept by a
/// recording index: the rest is a cache, filled again from the tables when next met.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct PeerEntry {
    seqs: SeqSet,
    #[serde(skip)]
    ip: Recent,
    #[serde(skip)]
    location: Option<Location>,
    #[serde(skip)]
    session: Recent,
    #[serde(skip)]
    channel: Recent,
}

/// The id of the name a peer sent last, with a copy of the name beside it: the next
/// record's name is compared in place, where looking it up in its table would reach
/// into memory the peer's other records have long left.
#[derive(Debug, Default)]
struct Recent {
    id: Option<u32>,
    name: SmallVec<[u8; 24]>,
}

impl Recent {
    /// The id of `name`, interned only when it differs from the last one.
    fn id(&mut self, interner: &mut Interner, name: &str) -> u32 {
        match self.id {
            Some(id) if self.name.as_slice() == name.as_bytes() => id,
            _ => self.replace(interner.intern(name), name),
        }
    }

    fn replace(&mut self, id: u32, name: &str) -> u32 {
        self.id = Some(id);
        self.name.clear();
        self.name.extend_from_slice(name.as_bytes());
        id
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
    pub peers: Interner<PeerEntry>,
    pub sessions: Interner,
    pub channels: Interner,
    pub ips: Interner,
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
            duplicates: 0,
        }
    }

    /// The id of a peer, known from now on (also one met before the records read, in a
    /// report of one day: none of its records yet).
    pub fn know_peer(&mut self, name: &str) -> u32 {
        self.peers.intern(name)
    }

    /// Resolves a record, or `None` when it duplicates one already accepted.
    pub fn observe(&mut self, r: &FeedbackCore<'_>) -> Option<Observation> {
        let (peer, entry) = match self.peers.get_mut(r.peer) {
            Some(known) => known,
            None => self.peers.entry(r.peer),
        };
        if !entry.seqs.insert(r.payload.seq) {
            self.duplicates += 1;
            return None;
        }
        let (ip, location) = match (entry.ip.id, entry.location) {
            (Some(ip), Some(loc)) if entry.ip.name.as_slice() == r.ip.as_bytes() => (ip, loc),
            _ => {
                let loc = self.geo.locate_str(r.ip);
                entry.location = Some(loc);
                (entry.ip.replace(self.ips.intern(r.ip), r.ip), loc)
            }
        };
        let session = entry.session.id(&mut self.sessions, r.session);
        let channel = entry.channel.id(&mut self.channels, r.channel);
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
