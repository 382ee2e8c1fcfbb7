//! Per-report quality figures and the order statistics the metrics use (DESIGN §5).

use serde::{Deserialize, Serialize};

/// Constants of MOS(B, D) = c1·D + a(1 − e^(−λB)) + c2, clamped to [1, 5].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QoeParams {
    pub c1: f64,
    pub c2: f64,
    pub a: f64,
    pub lambda: f64,
}

impl Default for QoeParams {
    fn default() -> Self {
        QoeParams {
            c1: -5.0,
            c2: 2.0,
            a: 4.0,
            lambda: 0.0015,
        }
    }
}

impl QoeParams {
    /// MOS of one report, or `None` when it covers no playback time (play + stall = 0),
    /// which leaves it out of continuity and `QoE`.
    pub fn mos(&self, bitrate_kbps: f64, play_s: f64, stall_s: f64) -> Option<f64> {
        let total = play_s + stall_s;
        // No playback, or no bitrate to judge it by (a CMCD player that sent no `br`).
        if total <= 0.0 || bitrate_kbps.is_nan() {
            return None;
        }
        let discontinuity = stall_s / total;
        let mos = self.c1 * discontinuity
            + self.a * (1.0 - (-self.lambda * bitrate_kbps).exp())
            + self.c2;
        Some(mos.clamp(1.0, 5.0))
    }
}

/// Nearest-rank percentile: the value at rank ⌈p/100 · n⌉ of the sorted values.
/// `sorted` must be ascending; `None` when empty.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mos_of_smooth_playback_at_430_kbps_is_near_3_9() {
        let q = QoeParams::default();
        let mos = q.mos(430.0, 30.0, 0.0).expect("has playback");
        assert!((mos - (4.0 * (1.0 - (-0.645f64).exp()) + 2.0)).abs() < 1e-12);
    }

    #[test]
    fn mos_is_clamped_and_skips_empty_reports() {
        let q = QoeParams::default();
        assert_eq!(q.mos(400.0, 0.0, 30.0), Some(1.0));
        assert_eq!(q.mos(1e9, 30.0, 0.0), Some(5.0));
        assert_eq!(q.mos(400.0, 0.0, 0.0), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v = [10, 20, 30, 40];
        assert_eq!(nearest_rank(&v, 50.0), Some(20));
        assert_eq!(nearest_rank(&v, 90.0), Some(40));
        assert_eq!(nearest_rank(&v, 99.0), Some(40));
        assert_eq!(nearest_rank(&[7], 50.0), Some(7));
        assert_eq!(nearest_rank::<i64>(&[], 50.0), None);
    }
}
