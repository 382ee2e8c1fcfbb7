//! `report --probes`: the median of one probe metric per path, as a destination ×
//! probe table like the published comparison (DESIGN §8).
//!
//! A round POSTed twice (a retry) repeats its probe clock `ts`: each (probe, dest, ts)
//! counts once. The median of an even count is the mean of the two middle values. Rows
//! are grouped like view 6: groups nearest first by the median RTT of their paths,
//! destinations by name.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::engine::calendar::{Calendar, Day};
use crate::engine::probes::{ProbeMetric, median};
use crate::recording::probes::each_probe;
use crate::recording::scan::MinuteGroup;
use crate::recording::skipped::Skipped;

use super::output::{Cell, Table};

#[derive(Default)]
struct PathValues {
    metric: Vec<f64>,
    rtt: Vec<f64>,
}

pub fn probe_table(
    groups: &[MinuteGroup],
    metric: ProbeMetric,
    day: Option<(Day, &Calendar)>,
) -> (Table, Skipped) {
    let mut skipped = Skipped::default();
    let mut seen: HashSet<(String, String, i64)> = HashSet::new();
    let mut paths: BTreeMap<(String, String), PathValues> = BTreeMap::new();
    let mut dest_group: BTreeMap<String, String> = BTreeMap::new();
    let mut probes: BTreeSet<String> = BTreeSet::new();
    each_probe(groups, &mut skipped, |r| {
        if day.is_some_and(|(d, cal)| cal.day_of(r.recv) != d) {
            return;
        }
        if !seen.insert((r.probe.to_string(), r.dest.to_string(), r.ts)) {
            return;
        }
        let values = [
            r.rtt_ms,
            r.loss_fwd,
            r.loss_rev,
            r.reorder_fwd,
            r.reorder_rev,
        ];
        probes.insert(r.probe.to_string());
        dest_group.insert(r.dest.to_string(), r.group.to_string());
        let p = paths
            .entry((r.dest.to_string(), r.probe.to_string()))
            .or_default();
        p.metric.push(values[metric.index()]);
        p.rtt.push(r.rtt_ms);
    });
    // Group order: median over the group's paths of each path's median RTT.
    let mut group_rtts: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for ((dest, _), v) in &paths {
        group_rtts
            .entry(dest_group[dest].as_str())
            .or_default()
            .extend(median(&v.rtt));
    }
    let group_key: BTreeMap<&str, f64> = group_rtts
        .iter()
        .map(|(g, v)| (*g, median(v).unwrap_or(f64::INFINITY)))
        .collect();
    let mut dests: Vec<(&String, &String)> = dest_group.iter().collect();
    dests.sort_by(|a, b| {
        group_key[a.1.as_str()]
            .total_cmp(&group_key[b.1.as_str()])
            .then_with(|| a.1.cmp(b.1))
            .then_with(|| a.0.cmp(b.0))
    });
    let decimals = if metric.is_rate() { 4 } else { 1 };
    let rows = dests
        .into_iter()
        .map(|(dest, group)| {
            let mut row = vec![Cell::Text(dest.clone()), Cell::Text(group.clone())];
            row.extend(probes.iter().map(|p| {
                let v = paths
                    .get(&(dest.clone(), p.clone()))
                    .and_then(|v| median(&v.metric));
                Cell::Num(v, decimals)
            }));
            row
        })
        .collect();
    let mut columns = vec!["dest".to_owned(), "group".to_owned()];
    columns.extend(probes);
    (Table { columns, rows }, skipped)
}
