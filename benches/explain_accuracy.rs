//! Accuracy of `engine::explain` against injected faults whose truth is known, at the
//! full 2012 scale, beside the plain single-dimension Adtributor.
//!
//! The background is the simulator's own audience: the views active at the busiest
//! minute of an ordinary evening of the full-scale event (thousands of peers), each in
//! its real cell — ISP and district from its address through `maps/ip-geo.csv`, map
//! area from the shipped map, channel from the view. Each trial draws every peer's
//! reports afresh: a 5-minute window (10 reports) and the hour before it as the
//! baseline (120), continuity per report as the simulator has it (3 % of reports stall
//! 0.5–12 s). A fault picks one to three dimensions from a random active peer's cell
//! (so it hits someone) and a severity (each affected report stalls 1–40 % more of its
//! period); the window's reports of every peer in that combination suffer.
//!
//! Scoring is by cells, as the issue asks: the leaves the returned causes cover
//! against the leaves the fault covers (an area that is exactly a district counts as
//! that district). Precision, recall and F1 are summed over trials (micro-averaged),
//! overall and by the fault's number of dimensions; "exact" is the share of trials
//! whose answer is the fault itself. Fifty trials without a fault count how often a
//! place is named where there is none. Time is per explanation of the full cube.
//!
//! `cargo bench --bench explain_accuracy` (under a minute). Figures are from one run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use peerscope::engine::explain::{Cube, Explanation, Sums, Target, Verdict, adtributor, explain};
use peerscope::engine::geography::Geography;
use peerscope::engine::geography::location::IpGeo;
use peerscope::simulate::olympics::{
    CHANNELS, DAY_MS, EVENT_START_MS, Knobs, PEAK, USERS, population,
};
use peerscope::simulate::rng::Rng;

const TRIALS: usize = 200;
const MIN_PEERS: usize = 20;
const QUIET_TRIALS: usize = 50;
const PERIOD_S: f64 = 30.0;
const WINDOW_REPORTS: usize = 10;
const BASELINE_REPORTS: usize = 120;

/// A peer's cell: ISP, channel, district, area.
type Names = [String; 4];

fn audience() -> Vec<Names> {
    let repo = env!("CARGO_MANIFEST_DIR");
    let geo = IpGeo::load(std::path::Path::new(&format!("{repo}/maps/ip-geo.csv")))
        .expect("maps/ip-geo.csv");
    let geography = Geography::shipped();
    // Day 5 (an ordinary day) and the busiest minute of its evening.
    let day = 5;
    let pop = population(
        Knobs {
            seed: 2012,
            users: USERS,
            peak: PEAK,
        },
        day - 1..day + 1,
    );
    let day_start = EVENT_START_MS + day as i64 * DAY_MS;
    let at = (0..24 * 60)
        .map(|m| day_start + m * 60_000)
        .max_by_key(|t| {
            pop.views
                .iter()
                .filter(|v| v.start <= *t && *t < v.end)
                .count()
        })
        .expect("a minute");
    pop.views
        .iter()
        .filter(|v| v.start <= at && at < v.end)
        .map(|v| {
            let user = &pop.users[v.user as usize];
            let loc = geo.locate_str(&user.ip);
            let district = geo.district_name(loc.district).to_owned();
            let area = geography.area_of(loc.lat_lon, &district).map_or_else(
                || "Unknown".to_owned(),
                |a| geography.areas[a as usize].name.clone(),
            );
            [
                geo.isp_name(loc.isp).to_owned(),
                CHANNELS[usize::from(v.channel)].0.to_owned(),
                district,
                area,
            ]
        })
        .collect()
}

/// One dimension set and its values: `Some` where the fault is restricted.
type Fault = [Option<String>; 4];

fn hits(fault: &Fault, cell: &Names) -> bool {
    fault
        .iter()
        .zip(cell)
        .all(|(f, c)| f.as_ref().is_none_or(|f| f == c))
}

/// Continuity sums of `reports` reports of one peer; `extra` stall share on each.
fn reports(rng: &mut Rng, n: usize, extra: f64) -> Sums {
    let mut s = Sums::default();
    for _ in 0..n {
        let chance = if rng.chance(0.03) {
            rng.uniform(0.5, 12.0)
        } else {
            0.0
        };
        let stall = (chance + extra * PERIOD_S).min(PERIOD_S);
        s.add(Sums {
            num: PERIOD_S - stall,
            den: PERIOD_S,
        });
    }
    s
}

fn cube(rng: &mut Rng, peers: &[Names], fault: Option<(&Fault, f64)>) -> Cube {
    let mut cube = Cube::default();
    for cell in peers {
        let extra = match fault {
            Some((f, severity)) if hits(f, cell) => severity,
            _ => 0.0,
        };
        let names = [
            cell[0].as_str(),
            cell[1].as_str(),
            cell[2].as_str(),
            cell[3].as_str(),
        ];
        let actual = reports(rng, WINDOW_REPORTS, extra);
        let expected = reports(rng, BASELINE_REPORTS, 0.0);
        cube.add(names, actual, expected, 1);
    }
    cube
}

/// The leaves (by index) an explanation's causes cover.
fn covered(cube: &Cube, causes: &[Fault]) -> BTreeSet<usize> {
    cube.leaves
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let names: Names = std::array::from_fn(|d| cube.names[d][l.names[d] as usize].clone());
            causes.iter().any(|c| hits(c, &names))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Sums of per-trial precision, recall and F1 (an empty answer has precision 0).
#[derive(Default, Clone, Copy)]
struct Score {
    precision: f64,
    recall: f64,
    f1: f64,
    trials: usize,
    exact: usize,
}

impl Score {
    fn add(&mut self, truth: &BTreeSet<usize>, answer: &BTreeSet<usize>) {
        let both = truth.intersection(answer).count() as f64;
        let p = both / answer.len().max(1) as f64;
        let r = both / truth.len().max(1) as f64;
        self.precision += p;
        self.recall += r;
        self.f1 += if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        self.trials += 1;
        self.exact += usize::from(truth == answer);
    }

    fn line(&self) -> String {
        let n = self.trials.max(1) as f64;
        format!(
            "precision {:.3}  recall {:.3}  F1 {:.3}  exact {:>3}/{:<3}",
            self.precision / n,
            self.recall / n,
            self.f1 / n,
            self.exact,
            self.trials
        )
    }
}

fn causes(e: &Explanation) -> Vec<Fault> {
    if e.verdict == Verdict::Located {
        e.contributors.iter().map(|c| c.cause.clone()).collect()
    } else {
        Vec::new()
    }
}

/// A combination someone is in, of `k` of the four dimensions of a random peer, with
/// at least `MIN_PEERS` peers: smaller ones are below any method's noise at this load.
fn fault(rng: &mut Rng, peers: &[Names], k: usize) -> Fault {
    loop {
        let who = &peers[rng.below(peers.len() as u64) as usize];
        let mut dims: Vec<usize> = (0..4).collect();
        for i in 0..k {
            let j = i + rng.below((4 - i) as u64) as usize;
            dims.swap(i, j);
        }
        let fault: Fault = std::array::from_fn(|d| dims[..k].contains(&d).then(|| who[d].clone()));
        if peers.iter().filter(|p| hits(&fault, p)).count() >= MIN_PEERS {
            return fault;
        }
    }
}

fn main() {
    let peers = audience();
    let mut rng = Rng::new(17, 2026);
    let mut full: BTreeMap<usize, Score> = BTreeMap::new();
    let mut single: BTreeMap<usize, Score> = BTreeMap::new();
    let mut times: Vec<Duration> = Vec::new();
    let mut leaves = 0;
    for _ in 0..TRIALS {
        let k = 1 + rng.below(3) as usize;
        let fault = fault(&mut rng, &peers, k);
        let severity = rng.uniform(0.01, 0.4);
        let c = cube(&mut rng, &peers, Some((&fault, severity)));
        leaves = c.leaves.len();
        let truth = covered(&c, std::slice::from_ref(&fault));
        let started = Instant::now();
        let e = explain(&c, Target::Continuity);
        times.push(started.elapsed());
        let a = adtributor(&c, Target::Continuity);
        for (scores, answer) in [(&mut full, &e), (&mut single, &a)] {
            let found = causes(answer);
            let cells = covered(&c, &found);
            scores.entry(k).or_default().add(&truth, &cells);
            scores.entry(0).or_default().add(&truth, &cells);
        }
    }
    let mut false_places = [0usize; 2];
    for _ in 0..QUIET_TRIALS {
        let c = cube(&mut rng, &peers, None);
        for (i, e) in [
            explain(&c, Target::Continuity),
            adtributor(&c, Target::Continuity),
        ]
        .iter()
        .enumerate()
        {
            false_places[i] += usize::from(e.verdict == Verdict::Located);
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "explain accuracy: {TRIALS} injected continuity faults over {} peers in {leaves} cells (5-min window, the hour before as baseline)",
        peers.len()
    );
    for (name, scores) in [
        ("full method", &full),
        ("Adtributor (one dimension)", &single),
    ] {
        println!("{name}:");
        for (k, s) in scores {
            let what = if *k == 0 {
                "all faults  ".to_owned()
            } else {
                format!("{k}-dimension ")
            };
            println!("  {what} {}", s.line());
        }
    }
    println!(
        "no fault ({QUIET_TRIALS} trials): a place named {} times (full method), {} times (Adtributor)",
        false_places[0], false_places[1]
    );
    println!(
        "time per explanation (full method): median {:.2} ms, max {:.2} ms",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
}
