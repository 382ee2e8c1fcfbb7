//! The full method: the most succinct cause, over every cuboid of one to three
//! dimensions, that fits the leaves' deviations (see the module's doc).

use rustc_hash::FxHashMap;

use super::cube::{Lack, Point, Prepared, prepare};
use super::{Cause, Contributor, Cube, DIMENSIONS, Explanation, Target, Verdict};

/// What one element costs per dimension, in parts of the deviation explained: a cause
/// must fit that much better to be allowed one more element or dimension.
const COST_PER_DIMENSION: f64 = 0.02;
/// The most elements one cause holds.
const MAX_ELEMENTS: usize = 3;
/// An element joins a cause only if it removes at least this part of the deviation.
const MIN_GAIN: f64 = 0.05;
/// A change smaller than this part of the expected value is no change.
const NO_CHANGE: f64 = 1e-3;
/// An element's shift is real when it removes this many times the noise of one unit of
/// weight (a χ² of one degree of freedom past 16 — four standard deviations — happens
/// by chance about once in 15,000 elements tried)…
const SIGNIFICANT: f64 = 16.0;
/// …and the whole's, tried once, past 9 (three standard deviations).
const SIGNIFICANT_WHOLE: f64 = 9.0;
/// A cuboid's key: a name index per dimension it is made of, `ANY` elsewhere.
const ANY: u32 = u32::MAX;

/// The sums of an element's leaves.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Element {
    /// Σ weight × basis × residual, and Σ weight × basis²: the common shift's fit.
    wbr: f64,
    wbb: f64,
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

/// The single-dimension elements with the largest shares of the change, leaving out
/// the cause's own elements.
fn others(
    cube: &Cube,
    points: &[Point],
    target: Target,
    delta: f64,
    cause: &[Contributor],
) -> Vec<Contributor> {
    let mut all: Vec<Contributor> = (0..DIMENSIONS)
        .flat_map(|d| elements(points, 1 << d))
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
    if delta.abs() <= NO_CHANGE * expected.abs() || delta == 0.0 {
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
    let floor = SIGNIFICANT * noise;
    let whole_floor = SIGNIFICANT_WHOLE * noise;
    let deviation: f64 = points
        .iter()
        .map(|p| p.weight * (p.value - p.expected).powi(2))
        .sum();
    let mut everywhere = Element::default();
    for p in &points {
        everywhere.add(p);
    }
    let mut best_score = if deviation > 0.0 {
        everywhere.gain() / deviation
    } else {
        1.0
    };
    let mut best: Vec<([u32; DIMENSIONS], Element)> = Vec::new();
    for dims in cuboids() {
        let mut candidates: Vec<([u32; DIMENSIONS], Element)> = elements(&points, dims)
            .into_iter()
            .filter(|(_, e)| e.wbr * delta > 0.0 && e.change * delta > 0.0)
            .collect();
        candidates.sort_by(|a, b| b.1.gain().total_cmp(&a.1.gain()).then(a.0.cmp(&b.0)));
        let taken: Vec<_> = candidates
            .into_iter()
            .take_while(|(_, e)| e.gain() >= (MIN_GAIN * deviation).max(floor))
            .take(MAX_ELEMENTS)
            .collect();
        if taken.is_empty() {
            continue;
        }
        let fit: f64 = taken.iter().map(|(_, e)| e.gain()).sum::<f64>() / deviation;
        let cost = COST_PER_DIMENSION * f64::from(dims.count_ones()) * taken.len() as f64;
        if fit - cost > best_score {
            best_score = fit - cost;
            best = taken;
        }
    }
    if best.is_empty() {
        let verdict = if everywhere.gain() >= whole_floor {
            Verdict::Everywhere
        } else {
            Verdict::NoChange
        };
        let mut done = verdict_only(target, verdict, Some(actual), Some(expected));
        done.others = others(cube, &points, target, delta, &[]);
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
        others: others(cube, &points, target, delta, &contributors),
        contributors,
    }
}
