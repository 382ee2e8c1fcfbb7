//! The set of sequence numbers already seen from one peer, for exact deduplication.
//!
//! A peer numbers its messages 0, 1, 2, … so the set is nearly always one run;
//! storing runs keeps dedup exact over a 17-day event at a few bytes per peer,
//! where a set of every (peer, seq) pair would hold a hundred million entries.

use smallvec::SmallVec;

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct SeqSet {
    /// Disjoint, non-adjacent inclusive runs, sorted. The one run nearly every peer has
    /// is held in place: checking a record's number touches no other memory.
    runs: SmallVec<[(u64, u64); 1]>,
}

impl SeqSet {
    /// Adds `seq`; returns false when it was already present (a duplicate).
    pub fn insert(&mut self, seq: u64) -> bool {
        // The common case: the next number after the newest run.
        if let Some(last) = self.runs.last_mut() {
            if seq == last.1.wrapping_add(1) && seq != 0 {
                last.1 = seq;
                return true;
            }
            if seq > last.1 {
                self.runs.push((seq, seq));
                return true;
            }
        } else {
            self.runs.push((seq, seq));
            return true;
        }
        // Index of the first run starting after `seq`.
        let i = self.runs.partition_point(|r| r.0 <= seq);
        if i > 0 && seq <= self.runs[i - 1].1 {
            return false;
        }
        let joins_prev = i > 0 && self.runs[i - 1].1 + 1 == seq;
        let joins_next = i < self.runs.len() && seq + 1 == self.runs[i].0;
        match (joins_prev, joins_next) {
            (true, true) => {
                self.runs[i - 1].1 = self.runs[i].1;
                self.runs.remove(i);
            }
            (true, false) => self.runs[i - 1].1 = seq,
            (false, true) => self.runs[i].0 = seq,
            (false, false) => self.runs.insert(i, (seq, seq)),
        }
        true
    }

    pub fn runs(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::SeqSet;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn sequential_numbers_stay_one_run() {
        let mut s = SeqSet::default();
        for n in 0..1000 {
            assert!(s.insert(n));
        }
        assert!(!s.insert(500));
        assert_eq!(s.runs(), 1);
    }

    #[test]
    fn gap_then_fill_merges_runs() {
        let mut s = SeqSet::default();
        for n in [0, 1, 3, 4, 2] {
            assert!(s.insert(n));
        }
        assert_eq!(s.runs(), 1);
        assert!(!s.insert(4));
    }

    proptest! {
        #[test]
        fn agrees_with_a_plain_set(seqs in proptest::collection::vec(0u64..64, 0..200)) {
            let mut runs = SeqSet::default();
            let mut plain = BTreeSet::new();
            for s in seqs {
                prop_assert_eq!(runs.insert(s), plain.insert(s));
            }
        }
    }
}
