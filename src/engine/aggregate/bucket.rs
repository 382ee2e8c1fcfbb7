//! Additive per-interval sums, and the sparse time series of them.
//!
//! Every windowed metric of DESIGN §5 is a ratio of sums, so a window is the merge of
//! the buckets it covers. Concurrency is kept as deltas: `online_delta` is the change in
//! online peers between the previous bucket's end and this bucket's end, so the number
//! online at a bucket's end is the running sum.

use crate::engine::aggregate::qoe::nearest_rank;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BucketStats {
    /// Accepted records of any event.
    pub records: u32,
    /// `report` records, the ones rates and quality come from.
    pub reports: u32,
    /// Σ `period_s` over reports that say their download rate: its weight.
    pub period_s: f64,
    /// Σ `down_kbps` × `period_s`.
    pub down: f64,
    /// Σ `period_s` over reports that say what they uploaded and what servers sent
    /// (every feedback report; no CMCD one): the weight of the upload rate.
    pub p2p_period_s: f64,
    /// Σ `up_kbps` × `period_s`, Σ `server_kbps` × `period_s` and Σ `down_kbps` ×
    /// `period_s` over those reports: contribution and P2P share are ratios of them.
    pub up: f64,
    pub server: f64,
    pub p2p_down: f64,
    pub play_s: f64,
    pub stall_s: f64,
    pub mos_sum: f64,
    pub mos_n: u32,
    /// Peers whose first record falls in this bucket.
    pub new_peers: u32,
    pub online_delta: i32,
    /// Startup delays of sessions whose value arrived in this bucket.
    pub startups: Vec<i64>,
}

/// What one `report` record adds to the sums of its bucket. A rate the record cannot
/// give (CMCD has no upload) is NaN and left out of its sums and weights.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReportSums {
    pub period_s: f64,
    pub up_kbps: f64,
    pub down_kbps: f64,
    pub server_kbps: f64,
    pub play_s: f64,
    pub stall_s: f64,
    /// `None` when the report covers no playback (left out of QoE).
    pub mos: Option<f64>,
}

impl BucketStats {
    /// Adds one report: rates weighted by its period, playback, and its MOS if any.
    pub fn add_report(&mut self, r: &ReportSums) {
        self.reports += 1;
        if !r.down_kbps.is_nan() {
            self.period_s += r.period_s;
            self.down += r.down_kbps * r.period_s;
            if !r.up_kbps.is_nan() && !r.server_kbps.is_nan() {
                self.p2p_period_s += r.period_s;
                self.up += r.up_kbps * r.period_s;
                self.server += r.server_kbps * r.period_s;
                self.p2p_down += r.down_kbps * r.period_s;
            }
        }
        self.play_s += r.play_s;
        self.stall_s += r.stall_s;
        if let Some(m) = r.mos {
            self.mos_sum += m;
            self.mos_n += 1;
        }
    }

    pub fn merge(&mut self, o: &BucketStats) {
        self.merge_sums(o);
        self.startups.extend_from_slice(&o.startups);
    }

    /// Like [`merge`](Self::merge) but without the startup samples: for long spans
    /// that report no startup percentiles.
    pub fn merge_sums(&mut self, o: &BucketStats) {
        self.records += o.records;
        self.reports += o.reports;
        self.period_s += o.period_s;
        self.down += o.down;
        self.p2p_period_s += o.p2p_period_s;
        self.up += o.up;
        self.server += o.server;
        self.p2p_down += o.p2p_down;
        self.play_s += o.play_s;
        self.stall_s += o.stall_s;
        self.mos_sum += o.mos_sum;
        self.mos_n += o.mos_n;
        self.new_peers += o.new_peers;
        self.online_delta += o.online_delta;
    }

    /// The metrics of §5 over these sums; `None` where the denominator is empty.
    pub fn figures(&self) -> Figures {
        let ratio = |num: f64, den: f64| if den > 0.0 { Some(num / den) } else { None };
        let mut startups = self.startups.clone();
        startups.sort_unstable();
        Figures {
            records: self.records,
            new_peers: self.new_peers,
            up_kbps: ratio(self.up, self.p2p_period_s),
            down_kbps: ratio(self.down, self.period_s),
            contribution: ratio(self.up, self.p2p_down),
            p2p_share: ratio(self.server, self.p2p_down).map(|s| 1.0 - s),
            continuity: ratio(self.play_s, self.play_s + self.stall_s),
            qoe: ratio(self.mos_sum, f64::from(self.mos_n)),
            startup_p50_ms: nearest_rank(&startups, 50.0),
            startup_p90_ms: nearest_rank(&startups, 90.0),
            startup_p99_ms: nearest_rank(&startups, 99.0),
        }
    }
}

/// Derived metrics of one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    pub records: u32,
    pub new_peers: u32,
    pub up_kbps: Option<f64>,
    pub down_kbps: Option<f64>,
    pub contribution: Option<f64>,
    pub p2p_share: Option<f64>,
    pub continuity: Option<f64>,
    pub qoe: Option<f64>,
    pub startup_p50_ms: Option<i64>,
    pub startup_p90_ms: Option<i64>,
    pub startup_p99_ms: Option<i64>,
}

/// Buckets of a fixed width, stored only where something happened, in time order.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Series {
    width_ms: i64,
    buckets: Vec<(i64, BucketStats)>,
    /// Position of the last bucket touched: records arrive in time order.
    hint: usize,
}

impl Series {
    pub fn new(width_ms: i64) -> Self {
        assert!(width_ms > 0, "bucket width must be positive");
        Series {
            width_ms,
            buckets: Vec::new(),
            hint: 0,
        }
    }

    pub fn width_ms(&self) -> i64 {
        self.width_ms
    }

    /// The bucket holding the instant `ms`.
    pub fn index_of(&self, ms: i64) -> i64 {
        ms.div_euclid(self.width_ms)
    }

    /// The bucket whose end is the first bucket end at or after `ms`: a change in online
    /// peers at `ms` counts at every end t ≥ ms (online means recv ≤ t).
    pub fn index_ending_at_or_after(&self, ms: i64) -> i64 {
        (ms - 1).div_euclid(self.width_ms)
    }

    pub fn bucket_mut(&mut self, index: i64) -> &mut BucketStats {
        let pos = self.position(index);
        &mut self.buckets[pos].1
    }

    fn position(&mut self, index: i64) -> usize {
        // Records come in time order and online-peer ends land a bucket ahead, so the
        // wanted bucket is nearly always the last one touched or a neighbour.
        let h = self.hint;
        for p in [h, h.wrapping_sub(1), h + 1] {
            if self.buckets.get(p).is_some_and(|(i, _)| *i == index) {
                self.hint = p;
                return p;
            }
        }
        let p = match self.buckets.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(p) => p,
            Err(p) => {
                self.buckets.insert(p, (index, BucketStats::default()));
                p
            }
        };
        self.hint = p;
        p
    }

    /// The buckets, each with the instant it starts at.
    pub fn into_by_start(self) -> Vec<(i64, BucketStats)> {
        let width = self.width_ms;
        self.buckets
            .into_iter()
            .map(|(i, b)| (i * width, b))
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(i64, BucketStats)> {
        self.buckets.iter()
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Buckets with index in `[from, to)`, in order.
    pub fn range(&self, from: i64, to: i64) -> &[(i64, BucketStats)] {
        let a = self.buckets.partition_point(|(i, _)| *i < from);
        let b = self.buckets.partition_point(|(i, _)| *i < to);
        &self.buckets[a..b.max(a)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_buckets_stay_sorted() {
        let mut s = Series::new(10);
        for i in [5, 7, 6, 1, 7, 9, 8] {
            s.bucket_mut(i).records += 1;
        }
        let idx: Vec<i64> = s.iter().map(|(i, _)| *i).collect();
        assert_eq!(idx, vec![1, 5, 6, 7, 8, 9]);
        assert_eq!(s.range(6, 8).len(), 2);
        assert_eq!(s.range(6, 8)[1].1.records, 2);
    }

    #[test]
    fn online_changes_count_from_the_first_end_at_or_after() {
        let s = Series::new(60_000);
        assert_eq!(s.index_ending_at_or_after(60_000), 0);
        assert_eq!(s.index_ending_at_or_after(60_001), 1);
        assert_eq!(s.index_ending_at_or_after(1), 0);
        assert_eq!(s.index_ending_at_or_after(0), -1);
    }

    #[test]
    fn figures_are_ratios_of_sums() {
        let b = BucketStats {
            reports: 2,
            period_s: 60.0,
            p2p_period_s: 60.0,
            up: 30.0 * 800.0 + 30.0 * 1000.0,
            down: 60.0 * 1000.0,
            p2p_down: 60.0 * 1000.0,
            server: 60.0 * 250.0,
            play_s: 59.0,
            stall_s: 1.0,
            mos_sum: 7.0,
            mos_n: 2,
            startups: vec![300, 100, 200],
            ..BucketStats::default()
        };
        let f = b.figures();
        assert_eq!(f.up_kbps, Some(900.0));
        assert_eq!(f.contribution, Some(0.9));
        assert_eq!(f.p2p_share, Some(0.75));
        assert_eq!(f.qoe, Some(3.5));
        assert_eq!(f.startup_p50_ms, Some(200));
        assert_eq!(BucketStats::default().figures().up_kbps, None);
    }
}
