//! The full method: the most succinct cause, over every cuboid of one to three
//! dimensions, that fits the leaves' deviations (see the module's doc).

use rustc_hash::FxHashMap;

use super::cube::{Lack, Point, Prepared, prepare};
use super::{Cause, Contributor, Cube, DIMENSIONS, Explanation, Target, Verdict};

// Fits are measured in units of noise (the weighted squared deviation one unit of weight
// has when nothing changed), so a gain reads as a χ² of one degree of freedom.

/// What one element costs per dimension: a cause must fit this much better to be
/// allowed one more element or dimension.
const COST_PER_DIMENSION: f64 = 8.0;
/// The most elements one cause holds.
const MAX_ELEMENTS: usize = 3;
/// An element's shift is real past 25 (five standard deviations: by chance about once
/// in two million elements tried, and an explanation tries a few thousand)…
const SIGNIFICANT: f64 = 25.0;
/// …and the whole's, tried once, past 9 (three standard deviations).
const SIGNIFICANT_WHOLE: f64 = 9.0;
/// An element must hold at least this part of the window's weight (reports, seconds
/// played, startups, peers): a handful of samples has too heavy a tail — one long
/// stall in a few reports — for the noise test to judge.
const MIN_WEIGHT_SHARE: f64 = 0.002;
/// …and hold at least this share of the change: a cause is where the change is.
const MIN_SHARE: f64 = 0.05;
/// Without noise in the baseline (every cell alike), this part of the deviation stands
/// in for it: an element must then remove an eighth of the deviation, and each of its
/// dimensions costs 4 %.
const NOISELESS: f64 = 0.005;
/// A cuboid's key: a name index per dimension it is made of, `ANY` elsewhere.
const ANY: u32 = u32::MAX;

/// The sums of an element's leaves.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Element {
    /// Σ weight × basis × residual, and Σ weight × basis²: the common shift's fit.
    wbr: f64,
    wbb: f64,
    /// Σ weight: how many samples (of noise 1 ÷ weight each) it holds.
    weight: f64,
    pub change: f64,
    size: f64,
    /// Σ value × size and Σ expected × size: a ratio's numerators, a count's counts.
    pub value_size: f64,
    pub expected_size: f64,
    pub peers: i64,
}

impl Element {
    pub fn add(&mut self, p: &Point) {
        let residual = p.value - p.expected;
        self.wbr += p.weight * p.basis * residual;
        self.wbb += p.weight * p.basis * p.basis;
        self.weight += p.weight;
        self.change += p.change;
        self.size += p.size;
        self.value_size += p.value * p.size;
        self.expected_size += p.expected * p.size;
        self.peers += p.peers;
    }

    /// The weighted squared deviation a common shift of its leaves removes.
    fn gain(&self) -> f64 {
        if self.wbb > 0.0 {
            self.wbr * self.wbr / self.wbb
        } else {
            0.0
        }
    }

    /// Its value and expected value: a ratio's means, a count's sums.
    pub fn values(&self, target: Target) -> (Option<f64>, Option<f64>) {
        if target.is_count() {
            (Some(self.value_size), Some(self.expected_size))
        } else if self.size > 0.0 {
            (
                Some(self.value_size / self.size),
                Some(self.expected_size / self.size),
            )
        } else {
            (None, None)
        }
    }

    pub fn contributor(&self, cause: Cause, target: Target, delta: f64) -> Contributor {
        let (actual, expected) = self.values(target);
        Contributor {
            cause,
            share: self.change / delta,
            actual,
            expected,
            peers: self.peers,
        }
    }
}

/// The elements of one cuboid (`dims` a bit per dimension), in a stable order.
pub(super) fn elements(points: &[Point], dims: u32) -> Vec<([u32; DIMENSIONS], Element)> {
    let mut by_key: FxHashMap<[u32; DIMENSIONS], usize> = FxHashMap::default();
    let mut out: Vec<([u32; DIMENSIONS], Element)> = Vec::new();
    for p in points {
        let key = project(&p.names, dims);
        let at = *by_key.entry(key).or_insert_with(|| {
            out.push((key, Element::default()));
            out.len() - 1
        });
        out[at].1.add(p);
    }
    out
}

fn project(names: &[u32; DIMENSIONS], dims: u32) -> [u32; DIMENSIONS] {
    let mut key = [ANY; DIMENSIONS];
    for (d, slot) in key.iter_mut().enumerate() {
        if dims & (1 << d) != 0 {
            *slot = names[d];
        }
    }
    key
}

/// The names of an element's key.
pub(super) fn cause_of(cube: &Cube, key: &[u32; DIMENSIONS]) -> Cause {
    std::array::from_fn(|d| {
        (key[d] != ANY).then(|| {
            cube.names[d]
                .get(key[d] as usize)
                .cloned()
                .unwrap_or_default()
        })
    })
}

/// What the whole explains when nothing is located: the verdict and totals only.
pub(super) fn verdict_only(
    target: Target,
    verdict: Verdict,
    actual: Option<f64>,
    expected: Option<f64>,
) -> Explanation {
    Explanation {
        target,
        actual,
        expected,
        verdict,
        contributors: Vec::new(),
        others: Vec::new(),
    }
}

/// How many single places an explanation lists beside its cause.
const OTHERS: usize = 8;

/// The single-dimension elements (`singles`) with the largest shares of the change,
/// leaving out the cause's own elements.
fn others(
    cube: &Cube,
    singles: Vec<([u32; DIMENSIONS], Element)>,
    target: Target,
    delta: f64,
    cause: &[Contributor],
) -> Vec<Contributor> {
    let mut all: Vec<Contributor> = singles
        .into_iter()
        .filter(|(_, e)| e.change * delta > 0.0)
        .map(|(key, e)| e.contributor(cause_of(cube, &key), target, delta))
        .filter(|c| cause.iter().all(|k| k.cause != c.cause))
        .collect();
    all.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then_with(|| a.cause.cmp(&b.cause))
    });
    all.truncate(OTHERS);
    all
}

/// The common start of both methods: the points and the total change, or the verdict
/// that ends the search before it starts.
pub(super) fn setup(cube: &Cube, target: Target) -> Result<Prepared, Explanation> {
    let prepared = prepare(cube, target).map_err(|lack| match lack {
        Lack::NoData => verdict_only(target, Verdict::NoData, None, None),
        Lack::NoBaseline => verdict_only(target, Verdict::NoBaseline, None, None),
    })?;
    let (actual, expected) = (prepared.actual, prepared.expected);
    let delta = actual - expected;
    // Exactly no change; a small one is judged against the noise by the search.
    if delta == 0.0 {
        return Err(verdict_only(
            target,
            Verdict::NoChange,
            Some(actual),
            Some(expected),
        ));
    }
    Ok(prepared)
}

/// The cuboids of one to three dimensions, fewest dimensions first.
fn cuboids() -> impl Iterator<Item = u32> {
    (1..=3).flat_map(|size| (1u32..1 << DIMENSIONS).filter(move |m| m.count_ones() == size))
}

/// The smallest set of cells or cell combinations that explains the change of
/// `target` between the cube's baseline and its window.
pub fn explain(cube: &Cube, target: Target) -> Explanation {
    let Prepared {
        points,
        actual,
        expected,
        noise,
    } = match setup(cube, target) {
        Ok(set) => set,
        Err(done) => return done,
    };
    let delta = actual - expected;
    let deviation: f64 = points
        .iter()
        .map(|p| p.weight * (p.value - p.expected).powi(2))
        .sum();
    let unit = if noise > 0.0 {
        noise
    } else {
        (deviation * NOISELESS).max(f64::MIN_POSITIVE)
    };
    let mut everywhere = Element::default();
    for p in &points {
        everywhere.add(p);
    }
    let mut best_score = everywhere.gain() / unit;
    let min_weight = MIN_WEIGHT_SHARE * everywhere.weight;
    let mut best: Vec<([u32; DIMENSIONS], Element)> = Vec::new();
    // The one-dimension cuboids' elements, kept for the places listed beside the cause.
    let mut singles = Vec::new();
    for dims in cuboids() {
        let all = elements(&points, dims);
        if dims.is_power_of_two() {
            singles.extend_from_slice(&all);
        }
        let mut candidates: Vec<([u32; DIMENSIONS], Element)> = all
            .into_iter()
            .filter(|(_, e)| {
                e.wbr * delta > 0.0 && e.change / delta >= MIN_SHARE && e.weight >= min_weight
            })
            .collect();
        // Ties go by name, so that the answer does not depend on the cells' order.
        candidates.sort_by(|a, b| {
            b.1.gain()
                .total_cmp(&a.1.gain())
                .then_with(|| cause_of(cube, &a.0).cmp(&cause_of(cube, &b.0)))
        });
        let taken: Vec<_> = candidates
            .into_iter()
            .take_while(|(_, e)| e.gain() / unit >= SIGNIFICANT)
            .take(MAX_ELEMENTS)
            .collect();
        if taken.is_empty() {
            continue;
        }
        let fit: f64 = taken.iter().map(|(_, e)| e.gain()).sum::<f64>() / unit;
        let cost = COST_PER_DIMENSION * f64::from(dims.count_ones()) * taken.len() as f64;
        if fit - cost > best_score {
            best_score = fit - cost;
            best = taken;
        }
    }
    if best.is_empty() {
        let verdict = if everywhere.gain() / unit >= SIGNIFICANT_WHOLE {
            Verdict::Everywhere
        } else {
            Verdict::NoChange
        };
        let mut done = verdict_only(target, verdict, Some(actual), Some(expected));
        done.others = others(cube, singles, target, delta, &[]);
        return done;
    }
    let mut contributors: Vec<Contributor> = best
        .iter()
        .map(|(key, e)| e.contributor(cause_of(cube, key), target, delta))
        .collect();
    contributors.sort_by(|a, b| b.share.total_cmp(&a.share));
    Explanation {
        target,
        actual: Some(actual),
        expected: Some(expected),
        verdict: Verdict::Located,
        others: others(cube, singles, target, delta, &contributors),
        contributors,
    }
}
