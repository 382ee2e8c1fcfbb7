//! Probe metrics (DESIGN §5): per path (probe, destination) the latest round, the
//! series of rtt, loss and reordering at decreasing resolution, and route-change events
//! scored by [`RouteTracker`].
//!
//! Probe data is small (n × m paths, one round every few minutes), so the book keeps
//! every round of the last two days and hourly means before that: a 17-day event of
//! 344 paths at 10-minute rounds holds about 100,000 rounds.

pub mod change_groups;
pub mod route_change;
pub mod snapshot;

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::engine::observe::intern::Interner;
use crate::engine::probes::change_groups::group_changes;
use crate::engine::probes::route_change::{
    RouteChangeParams, RouteTracker, as_path, path_elements,
};
use crate::engine::probes::snapshot::{
    Comparison, DestDetail, DestRow, PathCell, ProbeQuery, ProbeSnapshot, RouteChange,
};
use crate::engine::record::ProbeRecord;

/// The five per-path measurements, in [`ProbeMetric::ALL`] order.
pub type Values = [f64; 5];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeMetric {
    Rtt,
    LossFwd,
    LossRev,
    ReorderFwd,
    ReorderRev,
}

impl ProbeMetric {
    pub const ALL: [ProbeMetric; 5] = [
        ProbeMetric::Rtt,
        ProbeMetric::LossFwd,
        ProbeMetric::LossRev,
        ProbeMetric::ReorderFwd,
        ProbeMetric::ReorderRev,
    ];

    /// The record's field name, also `report --metric`'s value.
    pub fn name(self) -> &'static str {
        match self {
            ProbeMetric::Rtt => "rtt",
            ProbeMetric::LossFwd => "loss_fwd",
            ProbeMetric::LossRev => "loss_rev",
            ProbeMetric::ReorderFwd => "reorder_fwd",
            ProbeMetric::ReorderRev => "reorder_rev",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ProbeMetric::Rtt => "RTT ms",
            ProbeMetric::LossFwd => "loss fwd %",
            ProbeMetric::LossRev => "loss rev %",
            ProbeMetric::ReorderFwd => "reorder fwd %",
            ProbeMetric::ReorderRev => "reorder rev %",
        }
    }

    pub fn from_name(name: &str) -> Option<ProbeMetric> {
        ProbeMetric::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Rates are shown as percentages.
    pub fn is_rate(self) -> bool {
        self != ProbeMetric::Rtt
    }

    /// How a path's value compares with the median of the other paths to the same
    /// destination; every probe metric is better when lower.
    pub fn compare(self, value: f64, others: &[f64]) -> Option<Comparison> {
        let reference = median(others)?;
        Some(if self.is_rate() {
            let d = value - reference;
            match d {
                d if d < -0.03 => Comparison::MuchBetter,
                d if d < -0.005 => Comparison::Better,
                d if d <= 0.005 => Comparison::Similar,
                d if d <= 0.03 => Comparison::Worse,
                _ => Comparison::MuchWorse,
            }
        } else {
            // A millisecond added to both keeps 0.4 vs 0.8 ms on one exchange "similar".
            let r = (value + 1.0) / (reference + 1.0);
            match r {
                r if r < 1.0 / 1.5 => Comparison::MuchBetter,
                r if r < 1.0 / 1.15 => Comparison::Better,
                r if r <= 1.15 => Comparison::Similar,
                r if r <= 1.5 => Comparison::Worse,
                _ => Comparison::MuchWorse,
            }
        })
    }
}

/// The median: the middle value, or the mean of the two middle values.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    })
}

/// One measurement round of one path.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Round {
    /// Server time of the record (`recv`), ms.
    pub at: i64,
    pub values: Values,
}

/// Hourly means of the rounds that aged out of the fine part.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Coarse {
    start: i64,
    rounds: u32,
    sums: Values,
}

/// Every round of the last [`FINE_SPAN_MS`], hourly means before that.
const FINE_SPAN_MS: i64 = 2 * 86_400_000;
const COARSE_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Series {
    fine: VecDeque<Round>,
    coarse: VecDeque<Coarse>,
}

impl Series {
    fn push(&mut self, round: Round) {
        // Rounds come in time order but for a late retry: the search over two days of
        // them (every replay frame feeds hours of rounds) is for the exception.
        if self.fine.back().is_none_or(|r| r.at <= round.at) {
            self.fine.push_back(round);
            return;
        }
        let pos = self.fine.partition_point(|r| r.at <= round.at);
        self.fine.insert(pos, round);
    }

    fn compact(&mut self, now: i64) {
        while self.fine.front().is_some_and(|r| r.at < now - FINE_SPAN_MS) {
            let Some(r) = self.fine.pop_front() else {
                break;
            };
            let start = r.at.div_euclid(COARSE_MS) * COARSE_MS;
            if self.coarse.back().is_none_or(|c| c.start < start) {
                self.coarse.push_back(Coarse {
                    start,
                    rounds: 0,
                    sums: [0.0; 5],
                });
            }
            if let Some(c) = self.coarse.iter_mut().rev().find(|c| c.start == start) {
                c.rounds += 1;
                for (s, v) in c.sums.iter_mut().zip(r.values) {
                    *s += v;
                }
            }
        }
    }

    /// (time, value of metric `m`) of every round or hourly mean in `[from, to]`.
    fn points(&self, from: i64, to: i64, m: usize) -> Vec<(i64, f64)> {
        let coarse = self
            .coarse
            .iter()
            .filter(|c| c.start >= from && c.start <= to)
            .map(|c| (c.start, c.sums[m] / f64::from(c.rounds.max(1))));
        let fine = self
            .fine
            .iter()
            .filter(|r| r.at >= from && r.at <= to)
            .map(|r| (r.at, r.values[m]));
        coarse.chain(fine).collect()
    }

    fn len(&self) -> usize {
        self.fine.len() + self.coarse.len()
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct PathState {
    series: Series,
    latest: Option<Round>,
    /// Time between the last two rounds, to judge when the latest is stale.
    gap_ms: Option<i64>,
    tracker: RouteTracker,
    as_path: Option<Vec<u32>>,
    /// Probe clocks of the last rounds: a retried POST repeats one.
    recent_ts: VecDeque<i64>,
}

const RECENT_TS_KEPT: usize = 8;
/// Route-change events kept (they are rare; the oldest go first).
const EVENTS_KEPT: usize = 10_000;

/// Serializable: a recording's index keeps copies of it (checkpoints) on disk.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProbeBook {
    params: RouteChangeParams,
    probes: Interner,
    dests: Interner,
    /// Destination group, by destination id (the latest record's).
    groups: Vec<String>,
    /// Kept by key, so that a book's bytes depend on what it holds, not on the map's
    /// history: a recording's copies of the book are the same from any build.
    #[serde(serialize_with = "by_key")]
    paths: FxHashMap<(u32, u32), PathState>,
    events: VecDeque<RouteChange>,
    accepted: u64,
    duplicates: u64,
}

/// A map's entries, by key.
fn by_key<S: serde::Serializer, K: Ord + serde::Serialize, V: serde::Serialize>(
    map: &FxHashMap<K, V>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    serializer.collect_map(entries)
}

impl ProbeBook {
    pub fn new(params: RouteChangeParams) -> Self {
        ProbeBook {
            params,
            probes: Interner::default(),
            dests: Interner::default(),
            groups: Vec::new(),
            paths: FxHashMap::default(),
            events: VecDeque::new(),
            accepted: 0,
            duplicates: 0,
        }
    }

    /// Records taken (duplicates excluded).
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Takes one record; a repeat of a round already seen on its path (same probe
    /// clock) is counted as a duplicate and left out. Records should come in `recv`
    /// order: route-change scoring follows arrival order.
    pub fn ingest(&mut self, r: &ProbeRecord<'_>) {
        let probe = self.probes.intern(&r.probe);
        let dest = self.dests.intern(&r.dest);
        if self.groups.len() <= dest as usize {
            self.groups.resize(dest as usize + 1, String::new());
        }
        if self.groups[dest as usize] != r.group {
            self.groups[dest as usize] = r.group.to_string();
        }
        let path = self.paths.entry((probe, dest)).or_default();
        if path.recent_ts.contains(&r.ts) {
            self.duplicates += 1;
            return;
        }
        if path.recent_ts.len() == RECENT_TS_KEPT {
            path.recent_ts.pop_front();
        }
        path.recent_ts.push_back(r.ts);
        self.accepted += 1;
        let round = Round {
            at: r.recv,
            values: [
                r.rtt_ms,
                r.loss_fwd,
                r.loss_rev,
                r.reorder_fwd,
                r.reorder_rev,
            ],
        };
        path.series.push(round);
        if path.latest.is_none_or(|l| l.at <= round.at) {
            path.gap_ms = path.latest.map(|l| round.at - l.at);
            path.latest = Some(round);
        }
        let Some(hops) = r.hops.as_deref().filter(|h| !h.is_empty()) else {
            return;
        };
        let scored = path
            .tracker
            .observe(r.recv, &path_elements(hops), &self.params);
        let after = as_path(hops);
        let before = path.as_path.replace(after.clone());
        if let Some(score) = scored.score.filter(|s| *s > self.params.threshold) {
            if self.events.len() == EVENTS_KEPT {
                self.events.pop_front();
            }
            self.events.push_back(RouteChange {
                at: r.recv,
                probe: r.probe.to_string(),
                dest: r.dest.to_string(),
                score,
                before: before.unwrap_or_default(),
                after,
            });
        }
    }

    /// Ages the series: rounds older than two days behind `now` become hourly means.
    pub fn advance(&mut self, now: i64) {
        for p in self.paths.values_mut() {
            p.series.compact(now);
        }
    }

    /// Stored points over all paths: what the memory bound is about.
    pub fn stored_points(&self) -> usize {
        self.paths.values().map(|p| p.series.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.accepted == 0
    }

    pub fn snapshot(&self, q: &ProbeQuery) -> ProbeSnapshot {
        let m = q.metric.index();
        let mut probes: Vec<(String, u32)> = self
            .probes
            .names()
            .zip(0u32..)
            .map(|(n, i)| (n.to_owned(), i))
            .collect();
        probes.sort();
        let latest = |probe: u32, dest: u32| -> Option<Round> {
            let p = self.paths.get(&(probe, dest))?;
            let l = p.latest?;
            let stale_after = p.gap_ms.map_or(1_800_000, |g| (3 * g).max(60_000));
            (l.at <= q.now && q.now - l.at <= stale_after).then_some(l)
        };
        let mut rows: Vec<DestRow> = self
            .dests
            .names()
            .zip(0u32..)
            .map(|(name, d)| {
                let rounds: Vec<Option<Round>> =
                    probes.iter().map(|(_, p)| latest(*p, d)).collect();
                let values: Vec<Option<f64>> =
                    rounds.iter().map(|r| r.map(|r| r.values[m])).collect();
                let cells = values
                    .iter()
                    .zip(&rounds)
                    .enumerate()
                    .map(|(i, (v, round))| {
                        let (value, round) = (v.as_ref().copied()?, round.as_ref()?);
                        let others: Vec<f64> = values
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| *j != i)
                            .filter_map(|(_, o)| *o)
                            .collect();
                        let usual = self.usual(probes[i].1, d, round.at, m);
                        Some(PathCell {
                            value,
                            comparison: q.metric.compare(value, &others),
                            usual,
                            vs_usual: usual.and_then(|u| q.metric.compare(value, &[u])),
                        })
                    })
                    .collect();
                let rtts: Vec<f64> = rounds.iter().flatten().map(|r| r.values[0]).collect();
                DestRow {
                    dest: name.to_owned(),
                    group: self.groups[d as usize].clone(),
                    typical_rtt: median(&rtts),
                    cells,
                }
            })
            .collect();
        order_rows(&mut rows);
        let detail = q.dest.as_deref().and_then(|name| {
            let d = self.dests.get(name)?;
            let from = q.now - q.range_ms;
            Some(DestDetail {
                dest: name.to_owned(),
                group: self.groups[d as usize].clone(),
                from,
                to: q.now,
                series: probes
                    .iter()
                    .map(|(pname, p)| {
                        let points = self
                            .paths
                            .get(&(*p, d))
                            .map(|s| s.series.points(from, q.now, m))
                            .unwrap_or_default();
                        (pname.clone(), points)
                    })
                    .collect(),
            })
        });
        let events: Vec<RouteChange> = self
            .events
            .iter()
            .rev()
            .filter(|e| e.at <= q.now)
            .take(q.max_events)
            .cloned()
            .collect();
        let changes = group_changes(&events);
        ProbeSnapshot {
            metric: q.metric,
            now: q.now,
            probes: probes.into_iter().map(|(n, _)| n).collect(),
            rows,
            detail,
            events,
            changes,
            accepted: self.accepted,
        }
    }
}

impl ProbeBook {
    /// A path's usual value of metric `m` before its round at `at`: the median of its
    /// rounds (or hourly means) over [`USUAL_SPAN_MS`] ending [`USUAL_GAP_MS`] before
    /// it, from at least [`USUAL_MIN_ROUNDS`] of them. A change within the last hour
    /// stands out whole against it.
    fn usual(&self, probe: u32, dest: u32, at: i64, m: usize) -> Option<f64> {
        let path = self.paths.get(&(probe, dest))?;
        let values: Vec<f64> = path
            .series
            .points(at - USUAL_GAP_MS - USUAL_SPAN_MS, at - USUAL_GAP_MS - 1, m)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        if values.len() < USUAL_MIN_ROUNDS {
            return None;
        }
        median(&values)
    }
}

/// A path's usual value is over the day before the hour before its latest round.
pub const USUAL_SPAN_MS: i64 = 86_400_000;
pub const USUAL_GAP_MS: i64 = 3_600_000;
pub const USUAL_MIN_ROUNDS: usize = 3;

/// Groups nearest first (by the median RTT of their paths), destinations by name.
fn order_rows(rows: &mut [DestRow]) {
    let mut group_rtt: FxHashMap<String, Vec<f64>> = FxHashMap::default();
    for r in rows.iter() {
        let e = group_rtt.entry(r.group.clone()).or_default();
        e.extend(r.typical_rtt);
    }
    let key: FxHashMap<String, f64> = group_rtt
        .into_iter()
        .map(|(g, v)| (g, median(&v).unwrap_or(f64::INFINITY)))
        .collect();
    rows.sort_by(|a, b| {
        key[&a.group]
            .total_cmp(&key[&b.group])
            .then_with(|| a.group.cmp(&b.group))
            .then_with(|| a.dest.cmp(&b.dest))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::Hop;
    use std::borrow::Cow;

    fn record(probe: &str, dest: &str, recv: i64, rtt: f64, asns: &[u32]) -> ProbeRecord<'static> {
        ProbeRecord {
            probe: Cow::Owned(probe.into()),
            dest: Cow::Owned(dest.into()),
            group: Cow::Owned(if dest.starts_with("hk") {
                "HKIX".into()
            } else {
                "Internet(England)".into()
            }),
            ts: recv - 50,
            rtt_ms: rtt,
            loss_fwd: 0.0,
            loss_rev: 0.01,
            reorder_fwd: 0.0,
            reorder_rev: 0.0,
            samples: 100,
            hops: Some(
                asns.iter()
                    .map(|a| Hop {
                        ip: format!("192.0.2.{}", a % 200),
                        asn: Some(*a),
                    })
                    .collect(),
            ),
            recv,
            srv: None,
        }
    }

    #[test]
    fn cells_compare_with_the_other_probes_and_groups_go_nearest_first() {
        let mut book = ProbeBook::new(RouteChangeParams::default());
        for (probe, rtt) in [("UA", 215.0), ("UB", 220.0), ("UC", 400.0), ("UD", 150.0)] {
            book.ingest(&record(probe, "bbc", 1_000, rtt, &[1, 2]));
            book.ingest(&record(probe, "hku", 1_000, 2.0, &[1, 3]));
        }
        let s = book.snapshot(&ProbeQuery::new(2_000, ProbeMetric::Rtt));
        assert_eq!(s.probes, ["UA", "UB", "UC", "UD"]);
        let names: Vec<&str> = s.rows.iter().map(|r| r.dest.as_str()).collect();
        assert_eq!(names, ["hku", "bbc"]);
        let bbc = &s.rows[1];
        let cmp: Vec<Option<Comparison>> = bbc
            .cells
            .iter()
            .map(|c| c.as_ref().and_then(|c| c.comparison))
            .collect();
        assert_eq!(
            cmp,
            [
                Some(Comparison::Similar),
                Some(Comparison::Similar),
                Some(Comparison::MuchWorse),
                Some(Comparison::Better)
            ]
        );
        assert!(
            s.rows[0]
                .cells
                .iter()
                .all(|c| c.as_ref().and_then(|c| c.comparison) == Some(Comparison::Similar))
        );
    }

    #[test]
    fn duplicates_are_dropped_and_stale_rounds_are_not_latest() {
        let mut book = ProbeBook::new(RouteChangeParams::default());
        let r = record("UA", "bbc", 600_000, 215.0, &[1, 2]);
        book.ingest(&r);
        book.ingest(&r);
        book.ingest(&record("UA", "bbc", 1_200_000, 230.0, &[1, 2]));
        assert_eq!((book.accepted(), book.duplicates()), (2, 1));
        let at = |now| {
            book.snapshot(&ProbeQuery::new(now, ProbeMetric::Rtt)).rows[0].cells[0]
                .as_ref()
                .map(|c| c.value)
        };
        assert_eq!(at(1_300_000), Some(230.0));
        // Three round intervals without news: no latest value.
        assert_eq!(at(1_200_000 + 3 * 600_000 + 1), None);
    }

    #[test]
    fn old_rounds_become_hourly_means_and_events_carry_both_paths() {
        let mut book = ProbeBook::new(RouteChangeParams::default());
        let day = 86_400_000;
        let mut t = 0;
        while t < 5 * day {
            let asns: &[u32] = if t < 4 * day { &[1, 2, 3] } else { &[1, 9, 3] };
            book.ingest(&record(
                "UA",
                "bbc",
                t,
                100.0 + (t / 600_000 % 2) as f64,
                asns,
            ));
            book.advance(t);
            t += 600_000;
        }
        // Two days of rounds (288) plus hourly means for the three days before.
        assert!(
            book.stored_points() <= 288 + 3 * 24 + 2,
            "{}",
            book.stored_points()
        );
        let mut q = ProbeQuery::new(t, ProbeMetric::Rtt);
        q.dest = Some("bbc".into());
        q.range_ms = 5 * day;
        let s = book.snapshot(&q);
        let series = &s.detail.as_ref().expect("detail").series[0].1;
        assert!((series[0].1 - 100.5).abs() < 1e-9, "hourly mean {series:?}");
        assert_eq!(s.events.len(), 1);
        let e = &s.events[0];
        assert_eq!(
            (e.at, e.before.clone(), e.after.clone()),
            (4 * day, vec![1, 2, 3], vec![1, 9, 3])
        );
    }

    #[test]
    fn a_late_round_takes_its_place_in_time() {
        let round = |at: i64| Round {
            at,
            values: [at as f64; 5],
        };
        let mut series = Series::default();
        for at in [10, 30, 40, 20, 40, 5] {
            series.push(round(at));
        }
        let times: Vec<i64> = series.points(0, 100, 0).iter().map(|p| p.0).collect();
        assert_eq!(times, [5, 10, 20, 30, 40, 40]);
    }

    #[test]
    fn medians_average_the_middle_pair() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
