//! The input of an explanation: cells with the explained measure's sums in the window
//! and in the baseline, and the per-leaf quantities every method reads.

use rustc_hash::FxHashMap;

use super::{DIMENSIONS, Target};

/// A measure's additive sums: a ratio's numerator and denominator, or a count in
/// `num` (with `den` 1 where the cell has been seen).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    pub num: f64,
    pub den: f64,
}

impl Sums {
    pub fn add(&mut self, o: Sums) {
        self.num += o.num;
        self.den += o.den;
    }

    fn ratio(self) -> Option<f64> {
        (self.den > 0.0).then(|| self.num / self.den)
    }
}

/// One cell: its name per dimension (an index into the cube's names), its sums in the
/// window and in the baseline, and its peers online at the moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub names: [u32; DIMENSIONS],
    pub actual: Sums,
    pub expected: Sums,
    pub peers: i64,
}

/// Cells over the four dimensions, each dimension's names listed once.
#[derive(Debug, Clone, Default)]
pub struct Cube {
    pub names: [Vec<String>; DIMENSIONS],
    pub leaves: Vec<Leaf>,
    /// Where each leaf's names stand in `leaves`.
    index: FxHashMap<[u32; DIMENSIONS], usize>,
}

impl Cube {
    /// The index of `name` in dimension `d`, added if new.
    pub fn name_index(&mut self, d: usize, name: &str) -> u32 {
        let names = &mut self.names[d];
        let at = names.iter().position(|n| n == name).unwrap_or_else(|| {
            names.push(name.to_owned());
            names.len() - 1
        });
        u32::try_from(at).unwrap_or(u32::MAX)
    }

    /// Adds a cell's sums (cells named alike merge).
    pub fn add(&mut self, names: [&str; DIMENSIONS], actual: Sums, expected: Sums, peers: i64) {
        let names = [0, 1, 2, 3].map(|d| self.name_index(d, names[d]));
        if let Some(&at) = self.index.get(&names) {
            let leaf = &mut self.leaves[at];
            leaf.actual.add(actual);
            leaf.expected.add(expected);
            leaf.peers += peers;
            return;
        }
        self.index.insert(names, self.leaves.len());
        self.leaves.push(Leaf {
            names,
            actual,
            expected,
            peers,
        });
    }
}

/// A leaf as the methods read it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Point {
    pub names: [u32; DIMENSIONS],
    /// Actual and expected value.
    pub value: f64,
    pub expected: f64,
    /// The actual denominator (1 for a count): the leaf's weight in the total.
    pub size: f64,
    /// Inverse noise variance of `value − expected`: the size for a ratio (the mean of
    /// n samples), 1 ÷ expected for a count (Poisson).
    pub weight: f64,
    /// What a common shift of its element moves it by: 1 for a ratio, the expected
    /// value (at least 1) for a count (a count loses a proportion).
    pub basis: f64,
    /// Its part of the total change, in the measure's unit.
    pub change: f64,
    pub peers: i64,
}

/// The cube's leaves as points, and the total's actual and mix-adjusted expected value;
/// `Err` when the window is empty or no baseline exists.
pub(super) struct Prepared {
    pub points: Vec<Point>,
    pub actual: f64,
    pub expected: f64,
    /// The noise of one unit of weight: what a leaf's weighted squared deviation is
    /// when nothing changed.
    pub noise: f64,
}

pub(super) enum Lack {
    NoData,
    NoBaseline,
}

pub(super) fn prepare(cube: &Cube, target: Target) -> Result<Prepared, Lack> {
    if target.is_count() {
        return prepare_counts(cube);
    }
    let mut actual = Sums::default();
    let mut baseline = Sums::default();
    for l in &cube.leaves {
        actual.add(l.actual);
        baseline.add(l.expected);
    }
    let total_size = actual.den;
    let Some(value) = actual.ratio() else {
        return Err(Lack::NoData);
    };
    let Some(fallback) = baseline.ratio() else {
        return Err(Lack::NoBaseline);
    };
    let mut expected_sum = 0.0;
    let noise = baseline_spread(cube, fallback);
    let points = cube
        .leaves
        .iter()
        .filter_map(|l| {
            let v = l.actual.ratio()?;
            let e = l.expected.ratio().unwrap_or(fallback);
            let size = l.actual.den;
            expected_sum += e * size;
            Some(Point {
                names: l.names,
                value: v,
                expected: e,
                size,
                weight: size,
                basis: 1.0,
                change: (v - e) * size / total_size,
                peers: l.peers,
            })
        })
        .collect();
    Ok(Prepared {
        points,
        actual: value,
        expected: expected_sum / total_size,
        noise,
    })
}

/// The spread of the baseline's cells about the whole, per unit of weight: each cell's
/// mean over n samples varies by σ²/n, so n × (its deviation)² estimates σ² (and cells
/// that differ for good reason only make it larger: a cautious noise floor). Without
/// two cells to compare, the window's own spread stands in.
fn baseline_spread(cube: &Cube, whole: f64) -> f64 {
    let spread = |side: fn(&Leaf) -> Sums, mean: f64| {
        let (sum, n) = cube.leaves.iter().fold((0.0, 0usize), |(sum, n), l| {
            let s = side(l);
            match s.ratio() {
                Some(v) => (sum + s.den * (v - mean).powi(2), n + 1),
                None => (sum, n),
            }
        });
        (n >= 2).then(|| sum / (n - 1) as f64)
    };
    let mut window = Sums::default();
    for l in &cube.leaves {
        window.add(l.actual);
    }
    spread(|l| l.expected, whole)
        .or_else(|| spread(|l| l.actual, window.ratio().unwrap_or(whole)))
        .unwrap_or(0.0)
}

fn prepare_counts(cube: &Cube) -> Result<Prepared, Lack> {
    let actual: f64 = cube.leaves.iter().map(|l| l.actual.num).sum();
    let expected: f64 = cube.leaves.iter().map(|l| l.expected.num).sum();
    if cube.leaves.iter().all(|l| l.actual.den <= 0.0) {
        return Err(Lack::NoData);
    }
    if cube.leaves.iter().all(|l| l.expected.den <= 0.0) || expected <= 0.0 {
        return Err(Lack::NoBaseline);
    }
    let points = cube
        .leaves
        .iter()
        .map(|l| Point {
            names: l.names,
            value: l.actual.num,
            expected: l.expected.num,
            size: 1.0,
            weight: 1.0 / l.expected.num.max(1.0),
            basis: l.expected.num.max(1.0),
            change: l.actual.num - l.expected.num,
            peers: l.peers,
        })
        .collect();
    Ok(Prepared {
        points,
        actual,
        expected,
        // Weights are 1 ÷ expected: Poisson counts have unit noise.
        noise: 1.0,
    })
}

/// One cell's sums over a span, named per dimension: one side of a cube.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSums {
    pub names: [String; DIMENSIONS],
    pub sums: Sums,
    /// Online peers at the span's end.
    pub peers: i64,
}

impl CellSums {
    fn name_refs(&self) -> [&str; DIMENSIONS] {
        std::array::from_fn(|d| self.names[d].as_str())
    }
}

impl Cube {
    /// The cube of a window (`actual`) against a baseline, cells matched by name: a
    /// baseline may come from another engine, or another recording.
    pub fn pair(actual: &[CellSums], baseline: &[CellSums]) -> Cube {
        let mut cube = Cube::default();
        for c in actual {
            cube.add(c.name_refs(), c.sums, Sums::default(), c.peers);
        }
        for c in baseline {
            cube.add(c.name_refs(), Sums::default(), c.sums, 0);
        }
        cube
    }
}
