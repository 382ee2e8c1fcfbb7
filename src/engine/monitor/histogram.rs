//! The distribution across peers of one metric over the window (view 3), from each
//! peer's report samples of the last quarter hour.

use super::{Monitor, Sample};
use crate::engine::aggregate::bucket::BucketStats;
use crate::engine::aggregate::qoe::nearest_rank;
use crate::engine::aggregate::tiers::CellId;
use crate::engine::query::metric::Metric;
use crate::engine::query::snapshot::{Histogram, Query};

impl Monitor {
    pub(super) fn histogram(
        &self,
        metric: Metric,
        q: &Query,
        selected: &dyn Fn(CellId) -> bool,
    ) -> Histogram {
        let from = q.now - q.window_ms;
        let mut values = Vec::new();
        for &p in &self.sampled {
            let samples = self.peers[p as usize].samples.iter().filter(|s| {
                s.recv >= from && s.recv < q.now && (q.filter.is_empty() || selected(s.cell))
            });
            if let Some(v) = per_peer(metric, samples) {
                values.push(v);
            }
        }
        values.sort_by(f64::total_cmp);
        let (lo, hi, n) = metric.info().bins;
        let width = (hi - lo) / f64::from(n);
        let mut counts = vec![0usize; n as usize];
        for v in &values {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = (((v - lo) / width).floor().max(0.0) as usize).min(counts.len() - 1);
            counts[i] += 1;
        }
        #[allow(clippy::cast_precision_loss)]
        let total = values.len().max(1) as f64;
        Histogram {
            metric: Some(metric),
            bins: counts
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    #[allow(clippy::cast_precision_loss)]
                    let a = lo + width * i as f64;
                    #[allow(clippy::cast_precision_loss)]
                    (a, a + width, *c as f64 / total)
                })
                .collect(),
            peers: values.len(),
            median: nearest_rank(&values, 50.0),
            p90: nearest_rank(&values, 90.0),
        }
    }
}

/// A peer's value of `metric` over its samples in the window.
fn per_peer<'a>(metric: Metric, samples: impl Iterator<Item = &'a Sample>) -> Option<f64> {
    let mut b = BucketStats::default();
    let mut startup = None;
    for s in samples {
        b.add_report(&s.sums);
        startup = startup.or(s.startup);
    }
    if b.reports == 0 {
        return None;
    }
    let f = b.figures();
    #[allow(clippy::cast_precision_loss)]
    match metric {
        Metric::UpKbps => f.up_kbps,
        Metric::DownKbps => f.down_kbps,
        Metric::Contribution => f.contribution,
        Metric::P2pShare => f.p2p_share,
        Metric::Continuity => f.continuity,
        Metric::Qoe => f.qoe,
        Metric::StartupP50 | Metric::StartupP90 => startup.map(|v| v as f64),
        Metric::Online | Metric::NewPeers => None,
    }
}
