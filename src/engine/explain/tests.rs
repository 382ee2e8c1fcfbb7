//! Hand-worked cases: a grid of 2 ISPs × 2 channels × 3 districts (one area each), every
//! cell 100 reports at QoE 4.0 in the baseline, and the window changed as each case says.

use super::*;

const ISPS: [&str; 2] = ["HKBN", "PCCW"];
const CHANNELS: [&str; 2] = ["main", "swimming"];
const DISTRICTS: [&str; 3] = ["Sha Tin", "Eastern", "Islands"];

/// The grid with each cell's window QoE from `qoe(isp, channel, district)`; 100 reports
/// a cell, and the baseline 4.0 over 1,000 reports.
fn grid(qoe: impl Fn(&str, &str, &str) -> f64) -> Cube {
    let mut cube = Cube::default();
    for isp in ISPS {
        for channel in CHANNELS {
            for district in DISTRICTS {
                let v = qoe(isp, channel, district);
                cube.add(
                    [isp, channel, district, district],
                    Sums {
                        num: v * 100.0,
                        den: 100.0,
                    },
                    Sums {
                        num: 4000.0,
                        den: 1000.0,
                    },
                    10,
                );
            }
        }
    }
    cube
}

fn names(e: &Explanation) -> Vec<String> {
    e.contributors.iter().map(Contributor::name).collect()
}

#[test]
fn one_district_holds_the_whole_drop() {
    let cube = grid(|_, _, d| if d == "Sha Tin" { 3.0 } else { 4.0 });
    let e = explain(&cube, Target::Qoe);
    assert_eq!(e.verdict, Verdict::Located);
    // District and its one area fit alike; the district comes first in the table.
    assert_eq!(names(&e), ["Sha Tin"]);
    let top = &e.contributors[0];
    assert!((top.share - 1.0).abs() < 1e-9);
    assert_eq!((top.actual, top.expected), (Some(3.0), Some(4.0)));
    assert_eq!(top.peers, 40);
    // 4 of 12 cells lost a point: the whole is a third of a point down.
    assert!((e.actual.expect("actual") - (4.0 - 1.0 / 3.0)).abs() < 1e-9);
    assert_eq!(e.expected, Some(4.0));
    assert_eq!(e.contributors[0].cause[0], None);
    assert_eq!(e.summary(), "100 % Sha Tin");
}

#[test]
fn a_combination_beats_either_of_its_dimensions() {
    // HKBN in Sha Tin only: HKBN elsewhere and PCCW in Sha Tin are healthy.
    let cube = grid(|i, _, d| {
        if i == "HKBN" && d == "Sha Tin" {
            2.5
        } else {
            4.0
        }
    });
    let e = explain(&cube, Target::Qoe);
    assert_eq!(e.verdict, Verdict::Located);
    assert_eq!(names(&e), ["HKBN × Sha Tin"]);
    assert_eq!(e.contributors[0].actual, Some(2.5));
    // Adtributor answers with one dimension: the district (or ISP), not the pair.
    let single = adtributor(&cube, Target::Qoe);
    assert_eq!(single.contributors.len(), 1);
    assert!(single.contributors[0].cause.iter().flatten().count() == 1);
}

#[test]
fn two_places_in_one_cuboid() {
    let cube = grid(|i, c, _| match (i, c) {
        ("HKBN", "main") => 3.0,
        ("PCCW", "swimming") => 3.5,
        _ => 4.0,
    });
    let e = explain(&cube, Target::Qoe);
    assert_eq!(names(&e), ["HKBN × main", "PCCW × swimming"]);
    // Shares: 1.0 and 0.5 point over three cells each, of 1.5 points in all.
    assert!((e.contributors[0].share - 2.0 / 3.0).abs() < 1e-9);
    assert!((e.contributors[1].share - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(e.summary(), "67 % HKBN × main +1");
}

#[test]
fn a_drop_spread_evenly_has_no_single_place() {
    let cube = grid(|_, _, _| 3.6);
    let e = explain(&cube, Target::Qoe);
    assert_eq!(e.verdict, Verdict::Everywhere);
    assert!(e.contributors.is_empty());
    assert_eq!(e.summary(), "everywhere alike");
}

#[test]
fn no_change_is_said_so() {
    let e = explain(&grid(|_, _, _| 4.0), Target::Qoe);
    assert_eq!(e.verdict, Verdict::NoChange);
    assert_eq!((e.actual, e.expected), (Some(4.0), Some(4.0)));
}

#[test]
fn an_empty_window_and_an_empty_baseline() {
    let mut cube = Cube::default();
    assert_eq!(explain(&cube, Target::Qoe).verdict, Verdict::NoData);
    cube.add(
        ["HKBN", "main", "Sha Tin", "Area 1"],
        Sums { num: 3.0, den: 1.0 },
        Sums::default(),
        1,
    );
    assert_eq!(explain(&cube, Target::Qoe).verdict, Verdict::NoBaseline);
    // A count whose baseline is zero everywhere: nothing to be a share of.
    let mut online = Cube::default();
    online.add(
        ["HKBN", "main", "Sha Tin", "Area 1"],
        Sums { num: 5.0, den: 1.0 },
        Sums { num: 0.0, den: 1.0 },
        5,
    );
    assert_eq!(
        explain(&online, Target::Online).verdict,
        Verdict::NoBaseline
    );
    assert_eq!(
        adtributor(&online, Target::Online).verdict,
        Verdict::NoBaseline
    );
}

#[test]
fn a_cell_without_its_own_baseline_is_judged_by_the_whole() {
    let mut cube = grid(|_, _, _| 4.0);
    cube.add(
        ["HGC", "main", "Sha Tin", "Sha Tin"],
        Sums {
            num: 200.0,
            den: 100.0,
        },
        Sums::default(),
        10,
    );
    let e = explain(&cube, Target::Qoe);
    assert_eq!(names(&e), ["HGC"]);
    assert_eq!(e.contributors[0].expected, Some(4.0));
}

#[test]
fn an_audience_drop_is_a_proportion_of_each_cell() {
    // Online peers: 100 a cell expected; PCCW lost 40 % everywhere.
    let mut cube = Cube::default();
    for isp in ISPS {
        for channel in CHANNELS {
            for district in DISTRICTS {
                let now = if isp == "PCCW" { 60.0 } else { 100.0 };
                cube.add(
                    [isp, channel, district, district],
                    Sums { num: now, den: 1.0 },
                    Sums {
                        num: 100.0,
                        den: 1.0,
                    },
                    now as i64,
                );
            }
        }
    }
    let e = explain(&cube, Target::Online);
    assert_eq!(names(&e), ["PCCW"]);
    assert_eq!(
        (e.contributors[0].actual, e.contributors[0].expected),
        (Some(360.0), Some(600.0))
    );
    assert_eq!((e.actual, e.expected), (Some(960.0), Some(1200.0)));
}

#[test]
fn a_cell_that_only_grew_carries_no_blame() {
    // Sha Tin's QoE fell; Eastern doubled its audience at the usual QoE. Adtributor's
    // point about derived measures: a bigger share of reports is not a fault.
    let mut cube = grid(|_, _, d| if d == "Sha Tin" { 3.0 } else { 4.0 });
    for isp in ISPS {
        for channel in CHANNELS {
            cube.add(
                [isp, channel, "Eastern", "Eastern"],
                Sums {
                    num: 400.0,
                    den: 100.0,
                },
                Sums::default(),
                10,
            );
        }
    }
    let e = explain(&cube, Target::Qoe);
    assert_eq!(names(&e), ["Sha Tin"]);
    assert!((e.contributors[0].share - 1.0).abs() < 1e-9);
}

#[test]
fn the_answer_does_not_depend_on_the_order_of_cells() {
    let cube = grid(|i, c, d| {
        4.0 - if i == "PCCW" && c == "main" { 0.8 } else { 0.0 }
            - if d == "Islands" { 0.05 } else { 0.0 }
    });
    let mut reversed = Cube::default();
    for l in cube.leaves.iter().rev() {
        let n = |d: usize| cube.names[d][l.names[d] as usize].as_str();
        reversed.add([n(0), n(1), n(2), n(3)], l.actual, l.expected, l.peers);
    }
    let (a, b) = (explain(&cube, Target::Qoe), explain(&reversed, Target::Qoe));
    assert_eq!(a, b);
    assert_eq!(names(&a), ["PCCW × main"]);
}

#[test]
fn targets_parse_by_their_keys() {
    for t in Target::ALL {
        assert_eq!(Target::parse(t.key()), Some(t));
    }
    assert_eq!(Target::parse("QoE"), Some(Target::Qoe));
    assert_eq!(Target::parse("mos"), None);
}

/// Cells that differ by chance alone, in the baseline and in the window alike.
fn noisy(seed: u64, fault: Option<(&str, &str, f64)>) -> Cube {
    let mut state = seed;
    let mut noise = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 33) as f64 / f64::from(1u32 << 31)) - 0.5
    };
    let mut cube = Cube::default();
    for isp in ["HKBN", "PCCW", "HGC", "i-CABLE"] {
        for channel in ["main", "swimming", "athletics"] {
            for district in DISTRICTS {
                let drop = match fault {
                    Some((i, c, d)) if i == isp && c == channel => d,
                    _ => 0.0,
                };
                // 40 reports in the window, 400 in the baseline; a mean's noise
                // shrinks with the square root of its count.
                let window = 4.0 - drop + noise() * 0.5;
                let baseline = 4.0 + noise() * 0.16;
                cube.add(
                    [isp, channel, district, district],
                    Sums {
                        num: window * 40.0,
                        den: 40.0,
                    },
                    Sums {
                        num: baseline * 400.0,
                        den: 400.0,
                    },
                    4,
                );
            }
        }
    }
    cube
}

#[test]
fn chance_differences_are_not_a_place() {
    for seed in 1..=20 {
        let e = explain(&noisy(seed, None), Target::Qoe);
        assert_ne!(e.verdict, Verdict::Located, "seed {seed}: {e:?}");
        // Adtributor, without a noise test, always names somewhere.
        assert_eq!(
            adtributor(&noisy(seed, None), Target::Qoe).verdict,
            Verdict::Located
        );
    }
    // The same noise with a real fault under it: found.
    let e = explain(&noisy(3, Some(("HGC", "swimming", 0.6))), Target::Qoe);
    assert_eq!(names(&e), ["HGC × swimming"]);
}
