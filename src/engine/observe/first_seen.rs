//! When each peer first appeared in a recording: what makes "new peers" exact when the
//! engine is built from the middle of a recording (a replay seek) instead of its start.
//!
//! Built once per recording by one pass over it; afterwards a peer is new in a window
//! exactly when its first `recv` falls in that window, wherever the engine started.

use rustc_hash::FxHashMap;

#[derive(Debug, Default, Clone)]
pub struct FirstSeen {
    by_peer: FxHashMap<Box<str>, i64>,
}

impl FirstSeen {
    /// Notes a record of `peer` received at `recv`; keeps the earliest.
    pub fn observe(&mut self, peer: &str, recv: i64) {
        match self.by_peer.get_mut(peer) {
            Some(first) => *first = (*first).min(recv),
            None => {
                self.by_peer.insert(peer.into(), recv);
            }
        }
    }

    /// The `recv` of the peer's first record, if it was seen at all.
    pub fn first(&self, peer: &str) -> Option<i64> {
        self.by_peer.get(peer).copied()
    }

    pub fn peers(&self) -> usize {
        self.by_peer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_earliest_record_whatever_the_order() {
        let mut f = FirstSeen::default();
        f.observe("p1", 50);
        f.observe("p1", 20);
        f.observe("p1", 90);
        f.observe("p2", 70);
        assert_eq!(f.first("p1"), Some(20));
        assert_eq!(f.first("p2"), Some(70));
        assert_eq!(f.first("p3"), None);
        assert_eq!(f.peers(), 2);
    }
}
