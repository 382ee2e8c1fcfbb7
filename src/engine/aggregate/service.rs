//! The whole service's sums over a recording, and the lines skipped in each minute, in the live engine's finest buckets, as the
//! recording's index keeps them: a replay engine that reads only the records its cells
//! need is given the service's older history from here, exactly as its whole-service
//! cell ([`ALL`](super::tiers::ALL)) would hold it had it read them all.

use std::sync::OnceLock;

use crate::engine::aggregate::bucket::BucketStats;
use crate::engine::aggregate::tiers::FINEST_BUCKET_MS;

/// Recording time in one block of the history: a frame reads the few blocks its
/// window and warm-up cross, whatever the recording's length.
pub const BLOCK_MS: i64 = 6 * 3_600_000;

/// Buckets of [`FINEST_BUCKET_MS`], each with its start, in time order.
pub type Buckets = Vec<(i64, BucketStats)>;

/// Turns a block's kept bytes back into its buckets: given by whoever kept them (the
/// engine does not know how).
pub type DecodeBlock = fn(&[u8]) -> Buckets;

#[derive(Debug, Default)]
pub struct ServiceHistory {
    /// The buckets in blocks of [`BLOCK_MS`], in time order; a block without any
    /// bucket is not there.
    blocks: Vec<Block>,
    /// (start, lines) of every minute where lines were skipped, in time order.
    skipped: Vec<(i64, u64)>,
}

/// The buckets of one block, and the peers online at its first bucket's start.
#[derive(Debug)]
pub struct Block {
    first: i64,
    online_at_start: i64,
    buckets: OnceLock<Buckets>,
    /// What the buckets are decoded from, the first time they are asked for.
    kept: Option<(Box<[u8]>, DecodeBlock)>,
}

impl Block {
    /// A block kept as bytes: `first` is the start of its first bucket.
    pub fn kept(first: i64, online_at_start: i64, bytes: Box<[u8]>, decode: DecodeBlock) -> Block {
        Block {
            first,
            online_at_start,
            buckets: OnceLock::new(),
            kept: Some((bytes, decode)),
        }
    }

    fn buckets(&self) -> &Buckets {
        self.buckets.get_or_init(|| match &self.kept {
            Some((bytes, decode)) => decode(bytes),
            None => Vec::new(),
        })
    }
}

impl ServiceHistory {
    /// From buckets of [`FINEST_BUCKET_MS`] in time order, each with its start, and
    /// the lines skipped per minute (by its start).
    pub fn new(buckets: Buckets, skipped: Vec<(i64, u64)>) -> Self {
        debug_assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0));
        debug_assert!(buckets.iter().all(|(s, _)| s % FINEST_BUCKET_MS == 0));
        let mut blocks: Vec<Block> = Vec::new();
        let mut online = 0;
        for (start, stats) in buckets {
            let block = start.div_euclid(BLOCK_MS);
            if blocks
                .last()
                .is_none_or(|b| b.first.div_euclid(BLOCK_MS) != block)
            {
                let decoded = OnceLock::new();
                let _ = decoded.set(Vec::new());
                blocks.push(Block {
                    first: start,
                    online_at_start: online,
                    buckets: decoded,
                    kept: None,
                });
            }
            online += i64::from(stats.online_delta);
            let last = blocks.last_mut().expect("a block was just pushed");
            last.buckets
                .get_mut()
                .expect("decoded")
                .push((start, stats));
        }
        ServiceHistory::from_blocks(blocks, skipped)
    }

    /// From blocks in time order (each its buckets of one [`BLOCK_MS`]).
    pub fn from_blocks(blocks: Vec<Block>, skipped: Vec<(i64, u64)>) -> Self {
        debug_assert!(skipped.windows(2).all(|w| w[0].0 < w[1].0));
        debug_assert!(blocks.windows(2).all(|w| w[0].first < w[1].first));
        ServiceHistory { blocks, skipped }
    }

    /// Splits buckets in time order into blocks of [`BLOCK_MS`]: (the start of each
    /// block's first bucket, the peers online then, its buckets), to be kept.
    pub fn blocks_of(buckets: Buckets) -> Vec<(i64, i64, Buckets)> {
        let history = ServiceHistory::new(buckets, Vec::new());
        history
            .blocks
            .into_iter()
            .map(|b| {
                let buckets = b.buckets.into_inner().unwrap_or_default();
                (b.first, b.online_at_start, buckets)
            })
            .collect()
    }

    /// Lines skipped in the minutes starting in `[from, to)`.
    pub fn skipped_lines(&self, from: i64, to: i64) -> u64 {
        let a = self.skipped.partition_point(|(s, _)| *s < from);
        let b = self.skipped.partition_point(|(s, _)| *s < to).max(a);
        self.skipped[a..b].iter().map(|(_, n)| n).sum()
    }

    /// The buckets starting in `[from, to)`, and the peers online at `from` (a bucket
    /// boundary). Only the blocks from the one holding `from` to the one holding `to`
    /// are decoded.
    pub fn range(&self, from: i64, to: i64) -> (i64, Vec<&(i64, BucketStats)>) {
        // The block holding `from`: the last that starts at or before it.
        let first = self
            .blocks
            .partition_point(|b| b.first <= from)
            .saturating_sub(1);
        let online = match self.blocks.get(first) {
            Some(block) if block.first <= from => {
                let before: i64 = block
                    .buckets()
                    .iter()
                    .take_while(|(s, _)| *s < from)
                    .map(|(_, b)| i64::from(b.online_delta))
                    .sum();
                block.online_at_start + before
            }
            // `from` is before every bucket.
            _ => 0,
        };
        let last = self.blocks.partition_point(|b| b.first < to);
        let buckets = self
            .blocks
            .get(first..last)
            .unwrap_or_default()
            .iter()
            .flat_map(Block::buckets)
            .filter(|(s, _)| (from..to).contains(s))
            .collect();
        (online, buckets)
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
        let (online, buckets) = history.range(30_000, 50_000);
        assert_eq!((online, buckets.len()), (2, 0));
        assert_eq!(history.range(60_000, 90_000).0, 6);
        let (online, buckets) = history.range(-10_000, 0);
        assert_eq!((online, buckets.len()), (0, 0));
        assert!(ServiceHistory::default().range(0, 10).1.is_empty());
        assert_eq!(history.skipped_lines(0, 180_000), 7);
        assert_eq!(history.skipped_lines(60_000, 120_000), 0);
        assert_eq!(history.skipped_lines(60_000, 120_001), 5);
    }

    /// Blocks kept as bytes and decoded on demand answer every range as the buckets
    /// themselves do, across block bounds, before the first bucket and after the last.
    #[test]
    fn kept_blocks_answer_as_the_buckets_do() {
        use proptest::prelude::*;
        fn decode(bytes: &[u8]) -> Buckets {
            postcard::from_bytes(bytes).expect("written here")
        }
        let bucket_list = proptest::collection::vec((0i64..20_000, 0u32..5, -3i32..4), 0..200);
        proptest!(|(raw in bucket_list, from in -2_000i64..22_000, len in 0i64..8_000)| {
            let mut starts: Vec<(i64, u32, i32)> = raw;
            starts.sort_by_key(|b| b.0);
            starts.dedup_by_key(|b| b.0);
            // Spread over days: a block holds six hours of 10-s buckets.
            let buckets: Buckets = starts
                .iter()
                .map(|&(n, records, delta)| bucket(n * 40 * FINEST_BUCKET_MS, records, delta))
                .collect();
            let (from, to) = (from * 40 * FINEST_BUCKET_MS, (from + len) * 40 * FINEST_BUCKET_MS);
            let whole = ServiceHistory::new(buckets.clone(), Vec::new());
            let blocks = ServiceHistory::blocks_of(buckets.clone())
                .into_iter()
                .map(|(first, online, b)| {
                    let bytes = postcard::to_stdvec(&b).expect("encode").into_boxed_slice();
                    Block::kept(first, online, bytes, decode)
                })
                .collect();
            let kept = ServiceHistory::from_blocks(blocks, Vec::new());
            let online: i64 = buckets
                .iter()
                .filter(|(s, _)| *s < from)
                .map(|(_, b)| i64::from(b.online_delta))
                .sum();
            let inside: Vec<&(i64, BucketStats)> =
                buckets.iter().filter(|(s, _)| (from..to).contains(s)).collect();
            prop_assert_eq!(whole.range(from, to), (online, inside.clone()));
            prop_assert_eq!(kept.range(from, to), (online, inside));
        });
    }
}
