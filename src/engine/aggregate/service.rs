//! The whole service's sums over a recording, and the lines skipped in each minute, in the live engine's finest buckets, as the
//! recording's index keeps them: a replay engine that reads only the records its cells
//! need is given the service's older history from here, exactly as its whole-service
//! cell ([`ALL`](super::tiers::ALL)) would hold it had it read them all.

use crate::engine::aggregate::bucket::BucketStats;
use crate::engine::aggregate::tiers::FINEST_BUCKET_MS;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceHistory {
    /// (start, sums) of every finest bucket where something happened, in time order.
    buckets: Vec<(i64, BucketStats)>,
    /// The peers online at each bucket's start: the running sum of the changes before.
    online_at_start: Vec<i64>,
    /// (start, lines) of every minute where lines were skipped, in time order.
    skipped: Vec<(i64, u64)>,
}

impl ServiceHistory {
    /// From buckets of [`FINEST_BUCKET_MS`] in time order, each with its start, and
    /// the lines skipped per minute (by its start).
    pub fn new(buckets: Vec<(i64, BucketStats)>, skipped: Vec<(i64, u64)>) -> Self {
        debug_assert!(skipped.windows(2).all(|w| w[0].0 < w[1].0));
        debug_assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0));
        debug_assert!(buckets.iter().all(|(s, _)| s % FINEST_BUCKET_MS == 0));
        let online_at_start = buckets
            .iter()
            .scan(0i64, |online, (_, b)| {
                let at_start = *online;
                *online += i64::from(b.online_delta);
                Some(at_start)
            })
            .collect();
        ServiceHistory {
            buckets,
            online_at_start,
            skipped,
        }
    }

    /// Lines skipped in the minutes starting in `[from, to)`.
    pub fn skipped_lines(&self, from: i64, to: i64) -> u64 {
        let a = self.skipped.partition_point(|(s, _)| *s < from);
        let b = self.skipped.partition_point(|(s, _)| *s < to).max(a);
        self.skipped[a..b].iter().map(|(_, n)| n).sum()
    }

    /// The buckets starting in `[from, to)`, and the peers online at `from` (a bucket
    /// boundary).
    pub fn range(&self, from: i64, to: i64) -> (i64, &[(i64, BucketStats)]) {
        let a = self.buckets.partition_point(|(s, _)| *s < from);
        let b = self.buckets.partition_point(|(s, _)| *s < to).max(a);
        let online = match self.buckets.get(a) {
            Some(_) => self.online_at_start[a],
            None => self.buckets.last().map_or(0, |(_, last)| {
                self.online_at_start[a - 1] + i64::from(last.online_delta)
            }),
        };
        (online, &self.buckets[a..b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(start: i64, records: u32, online_delta: i32) -> (i64, BucketStats) {
        let stats = BucketStats {
            records,
            online_delta,
            ..BucketStats::default()
        };
        (start, stats)
    }

    #[test]
    fn a_range_says_who_was_online_at_its_start() {
        let history = ServiceHistory::new(
            vec![bucket(0, 3, 3), bucket(20_000, 1, -1), bucket(50_000, 2, 4)],
            vec![(0, 2), (120_000, 5)],
        );
        let (online, buckets) = history.range(10_000, 60_000);
        assert_eq!(online, 3);
        assert_eq!(buckets.len(), 2);
        assert_eq!(history.range(20_000, 30_000).0, 3);
        assert_eq!(history.range(30_000, 50_000), (2, &[][..]));
        assert_eq!(history.range(60_000, 90_000).0, 6);
        assert_eq!(history.range(-10_000, 0), (0, &[][..]));
        assert!(ServiceHistory::default().range(0, 10).1.is_empty());
        assert_eq!(history.skipped_lines(0, 180_000), 7);
        assert_eq!(history.skipped_lines(60_000, 120_000), 0);
        assert_eq!(history.skipped_lines(60_000, 120_001), 5);
    }
}
