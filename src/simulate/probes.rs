//! The `probes` stream of scenario `olympics2012`, modelled on the published
//! collaborative path measurement from Hong Kong: 8 probes (UA … UH) in different Hong
//! Kong networks × 43 destinations in groups, one round every 10 minutes.
//!
//! RTT baselines follow that study's order of magnitude (HKIX 1–5 ms, Taiwan ≈ 23 ms,
//! Korea 35–60 ms, China 35–55 ms with probe UF far worse, England 215–310 ms). RTT and
//! loss follow the evening peak of Hong Kong's traffic. Two incidents are staged:
//! - probe UC sees heavy reverse-path reordering until [`REORDER_FIXED_MS`];
//! - a submarine cable cut: from [`CUT_START_MS`] for about two weeks every path to
//!   `uon` (Nairobi) takes a detour through other transit ASes and its RTT goes from
//!   ≈ 500 ms to over 1,000 ms with a strong diurnal swing, then the route returns at
//!   [`CUT_END_MS`].
//!
//! And one harmless thing a route-change detector must ignore: UB's path to `mit` is
//! load-balanced between two transit providers, flipping every round.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::emit::{MINUTE_MS, MinuteOut};
use super::olympics::{DAY_MS, EVENT_START_MS};
use super::rng::Rng;
use crate::recording::layout::Stream;

pub const ROUND_MS: i64 = 600_000;
/// UC's reordering problem is fixed at 2012-08-04 10:00 HKT.
pub const REORDER_FIXED_MS: i64 = EVENT_START_MS + 8 * DAY_MS + 10 * 3_600_000;
/// The cable cut: 2012-07-24 05:20 HKT, three days before the opening, repaired 14 days
/// and 5 hours later, on 2012-08-07 at 10:20 HKT — inside the shipped sample recording,
/// so its replay shows the restoration as a route-change event.
pub const CUT_END_MS: i64 = EVENT_START_MS + 11 * DAY_MS + 10 * 3_600_000 + 20 * 60_000;
pub const CUT_START_MS: i64 = CUT_END_MS - (14 * DAY_MS + 5 * 3_600_000);
pub const CUT_DEST: &str = "uon";

/// (name, AS, extra RTT in its access network, ms).
pub const PROBES: [(&str, u32, f64); 8] = [
    ("UA", 4760, 0.4),
    ("UB", 9269, 0.7),
    ("UC", 9304, 1.1),
    ("UD", 3662, 0.3),
    ("UE", 4528, 0.2),
    ("UF", 9231, 1.4),
    ("UG", 10103, 0.8),
    ("UH", 3661, 0.3),
];

/// (group, transit ASes between the probe's AS and the destination's).
const GROUPS: [(&str, &[u32]); 10] = [
    ("HKIX", &[4635]),
    ("Internet(Taiwan)", &[4637]),
    ("Internet(Korea)", &[4637, 4766]),
    ("Internet(China)", &[4134]),
    ("Internet(Singapore)", &[7473]),
    ("Internet(Japan)", &[2914]),
    ("Internet(Australia)", &[4637, 7575]),
    ("Internet(US)", &[3356]),
    ("Internet(England)", &[3356, 786]),
    ("Internet(Africa)", &[3356, 37100]),
];

/// The detour while the cable is cut.
const CUT_TRANSIT: [u32; 3] = [3491, 6453, 5511];
/// UB → mit alternates between these two providers.
const BALANCED: [u32; 2] = [3356, 174];

/// (name, group index, base RTT ms, AS).
pub const DESTINATIONS: [(&str, usize, f64, u32); 43] = [
    ("hku", 0, 1.2, 4528),
    ("cuhk", 0, 1.8, 3661),
    ("hkust", 0, 2.5, 3662),
    ("polyu", 0, 1.5, 4616),
    ("cityu", 0, 3.0, 9269),
    ("hkbu", 0, 4.5, 4158),
    ("ntu-tw", 1, 22.0, 17716),
    ("nctu", 1, 24.0, 9916),
    ("sinica", 1, 23.0, 9264),
    ("hinet", 1, 21.5, 3462),
    ("kaist", 2, 38.0, 1781),
    ("snu", 2, 45.0, 9488),
    ("kt", 2, 35.0, 4766),
    ("postech", 2, 58.0, 7667),
    ("tsinghua", 3, 42.0, 4538),
    ("pku", 3, 45.0, 38272),
    ("sjtu", 3, 38.0, 24376),
    ("zju", 3, 40.0, 24371),
    ("ustc", 3, 52.0, 24363),
    ("cernet", 3, 36.0, 4538),
    ("nus", 4, 34.0, 7472),
    ("ntu-sg", 4, 36.0, 9419),
    ("singnet", 4, 33.0, 3758),
    ("u-tokyo", 5, 48.0, 2501),
    ("kyoto-u", 5, 52.0, 2504),
    ("wide", 5, 46.0, 2500),
    ("iij", 5, 44.0, 2497),
    ("usyd", 6, 125.0, 7575),
    ("unimelb", 6, 140.0, 38796),
    ("anu", 6, 145.0, 38803),
    ("aarnet", 6, 130.0, 7575),
    ("stanford", 7, 155.0, 32),
    ("berkeley", 7, 158.0, 25),
    ("ucla", 7, 160.0, 52),
    ("uiuc", 7, 190.0, 38),
    ("cmu", 7, 205.0, 9),
    ("mit", 7, 215.0, 3),
    ("bbc", 8, 215.0, 2818),
    ("ucl", 8, 240.0, 5379),
    ("cam", 8, 262.0, 786),
    ("ox", 8, 310.0, 786),
    ("uct", 9, 480.0, 2018),
    (CUT_DEST, 9, 500.0, 36914),
];

/// 0 in the small hours, 1 at 21:00 Hong Kong time, when the networks are busiest.
fn busy(at: i64) -> f64 {
    let hk_hour = ((at + 8 * 3_600_000).rem_euclid(DAY_MS)) as f64 / 3_600_000.0;
    0.5 + 0.5 * ((hk_hour - 21.0) / 24.0 * std::f64::consts::TAU).cos()
}

fn cut(dest: &str, at: i64) -> bool {
    dest == CUT_DEST && (CUT_START_MS..CUT_END_MS).contains(&at)
}

/// The AS path of one probe to one destination at `at`, from the probe's AS to the
/// destination's.
fn as_path(probe: usize, dest: usize, round: i64, at: i64) -> Vec<u32> {
    let (name, group, _, dest_as) = DESTINATIONS[dest];
    let mut path = vec![PROBES[probe].1];
    if cut(name, at) {
        path.extend(CUT_TRANSIT);
        path.push(37100);
    } else if PROBES[probe].0 == "UB" && name == "mit" {
        path.push(BALANCED[usize::from(round.rem_euclid(2) == 1)]);
    } else {
        path.extend(GROUPS[group].1);
    }
    if path.last() != Some(&dest_as) {
        path.push(dest_as);
    }
    path
}

/// One (or, for transit, two) router addresses per AS; the first hop is the probe's
/// private gateway, with no AS.
fn push_hops(out: &mut String, probe: usize, path: &[u32]) {
    let _ = write!(out, r#"[{{"ip":"10.{probe}.0.1","asn":null}}"#);
    for (i, asn) in path.iter().enumerate() {
        let hops = if i == 0 || i == path.len() - 1 { 1 } else { 2 };
        for h in 0..hops {
            let _ = write!(
                out,
                r#",{{"ip":"{}.{}.{}.{}","asn":{asn}}}"#,
                100 + asn % 100,
                (asn / 100) % 250,
                h + 1,
                1 + probe
            );
        }
    }
    out.push(']');
}

/// Sample count of a round, and the rate of `samples` events drawn at probability `p`.
const SAMPLES: u32 = 100;

fn rate(rng: &mut Rng, p: f64) -> f64 {
    f64::from(rng.poisson(p * f64::from(SAMPLES)).min(SAMPLES)) / f64::from(SAMPLES)
}

/// The record of one probe × destination × round, measured at scenario time `ts` and
/// stamped with the probe clock `ts + clock_shift`.
fn record(
    rng: &mut Rng,
    probe: usize,
    dest: usize,
    round: i64,
    ts: i64,
    clock_shift: i64,
) -> String {
    let (pname, _, extra) = PROBES[probe];
    let (dname, group, base, _) = DESTINATIONS[dest];
    let b = busy(ts);
    let cut_now = cut(dname, ts);
    let mut rtt = if cut_now {
        1_000.0 * (1.0 + 0.3 * b)
    } else {
        base * (1.0 + 0.08 * b)
    };
    if group == 3 && pname == "UF" {
        // This probe's provider reaches China through a congested detour.
        rtt = rtt * 2.5 + 60.0;
    }
    rtt += extra + rng.exponential(0.02 * base + 0.3);
    let far = 1.0 + group as f64 * 0.3;
    let loss_p = (0.001 + 0.004 * b * far + if cut_now { 0.02 } else { 0.0 }) * (0.5 + rng.unit());
    let loss_fwd = rate(rng, loss_p);
    let loss_rev = rate(rng, loss_p * 1.2);
    let reorder_fwd = rate(rng, 0.002 * far);
    let reorder_rev = if pname == "UC" && ts < REORDER_FIXED_MS {
        rate(rng, 0.2 + 0.1 * b)
    } else {
        rate(rng, 0.002 * far)
    };
    let mut out = String::with_capacity(600);
    let _ = write!(
        out,
        r#"{{"v":1,"probe":"{pname}","dest":"{dname}","group":"{}","ts":{},"rtt_ms":{:.2},"loss_fwd":{loss_fwd},"loss_rev":{loss_rev},"reorder_fwd":{reorder_fwd},"reorder_rev":{reorder_rev},"samples":{SAMPLES},"hops":"#,
        GROUPS[group].0,
        ts + clock_shift,
        rtt
    );
    push_hops(&mut out, probe, &as_path(probe, dest, round, ts));
    out.push('}');
    out
}

/// One probe record ready to POST or log: its probe clock and body.
pub struct ProbeOut {
    pub probe: &'static str,
    pub ts: i64,
    pub body: String,
}

/// The start of the first round that can hold a record at or after `from`.
pub fn first_round(from: i64) -> i64 {
    (from - EVENT_START_MS).div_euclid(ROUND_MS) * ROUND_MS + EVENT_START_MS
}

/// The records of the round starting at `start` measured in [from, to), in time order;
/// a probe starts its round at a random offset within the first minute and measures
/// one destination every 1.5 s. Each record's probe clock is its scenario time moved by
/// `clock_shift`: 0 in a recording; sent live, the shift to the present, as a real
/// probe's clock would read (a repeated run is then new rounds, not retried ones).
pub fn round(seed: u64, start: i64, from: i64, to: i64, clock_shift: i64) -> Vec<ProbeOut> {
    let index = (start - EVENT_START_MS).div_euclid(ROUND_MS);
    let mut rng = Rng::new(seed, 0x5052_4F42_0000_0000 ^ index as u64);
    let mut out = Vec::with_capacity(PROBES.len() * DESTINATIONS.len());
    for (probe, (name, _, _)) in PROBES.iter().enumerate() {
        #[allow(clippy::cast_possible_truncation)]
        let begin = start + rng.uniform(0.0, 60_000.0) as i64;
        for dest in 0..DESTINATIONS.len() {
            let ts = begin + dest as i64 * 1_500;
            let body = record(&mut rng, probe, dest, index, ts, clock_shift);
            if (from..to).contains(&ts) {
                out.push(ProbeOut {
                    probe: name,
                    ts,
                    body,
                });
            }
        }
    }
    out.sort_by_key(|r| r.ts);
    out
}

/// Every probe record measured in [from, to), round by round.
pub fn each_round(seed: u64, from: i64, to: i64, mut f: impl FnMut(Vec<ProbeOut>)) {
    let mut start = first_round(from);
    while start < to {
        f(round(seed, start, from, to, 0));
        start += ROUND_MS;
    }
}

/// Writes the probe stream of [from, to) as minute files spread over `servers`
/// (round robin, as the coordinator does). Returns the records written.
pub fn sweep(
    seed: u64,
    servers: usize,
    from: i64,
    to: i64,
    sink: &mut dyn FnMut(MinuteOut),
) -> u64 {
    let mut pending: BTreeMap<i64, Vec<(Vec<u8>, u64)>> = BTreeMap::new();
    let mut next_server = 0usize;
    let mut records = 0u64;
    let mut rng = Rng::new(seed, 0x5052_4F42_5345_5256);
    let mut flush = |pending: &mut BTreeMap<i64, Vec<(Vec<u8>, u64)>>, before: i64| {
        while let Some(entry) = pending.first_entry() {
            if *entry.key() >= before {
                break;
            }
            let (minute, texts) = entry.remove_entry();
            for (server, (text, records)) in texts.into_iter().enumerate() {
                if records == 0 {
                    continue;
                }
                sink(MinuteOut {
                    stream: Stream::Probes,
                    server,
                    minute_ms: minute * MINUTE_MS,
                    text,
                    records,
                });
            }
        }
    };
    each_round(seed, from, to, |round| {
        let mut last_start = i64::MAX;
        for r in round {
            #[allow(clippy::cast_possible_truncation)]
            let recv = r.ts + rng.lognormal(40.0, 0.5).min(2_000.0) as i64;
            last_start = last_start.min(r.ts);
            if recv >= to {
                continue;
            }
            let texts = pending
                .entry(recv.div_euclid(MINUTE_MS))
                .or_insert_with(|| vec![(Vec::new(), 0); servers]);
            let (text, count) = &mut texts[next_server % servers];
            *count += 1;
            next_server += 1;
            text.extend_from_slice(r.body.strip_suffix('}').unwrap_or(&r.body).as_bytes());
            text.extend_from_slice(
                format!(
                    r#","recv":{recv},"srv":"fs{}"}}"#,
                    (next_server - 1) % servers + 1
                )
                .as_bytes(),
            );
            text.push(b'\n');
            records += 1;
        }
        // The next round starts at least 10 minutes later: minutes before this
        // round's start can receive nothing more.
        flush(&mut pending, last_start.div_euclid(MINUTE_MS));
    });
    flush(&mut pending, i64::MAX);
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::{Origin, parse_probe};

    #[test]
    fn records_parse_and_the_groups_have_the_published_order_of_rtt() {
        let mut n = 0;
        let mut rtt: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
        each_round(7, EVENT_START_MS, EVENT_START_MS + DAY_MS, |round| {
            for r in round {
                let p = parse_probe(r.body.as_bytes(), Origin::Peer).expect(&r.body);
                let group = DESTINATIONS.iter().find(|d| d.0 == p.dest).expect("dest").1;
                let key = (
                    GROUPS[group].0,
                    if p.probe == "UF" { "UF" } else { "other" },
                );
                rtt.entry(key).or_default().push(p.rtt_ms);
                n += 1;
            }
        });
        assert_eq!(n, 144 * 8 * 43);
        let med = |k| crate::engine::probes::median(&rtt[&k]).expect("values");
        assert!((1.0..5.0).contains(&med(("HKIX", "other"))));
        assert!((20.0..27.0).contains(&med(("Internet(Taiwan)", "other"))));
        assert!((35.0..55.0).contains(&med(("Internet(China)", "other"))));
        assert!(med(("Internet(China)", "UF")) > 2.0 * med(("Internet(China)", "other")));
        assert!((215.0..310.0).contains(&med(("Internet(England)", "other"))));
    }

    #[test]
    fn the_cable_cut_moves_the_path_and_the_rtt() {
        let probe = 0;
        let dest = DESTINATIONS
            .iter()
            .position(|d| d.0 == CUT_DEST)
            .expect("uon");
        let before = as_path(probe, dest, 0, CUT_START_MS - 1);
        let during = as_path(probe, dest, 0, CUT_START_MS);
        assert_ne!(before, during);
        assert_eq!(as_path(probe, dest, 0, CUT_END_MS), before);
        let mut rng = Rng::new(1, 1);
        let rtt = |rng: &mut Rng, at| {
            let r = record(rng, probe, dest, 0, at, 0);
            parse_probe(r.as_bytes(), Origin::Peer)
                .expect("valid")
                .rtt_ms
        };
        assert!((480.0..600.0).contains(&rtt(&mut rng, CUT_START_MS - ROUND_MS)));
        assert!(rtt(&mut rng, CUT_START_MS + DAY_MS) > 1_000.0);
    }

    /// The engine on the simulated cut: every probe's path to `uon` has an event within
    /// one round of the cut and one at the repair; UB's load-balanced path to `mit`
    /// and every other round of these paths have none.
    #[test]
    fn the_route_change_score_finds_the_cut_and_the_repair_and_nothing_else() {
        use crate::engine::probes::ProbeBook;
        use crate::engine::probes::route_change::RouteChangeParams;
        let mut book = ProbeBook::new(RouteChangeParams::default());
        let mut recv = 0;
        each_round(3, CUT_START_MS - 2 * DAY_MS, CUT_END_MS + DAY_MS, |round| {
            for r in round {
                if !(r.body.contains(r#""dest":"uon""#) || r.body.contains(r#""dest":"mit""#)) {
                    continue;
                }
                let mut p = parse_probe(r.body.as_bytes(), Origin::Peer).expect("valid");
                recv = r.ts + 30;
                p.recv = recv;
                book.ingest(&p);
            }
        });
        let q = crate::engine::probes::snapshot::ProbeQuery {
            max_events: 1000,
            ..crate::engine::probes::snapshot::ProbeQuery::new(
                recv,
                crate::engine::probes::ProbeMetric::Rtt,
            )
        };
        let events = book.snapshot(&q).events;
        assert!(events.iter().all(|e| e.dest == CUT_DEST), "{events:?}");
        for (probe, _, _) in PROBES {
            let mine: Vec<i64> = events
                .iter()
                .filter(|e| e.probe == probe)
                .map(|e| e.at)
                .collect();
            assert_eq!(mine.len(), 2, "{probe}: {mine:?}");
            // Newest first: the repair, then the cut.
            for (at, change) in [(mine[1], CUT_START_MS), (mine[0], CUT_END_MS)] {
                assert!(
                    at >= change && at - change <= ROUND_MS + 120_000,
                    "{probe}: {at} vs {change}"
                );
            }
        }
    }
}
