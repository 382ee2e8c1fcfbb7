//! The route-change score of one path (DESIGN §5).
//!
//! Each round, every element of the forward path (an AS; a hop with no known AS counts
//! by its address) contributes t_d = now − the last time it was on this path. A stable
//! path sums to about (elements × round interval); a path that switches to an AS it has
//! not used for hours or days sums far above that. The round's sum is scored as a
//! z-score against the sums of the previous rounds in a sliding window, so a path whose
//! load balancer flips between two known routes every round scores near zero once its
//! history holds the flip-flop.
//!
//! The standard deviation has a floor of one mean round interval: a perfectly stable
//! path has a deviation of zero, and without a floor the first harmless change (one
//! extra hop) would score infinity. With the floor, a z of 5 means "elements
//! contributing five rounds more absence than usual".

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::engine::record::Hop;

/// One element of a forward path.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum PathElement {
    As(u32),
    /// A hop whose AS is unknown, by its address.
    Hop(Box<str>),
}

/// The elements of a traceroute, each once, in path order.
pub fn path_elements(hops: &[Hop]) -> Vec<PathElement> {
    let mut out: Vec<PathElement> = Vec::with_capacity(hops.len());
    for h in hops {
        let e = match h.asn {
            Some(a) => PathElement::As(a),
            None => PathElement::Hop(h.ip.as_str().into()),
        };
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

/// The AS path of a traceroute as people read it: ASNs in order, repeats merged.
pub fn as_path(hops: &[Hop]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for a in hops.iter().filter_map(|h| h.asn) {
        if out.last() != Some(&a) {
            out.push(a);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RouteChangeParams {
    /// Rounds of history a round's sum is compared with.
    pub window: usize,
    /// A score above this is a route-change event.
    pub threshold: f64,
    /// Rounds of history needed before any score is given.
    pub min_history: usize,
}

impl Default for RouteChangeParams {
    fn default() -> Self {
        RouteChangeParams {
            window: 144,
            threshold: 5.0,
            min_history: 6,
        }
    }
}

/// The score of one round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundScore {
    /// Σ t_d over the path's elements, seconds.
    pub absence_s: f64,
    /// `None` until the path has `min_history` rounds behind it.
    pub score: Option<f64>,
}

/// Per-path state of the score.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RouteTracker {
    first_at: Option<i64>,
    last_round: Option<i64>,
    last_seen: FxHashMap<PathElement, i64>,
    /// (Σ t_d, gap to the previous round) of the last `window` rounds, seconds.
    history: VecDeque<(f64, f64)>,
}

impl RouteTracker {
    /// Scores a round measured at `at` (ms) over `elements`, then records it.
    #[allow(clippy::cast_precision_loss)]
    pub fn observe(
        &mut self,
        at: i64,
        elements: &[PathElement],
        params: &RouteChangeParams,
    ) -> RoundScore {
        let first = *self.first_at.get_or_insert(at);
        let absence_s: f64 = elements
            .iter()
            .map(|e| {
                let since = self.last_seen.get(e).copied().unwrap_or(first);
                (at - since).max(0) as f64 / 1000.0
            })
            .sum();
        let score = (self.history.len() >= params.min_history.max(2)).then(|| {
            let n = self.history.len() as f64;
            let mean = self.history.iter().map(|h| h.0).sum::<f64>() / n;
            let var = self
                .history
                .iter()
                .map(|h| (h.0 - mean).powi(2))
                .sum::<f64>()
                / n;
            let mean_gap = self.history.iter().map(|h| h.1).sum::<f64>() / n;
            (absence_s - mean) / var.sqrt().max(mean_gap).max(1.0)
        });
        let gap = self
            .last_round
            .map_or(0.0, |p| (at - p).max(0) as f64 / 1000.0);
        if self.last_round.is_some() {
            self.history.push_back((absence_s, gap));
            while self.history.len() > params.window.max(2) {
                self.history.pop_front();
            }
        }
        self.last_round = Some(at);
        for e in elements {
            self.last_seen.insert(e.clone(), at);
        }
        RoundScore { absence_s, score }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUND: i64 = 600_000;

    fn ases(list: &[u32]) -> Vec<PathElement> {
        list.iter().map(|a| PathElement::As(*a)).collect()
    }

    /// Feeds `paths` one per round and returns every score.
    fn scores(paths: &[Vec<PathElement>]) -> Vec<Option<f64>> {
        let params = RouteChangeParams::default();
        let mut t = RouteTracker::default();
        paths
            .iter()
            .enumerate()
            .map(|(i, p)| t.observe(i as i64 * ROUND, p, &params).score)
            .collect()
    }

    fn events(s: &[Option<f64>]) -> Vec<usize> {
        s.iter()
            .enumerate()
            .filter(|(_, v)| v.is_some_and(|v| v > 5.0))
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn a_stable_path_has_no_event() {
        let s = scores(&vec![ases(&[4528, 3356, 2914]); 500]);
        assert!(events(&s).is_empty());
        assert!(s[..6].iter().all(Option::is_none), "needs history first");
        assert!(s[10].is_some_and(|v| v.abs() < 1e-9));
    }

    #[test]
    fn a_load_balancing_flip_flop_is_filtered() {
        let a = ases(&[4528, 3356, 2914]);
        let b = ases(&[4528, 174, 2914]);
        let paths: Vec<_> = (0..500)
            .map(|i| if i % 2 == 0 { a.clone() } else { b.clone() })
            .collect();
        let s = scores(&paths);
        assert!(events(&s).is_empty(), "{:?}", events(&s));
        // A flip-flop that starts after a long stable run: one event when the second
        // route first shows up, none while it keeps flipping.
        let mut paths = vec![a.clone(); 300];
        paths.extend((0..300).map(|i| if i % 2 == 0 { b.clone() } else { a.clone() }));
        let s = scores(&paths);
        assert_eq!(events(&s), vec![300]);
    }

    #[test]
    fn a_new_as_for_hours_is_an_event() {
        let old = ases(&[4528, 4637, 3356, 37100, 36914]);
        let new = ases(&[4528, 3491, 6453, 37100, 36914]);
        let mut paths = vec![old.clone(); 300];
        paths.extend(vec![new.clone(); 36]); // six hours
        paths.extend(vec![old.clone(); 100]);
        let s = scores(&paths);
        // Back after six hours: the detour's own outlier is still in the window, so the
        // return scores low; the change itself stands out.
        assert_eq!(events(&s), vec![300], "{:?}", &s[295..340]);
        assert!(s[300].is_some_and(|v| v > 100.0));
        // Away for two days (longer than the window): the return is an event too.
        let mut paths = vec![old.clone(); 300];
        paths.extend(vec![new; 288]);
        paths.extend(vec![old; 100]);
        assert_eq!(events(&scores(&paths)), vec![300, 588]);
    }

    #[test]
    fn a_single_round_detour_scores_low_on_its_return() {
        let a = ases(&[1, 2, 3]);
        let mut paths = vec![a.clone(); 200];
        paths.push(ases(&[1, 9, 3]));
        paths.extend(vec![a; 50]);
        let s = scores(&paths);
        // The detour to an AS never seen is an event; coming back one round later is not.
        assert_eq!(events(&s), vec![200]);
    }

    #[test]
    fn unknown_ases_count_by_hop_and_repeats_merge() {
        let hops = [
            Hop {
                ip: "10.0.0.1".into(),
                asn: None,
            },
            Hop {
                ip: "1.1.1.1".into(),
                asn: Some(7),
            },
            Hop {
                ip: "1.1.1.2".into(),
                asn: Some(7),
            },
            Hop {
                ip: "2.2.2.2".into(),
                asn: Some(8),
            },
        ];
        assert_eq!(
            path_elements(&hops),
            vec![
                PathElement::Hop("10.0.0.1".into()),
                PathElement::As(7),
                PathElement::As(8)
            ]
        );
        assert_eq!(as_path(&hops), vec![7, 8]);
    }
}
