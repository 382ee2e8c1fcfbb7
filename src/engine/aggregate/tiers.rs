//! History at decreasing resolution as it ages (horizontal compaction).
//!
//! Recent buckets are fine (10 s for the last hour), older ones coarser (1 min for two
//! days, then 15 min), so a 17-day event holds about 4,500 buckets per cell whatever the
//! load. Sums merge exactly; a point inside a coarse bucket is attributed to its start.

use rustc_hash::FxHashMap;

use crate::engine::aggregate::bucket::BucketStats;

/// A cell: one (ISP, channel, district) combination, or [`ALL`].
pub type CellId = u32;
/// The cell every record also counts in: exact unfiltered figures.
pub const ALL: CellId = u32::MAX;

/// One time bucket, split by cell.
#[derive(Debug, Clone, Default)]
pub struct Slot {
    pub start: i64,
    pub cells: FxHashMap<CellId, BucketStats>,
}

#[derive(Debug, Clone)]
pub struct Tier {
    pub width_ms: i64,
    /// Buckets older than this (behind the clock) move to the next tier.
    pub keep_ms: i64,
    /// In time order.
    pub slots: std::collections::VecDeque<Slot>,
}

#[derive(Debug, Clone)]
pub struct History {
    pub tiers: Vec<Tier>,
}

/// The finest buckets' width: a window's figures move when the clock crosses one.
pub const FINEST_BUCKET_MS: i64 = 10_000;
/// How long history keeps one-minute resolution (or finer).
pub const MINUTES_KEPT_MS: i64 = 2 * 86_400_000;

impl Default for History {
    fn default() -> Self {
        History::new(&[
            (FINEST_BUCKET_MS, 3_600_000),
            (60_000, MINUTES_KEPT_MS),
            (900_000, i64::MAX),
        ])
    }
}

impl History {
    /// `(width, keep)` per tier, finest first; each width divides the next.
    pub fn new(spec: &[(i64, i64)]) -> Self {
        History {
            tiers: spec
                .iter()
                .map(|&(width_ms, keep_ms)| Tier {
                    width_ms,
                    keep_ms,
                    slots: std::collections::VecDeque::default(),
                })
                .collect(),
        }
    }

    /// The stats of `cell` in the finest bucket holding `at` (created if needed). A late
    /// record older than the finest tier lands in the tier that covers its time: a tier
    /// takes a time before its first bucket only when nothing older has aged into the
    /// coarser tiers (before anything has aged, an online change filed in the bucket
    /// before the first record's is the finest tier's, not a coarse bucket's that would
    /// hide it from a point at that bound).
    pub fn cell_mut(&mut self, at: i64, cell: CellId) -> &mut BucketStats {
        let tier_index = (0..self.tiers.len())
            .find(|&i| {
                self.tiers[i].slots.front().is_some_and(|s| s.start <= at)
                    || self.tiers[i + 1..]
                        .iter()
                        .filter_map(|t| t.slots.back().map(|s| s.start + t.width_ms))
                        .max()
                        .is_none_or(|aged_until| aged_until <= at)
            })
            .unwrap_or(self.tiers.len() - 1);
        let tier = &mut self.tiers[tier_index];
        let start = at.div_euclid(tier.width_ms) * tier.width_ms;
        let pos = match tier.slots.back() {
            Some(s) if s.start == start => tier.slots.len() - 1,
            Some(s) if s.start < start => {
                tier.slots.push_back(Slot {
                    start,
                    cells: FxHashMap::default(),
                });
                tier.slots.len() - 1
            }
            None => {
                tier.slots.push_back(Slot {
                    start,
                    cells: FxHashMap::default(),
                });
                0
            }
            Some(_) => match tier.slots.binary_search_by_key(&start, |s| s.start) {
                Ok(p) => p,
                Err(p) => {
                    tier.slots.insert(
                        p,
                        Slot {
                            start,
                            cells: FxHashMap::default(),
                        },
                    );
                    p
                }
            },
        };
        tier.slots[pos].cells.entry(cell).or_default()
    }

    /// Moves buckets that aged past their tier's span into the next tier.
    pub fn compact(&mut self, now: i64) {
        for i in 0..self.tiers.len() - 1 {
            let (fine, coarse) = self.tiers.split_at_mut(i + 1);
            let (fine, coarse) = (&mut fine[i], &mut coarse[0]);
            while fine
                .slots
                .front()
                .is_some_and(|s| s.start + fine.width_ms <= now - fine.keep_ms)
            {
                let Some(old) = fine.slots.pop_front() else {
                    break;
                };
                let start = old.start.div_euclid(coarse.width_ms) * coarse.width_ms;
                if coarse.slots.back().is_none_or(|s| s.start < start) {
                    coarse.slots.push_back(Slot {
                        start,
                        cells: FxHashMap::default(),
                    });
                }
                let Some(target) = coarse.slots.iter_mut().rev().find(|s| s.start == start) else {
                    continue;
                };
                for (cell, stats) in old.cells {
                    target.cells.entry(cell).or_default().merge(&stats);
                }
            }
        }
    }

    /// The stats of `cell` in each slot starting in `[from, to)`, where it has any.
    pub fn cell_in_mut(
        &mut self,
        from: i64,
        to: i64,
        cell: CellId,
    ) -> impl Iterator<Item = &mut BucketStats> {
        self.tiers
            .iter_mut()
            .flat_map(|t| t.slots.iter_mut())
            .filter(move |s| s.start >= from && s.start < to)
            .filter_map(move |s| s.cells.get_mut(&cell))
    }

    /// Every slot of every tier, oldest first, with its width.
    pub fn slots(&self) -> impl Iterator<Item = (&Slot, i64)> {
        self.tiers
            .iter()
            .rev()
            .flat_map(|t| t.slots.iter().map(move |s| (s, t.width_ms)))
    }

    pub fn slot_count(&self) -> usize {
        self.tiers.iter().map(|t| t.slots.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first records of an engine can file a change before their own bucket (an
    /// online start at a bound): it is the finest tier's, not a coarse bucket's that
    /// would hide it from a point at that bound.
    #[test]
    fn a_time_before_the_first_bucket_is_the_finest_tier_s_until_something_ages() {
        let mut h = History::default();
        h.cell_mut(10_000, ALL).records += 1;
        h.cell_mut(9_999, ALL).online_delta += 1;
        let slots: Vec<(i64, i64)> = h.slots().map(|(s, w)| (s.start, w)).collect();
        assert_eq!(slots, [(0, 10_000), (10_000, 10_000)]);
        // Once buckets have aged, an older time is the coarse tier's.
        h.compact(10 * 3_600_000);
        h.cell_mut(5_000, ALL).records += 1;
        let slots: Vec<(i64, i64)> = h.slots().map(|(s, w)| (s.start, w)).collect();
        assert_eq!(slots, [(0, 60_000)]);
    }

    #[test]
    fn compaction_keeps_sums_and_bounds_slots() {
        let mut h = History::new(&[(10, 100), (100, 1000), (1000, i64::MAX)]);
        let mut now = 0;
        for t in (0..20_000).step_by(5) {
            h.cell_mut(t, 1).records += 1;
            h.cell_mut(t, ALL).records += 1;
            now = t;
            h.compact(now);
        }
        let total: u32 = h
            .slots()
            .map(|(s, _)| s.cells.get(&1).map_or(0, |b| b.records))
            .sum();
        assert_eq!(total, 4000);
        assert!(h.slot_count() < 60, "{} slots", h.slot_count());
        // Oldest first across tiers.
        let starts: Vec<i64> = h.slots().map(|(s, _)| s.start).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
        assert!(now > 0);
    }
}
