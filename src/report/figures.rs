//! The three tables of DESIGN §8, computed from an [`Analysis`].

use std::collections::BTreeMap;

use crate::engine::aggregate::bucket::BucketStats;
use crate::engine::calendar::{Calendar, Day, MINUTE_MS};

use super::analysis::Analysis;
use super::output::{Cell, Table, names};

/// One `--by minute` row, also the input of the daily peak.
struct MinuteFigures {
    start: i64,
    online: i64,
}

/// Online peers at the end of every minute that has records, in order.
fn online_by_minute(a: &Analysis) -> Vec<MinuteFigures> {
    let series = a.aggregate.buckets();
    let mut buckets = series.iter().peekable();
    let mut online = 0i64;
    a.minutes
        .iter()
        .map(|&start| {
            let index = series.index_of(start);
            while let Some((i, b)) = buckets.peek() {
                if *i > index {
                    break;
                }
                online += i64::from(b.online_delta);
                buckets.next();
            }
            MinuteFigures { start, online }
        })
        .collect()
}

pub fn by_minute(a: &Analysis, day: Option<Day>) -> Table {
    let cal = a.aggregate.calendar();
    let series = a.aggregate.buckets();
    let empty = BucketStats::default();
    let mut rows = Vec::new();
    for m in online_by_minute(a) {
        if day.is_some_and(|d| cal.day_of(m.start) != d) {
            continue;
        }
        let index = series.index_of(m.start);
        let stats = series
            .range(index, index + 1)
            .first()
            .map_or(&empty, |(_, b)| b);
        let f = stats.figures();
        rows.push(vec![
            Cell::Text(cal.minute_label(m.start)),
            Cell::Int(m.online),
            Cell::Int(i64::from(f.new_peers)),
            Cell::Num(f.up_kbps, 1),
            Cell::Num(f.down_kbps, 1),
            Cell::Num(f.contribution, 3),
            Cell::Num(f.continuity, 4),
            Cell::Num(f.qoe, 3),
            startup_cell(f.startup_p50_ms),
        ]);
    }
    Table {
        columns: names(&[
            "minute",
            "concurrent",
            "new_peers",
            "up_kbps",
            "down_kbps",
            "contribution",
            "continuity",
            "qoe",
            "startup_p50_ms",
        ]),
        rows,
    }
}

fn startup_cell(v: Option<i64>) -> Cell {
    match v {
        Some(ms) => Cell::Int(ms),
        None => Cell::Num(None, 0),
    }
}

#[derive(Default)]
struct DayViews {
    count: u64,
    total_ms: i64,
    owners: Vec<u32>,
}

pub fn by_day(a: &Analysis, only: Option<Day>) -> Table {
    let cal = a.aggregate.calendar();
    let mut sums: BTreeMap<Day, BucketStats> = BTreeMap::new();
    for (index, b) in a.aggregate.buckets().iter() {
        sums.entry(cal.day_of(index * MINUTE_MS))
            .or_default()
            .merge_sums(b);
    }
    let mut peaks: BTreeMap<Day, (i64, i64)> = BTreeMap::new();
    for m in online_by_minute(a) {
        let peak = peaks
            .entry(cal.day_of(m.start))
            .or_insert((i64::MIN, m.start));
        if m.online > peak.0 {
            *peak = (m.online, m.start);
        }
    }
    let mut views: BTreeMap<Day, DayViews> = BTreeMap::new();
    for s in a.aggregate.sessions() {
        let v = views.entry(cal.day_of(s.start)).or_default();
        v.count += 1;
        v.total_ms += s.length_ms();
        v.owners.push(s.peer);
    }
    if let Some((day, total_ms)) = a.day_view_ms {
        if let Some(v) = views.get_mut(&day) {
            v.total_ms = total_ms;
        }
    }
    let users = a.aggregate.days();
    let mut cumulative = i64::try_from(a.seen_before).unwrap_or(i64::MAX);
    let mut cumulative_by_day = BTreeMap::new();
    for (d, u) in users {
        cumulative += i64::from(u.new);
        cumulative_by_day.insert(*d, cumulative);
    }
    let mut rows = Vec::new();
    for (&d, &(peak, peak_at)) in &peaks {
        if only.is_some_and(|o| o != d) {
            continue;
        }
        let u = users.get(&d).copied().unwrap_or_default();
        let cum = cumulative_by_day
            .range(..=d)
            .next_back()
            .map_or(0, |(_, c)| *c);
        let f = sums.get(&d).map(BucketStats::figures).unwrap_or_default();
        let (per_user, per_view) = match views.get_mut(&d) {
            Some(v) if v.count > 0 => {
                v.owners.sort_unstable();
                v.owners.dedup();
                #[allow(clippy::cast_precision_loss)]
                let minutes = v.total_ms as f64 / MINUTE_MS as f64;
                #[allow(clippy::cast_precision_loss)]
                (
                    Some(minutes / v.owners.len() as f64),
                    Some(minutes / v.count as f64),
                )
            }
            _ => (None, None),
        };
        rows.push(vec![
            Cell::Text(Calendar::day_label(d)),
            Cell::Int(i64::from(u.new)),
            Cell::Int(i64::from(u.total)),
            Cell::Int(cum),
            Cell::Num(f.up_kbps, 1),
            Cell::Num(f.down_kbps, 1),
            Cell::Num(per_user, 1),
            Cell::Num(per_view, 1),
            Cell::Num(f.continuity, 4),
            Cell::Num(f.qoe, 3),
            Cell::Int(peak),
            Cell::Text(cal.minute_label(peak_at)),
        ]);
    }
    Table {
        columns: names(&[
            "day",
            "new_users",
            "total_users",
            "cumulative_users",
            "avg_up_kbps",
            "avg_down_kbps",
            "online_min_per_user",
            "online_min_per_view",
            "continuity",
            "qoe",
            "peak_concurrent",
            "peak_at",
        ]),
        rows,
    }
}

pub fn by_isp(a: &Analysis, only: Option<Day>) -> Table {
    let mut ips: Vec<u32> = a
        .aggregate
        .ip_days()
        .iter()
        .filter(|(_, d)| only.is_none_or(|o| o == *d))
        .map(|(ip, _)| *ip)
        .collect();
    ips.sort_unstable();
    ips.dedup();
    let geo = &a.catalog.geo;
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for ip in &ips {
        let loc = geo.locate_str(a.catalog.ips.name(*ip));
        *counts.entry(geo.isp_name(loc.isp)).or_default() += 1;
    }
    let total = ips.len();
    let mut ranked: Vec<(&str, i64)> = counts.into_iter().collect();
    ranked.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    #[allow(clippy::cast_precision_loss)]
    let rows = ranked
        .into_iter()
        .map(|(isp, n)| {
            vec![
                Cell::Text(isp.to_owned()),
                Cell::Int(n),
                Cell::Num(Some(n as f64 / total as f64), 4),
            ]
        })
        .collect();
    Table {
        columns: names(&["isp", "distinct_ips", "share"]),
        rows,
    }
}
