//! Property: for random record streams, every per-minute figure of the report equals a
//! brute-force recomputation straight from DESIGN §5, whatever the order of lines inside
//! a minute file, however records are split across servers, and with retried duplicates.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use proptest::prelude::*;

use peerscope::engine::aggregate::qoe::{QoeParams, nearest_rank};
use peerscope::engine::calendar::{Calendar, MINUTE_MS};
use peerscope::engine::geography::location::IpGeo;
use peerscope::engine::query::filter::Filter;
use peerscope::recording::scan::Recording;
use peerscope::report::analysis::{AnalysisOptions, analyse};
use peerscope::report::figures::by_minute;
use peerscope::report::output::{Cell, Table};

use common::stream::{Rec, T0, write_recording};

mod common;

fn arb_stream() -> impl Strategy<Value = Vec<Rec>> {
    let one = (
        0u8..5,
        0u8..3,
        0i64..(5 * MINUTE_MS),
        prop_oneof![
            Just("join"),
            Just("report"),
            Just("report"),
            Just("report"),
            Just("leave")
        ],
        prop_oneof![Just(10.0), Just(30.0), Just(45.5)],
        (0.0f64..2000.0, 0.0f64..2000.0, 0.0f64..1.0),
        (
            100.0f64..900.0,
            0.0f64..30.0,
            prop_oneof![Just(0.0), 0.0f64..10.0],
        ),
        proptest::option::of(0i64..9000),
        0u8..2,
        0u8..8,
    );
    proptest::collection::vec(one, 1..60).prop_map(|raw| {
        let mut per_peer_seq: HashMap<u8, u64> = HashMap::new();
        let mut recs: Vec<Rec> = Vec::new();
        let mut used = HashSet::new();
        let mut sorted = raw;
        sorted.sort_by_key(|r| r.2);
        for (
            peer,
            session,
            at,
            event,
            period,
            (up, down, share),
            (bitrate, play, stall),
            startup,
            srv,
            dup,
        ) in sorted
        {
            // Distinct recv values: ties would make "the latest record" ambiguous.
            let mut recv = T0 + at;
            while !used.insert(recv) {
                recv += 1;
            }
            let seq = per_peer_seq.entry(peer).or_insert(0);
            *seq += 1;
            let r = Rec {
                peer,
                session: peer * 10 + session,
                seq: *seq,
                recv,
                event,
                period,
                up,
                down,
                server: down * share,
                bitrate,
                play,
                stall,
                startup,
                server_index: srv,
            };
            if dup == 0 {
                // A retry of the same message, later, on the other server.
                let mut again = r.clone();
                again.server_index = 1 - srv;
                again.recv = recv + 1500;
                while !used.insert(again.recv) {
                    again.recv += 1;
                }
                recs.push(again);
            }
            recs.push(r);
        }
        recs
    })
}

/// DESIGN §5 per minute, computed the slow and obvious way.
#[derive(Debug, PartialEq)]
struct Expected {
    concurrent: i64,
    new_peers: i64,
    up: Option<f64>,
    down: Option<f64>,
    contribution: Option<f64>,
    continuity: Option<f64>,
    qoe: Option<f64>,
    startup_p50: Option<i64>,
}

fn brute_force(recs: &[Rec]) -> Vec<(i64, Expected)> {
    let mut sorted: Vec<&Rec> = recs.iter().collect();
    sorted.sort_by_key(|r| r.recv);
    let mut seen = HashSet::new();
    let kept: Vec<&Rec> = sorted
        .into_iter()
        .filter(|r| seen.insert((r.peer, r.seq)))
        .collect();
    let minutes: Vec<i64> = {
        let mut m: Vec<i64> = recs.iter().map(|r| r.recv.div_euclid(MINUTE_MS)).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let q = QoeParams::default();
    let mut first_seen: HashMap<u8, i64> = HashMap::new();
    for r in &kept {
        first_seen.entry(r.peer).or_insert(r.recv);
    }
    let mut startup_session_seen = HashSet::new();
    let mut startup_minute: Vec<(i64, i64)> = Vec::new();
    for r in &kept {
        if r.event == "report" {
            if let Some(s) = r.startup {
                if startup_session_seen.insert(r.session) {
                    startup_minute.push((r.recv.div_euclid(MINUTE_MS), s));
                }
            }
        }
    }
    minutes
        .into_iter()
        .map(|m| {
            let t = (m + 1) * MINUTE_MS;
            let mut latest: HashMap<u8, &Rec> = HashMap::new();
            for r in kept.iter().filter(|r| r.recv <= t) {
                latest.insert(r.peer, r);
            }
            let concurrent = latest
                .values()
                .filter(|r| r.event != "leave" && ((t - r.recv) as f64) < 2000.0 * r.period)
                .count() as i64;
            let new_peers = first_seen
                .values()
                .filter(|f| f.div_euclid(MINUTE_MS) == m)
                .count() as i64;
            let reports: Vec<&&Rec> = kept
                .iter()
                .filter(|r| r.event == "report" && r.recv.div_euclid(MINUTE_MS) == m)
                .collect();
            let sum = |f: &dyn Fn(&Rec) -> f64| reports.iter().map(|r| f(r)).sum::<f64>();
            let period = sum(&|r| r.period);
            let up = sum(&|r| r.up * r.period);
            let down = sum(&|r| r.down * r.period);
            let play = sum(&|r| r.play);
            let stall = sum(&|r| r.stall);
            let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
            let moses: Vec<f64> = reports
                .iter()
                .filter_map(|r| q.mos(r.bitrate, r.play, r.stall))
                .collect();
            let mut starts: Vec<i64> = startup_minute
                .iter()
                .filter(|(mm, _)| *mm == m)
                .map(|(_, s)| *s)
                .collect();
            starts.sort_unstable();
            (
                m,
                Expected {
                    concurrent,
                    new_peers,
                    up: ratio(up, period),
                    down: ratio(down, period),
                    contribution: ratio(up, down),
                    continuity: ratio(play, play + stall),
                    qoe: ratio(moses.iter().sum(), moses.len() as f64),
                    startup_p50: nearest_rank(&starts, 50.0),
                },
            )
        })
        .collect()
}

fn num(c: &Cell) -> Option<f64> {
    match c {
        Cell::Num(v, _) => *v,
        Cell::Int(n) => Some(*n as f64),
        Cell::Text(_) | Cell::Missing => None,
    }
}

fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
        _ => false,
    }
}

fn report_of(dir: &Path) -> Table {
    let recording = Recording::scan(dir).expect("scan");
    let a = analyse(
        &recording.feedback,
        AnalysisOptions {
            geo: IpGeo::empty(),
            calendar: Calendar::new(chrono_tz::UTC),
            qoe: QoeParams::default(),
            filter: &Filter::default(),
            threads: 2,
            progress: false,
            seen_before: &[],
        },
    );
    by_minute(&a, None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn minute_figures_equal_brute_force(recs in arb_stream(), shuffle in 0u64..1000) {
        let dir = tempfile::tempdir().expect("tempdir");
        write_recording(dir.path(), &recs, shuffle);
        let table = report_of(dir.path());
        let want = brute_force(&recs);
        prop_assert_eq!(table.rows.len(), want.len());
        for (row, (m, e)) in table.rows.iter().zip(&want) {
            let label = format!("minute {m}: {row:?} vs {e:?}");
            prop_assert_eq!(num(&row[1]), Some(e.concurrent as f64), "{}", label);
            prop_assert_eq!(num(&row[2]), Some(e.new_peers as f64), "{}", label);
            prop_assert!(same(num(&row[3]), e.up), "up {}", label);
            prop_assert!(same(num(&row[4]), e.down), "down {}", label);
            prop_assert!(same(num(&row[5]), e.contribution), "contribution {}", label);
            prop_assert!(same(num(&row[6]), e.continuity), "continuity {}", label);
            prop_assert!(same(num(&row[7]), e.qoe), "qoe {}", label);
            prop_assert_eq!(num(&row[8]).map(|x| x as i64), e.startup_p50, "{}", label);
        }
    }

    #[test]
    fn line_order_and_server_split_change_nothing(recs in arb_stream(), a in 0u64..1000, b in 0u64..1000) {
        let one = tempfile::tempdir().expect("tempdir");
        let two = tempfile::tempdir().expect("tempdir");
        write_recording(one.path(), &recs, a);
        let mut moved = recs.clone();
        for r in &mut moved {
            r.server_index = (r.server_index + (r.recv % 2) as u8) % 2;
        }
        write_recording(two.path(), &moved, b);
        prop_assert_eq!(format!("{:?}", report_of(one.path()).rows), format!("{:?}", report_of(two.path()).rows));
    }
}
