//! Adtributor (Bhagwan et al., NSDI 2014), single dimension: in each dimension, take
//! the elements of largest explanatory power (their share of the change) until they
//! explain most of it; of the dimensions where that succeeds, answer with the one whose
//! distribution moved the most (surprise: Jensen–Shannon divergence between the
//! expected and actual shares of the measure). The accuracy benchmark's baseline.

use super::search::{cause_of, elements, setup, verdict_only};
use super::{Contributor, Cube, DIMENSIONS, Explanation, Target, Verdict};

/// An element is a candidate when it explains at least this share of the change…
const MIN_ELEMENT_SHARE: f64 = 0.1;
/// …and a dimension answers once its candidates explain this much.
const ENOUGH_SHARE: f64 = 0.67;

pub fn adtributor(cube: &Cube, target: Target) -> Explanation {
    let (points, actual, expected) = match setup(cube, target) {
        Ok(p) => (p.points, p.actual, p.expected),
        Err(done) => return done,
    };
    let delta = actual - expected;
    let mut best: Option<(f64, Vec<Contributor>)> = None;
    for d in 0..DIMENSIONS {
        let mut elems = elements(&points, 1 << d);
        // The measure's mass per element: a ratio's numerator, a count.
        let total_actual: f64 = elems.iter().map(|(_, e)| e.value_size).sum();
        let total_expected: f64 = elems.iter().map(|(_, e)| e.expected_size).sum();
        let surprise: f64 = elems
            .iter()
            .map(|(_, e)| {
                js(
                    e.expected_size / total_expected,
                    e.value_size / total_actual,
                )
            })
            .sum();
        elems.sort_by(|a, b| b.1.change.total_cmp(&a.1.change).then(a.0.cmp(&b.0)));
        if delta < 0.0 {
            elems.reverse();
        }
        let mut explained = 0.0;
        let mut chosen = Vec::new();
        for (key, el) in &elems {
            let share = el.change / delta;
            if share < MIN_ELEMENT_SHARE || explained >= ENOUGH_SHARE {
                break;
            }
            explained += share;
            chosen.push(el.contributor(cause_of(cube, key), target, delta));
        }
        if explained >= ENOUGH_SHARE && best.as_ref().is_none_or(|(s, _)| surprise > *s) {
            best = Some((surprise, chosen));
        }
    }
    match best {
        Some((_, contributors)) => Explanation {
            target,
            actual: Some(actual),
            expected: Some(expected),
            verdict: Verdict::Located,
            contributors,
            others: Vec::new(),
        },
        None => verdict_only(target, Verdict::Everywhere, Some(actual), Some(expected)),
    }
}

/// One element's term of the Jensen–Shannon divergence between p and q.
fn js(p: f64, q: f64) -> f64 {
    let term = |a: f64, b: f64| {
        if a > 0.0 {
            a * (2.0 * a / (a + b)).log2()
        } else {
            0.0
        }
    };
    if !(p.is_finite() && q.is_finite()) {
        return 0.0;
    }
    0.5 * (term(p, q) + term(q, p))
}
