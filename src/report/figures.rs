//! The three tables of DESIGN §8, computed from an [`Analysis`].

use std::collections::BTreeMap;

use crate::engine::aggregate::bucket::{BucketStats, Figures};
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
        rows.push(minute_row(cal, m.start, m.online, &stats.figures()));
    }
    Table {
        columns: names(&MINUTE_COLUMNS),
        rows,
    }
}

pub const MINUTE_COLUMNS: [&str; 9] = [
    "minute",
    "concurrent",
    "new_peers",
    "up_kbps",
    "down_kbps",
    "contribution",
    "continuity",
    "qoe",
    "startup_p50_ms",
];

/// One `--by minute` row: the minute starting at `start`, `online` at its end, and the
/// figures of its records.
pub fn minute_row(cal: &Calendar, start: i64, online: i64, f: &Figures) -> Vec<Cell> {
    vec![
        Cell::Text(cal.minute_label(start)),
        Cell::Int(online),
        Cell::Int(i64::from(f.new_peers)),
        Cell::Num(f.up_kbps, 1),
        Cell::Num(f.down_kbps, 1),
        Cell::Num(f.contribution, 3),
        Cell::Num(f.continuity, 4),
        Cell::Num(f.qoe, 3),
        startup_cell(f.startup_p50_ms),
    ]
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
        let views = match views.get_mut(&d) {
            Some(v) if v.count > 0 => {
                v.owners.sort_unstable();
                v.owners.dedup();
                DayViewTotals {
                    count: v.count,
                    total_ms: v.total_ms,
                    owners: v.owners.len() as u64,
                }
            }
            _ => DayViewTotals::default(),
        };
        let empty = BucketStats::default();
        let day = DayFigures {
            day: d,
            users: (u.new, u.total, cum),
            sums: sums.get(&d).unwrap_or(&empty),
            views,
            peak: (peak, peak_at),
        };
        rows.push(day_row(cal, &day));
    }
    Table {
        columns: names(&DAY_COLUMNS),
        rows,
    }
}

pub const DAY_COLUMNS: [&str; 12] = [
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
];

/// A day's views: how many began that day, their summed length, and their owners.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DayViewTotals {
    pub count: u64,
    pub total_ms: i64,
    pub owners: u64,
}

/// What one `--by day` row is made of.
pub struct DayFigures<'a> {
    pub day: Day,
    /// New, total and cumulative users.
    pub users: (u32, u32, i64),
    pub sums: &'a BucketStats,
    pub views: DayViewTotals,
    /// The highest minute concurrency and that minute's start.
    pub peak: (i64, i64),
}

pub fn day_row(cal: &Calendar, d: &DayFigures<'_>) -> Vec<Cell> {
    let f = d.sums.figures();
    let (per_user, per_view) = if d.views.count > 0 {
        #[allow(clippy::cast_precision_loss)]
        let minutes = d.views.total_ms as f64 / MINUTE_MS as f64;
        #[allow(clippy::cast_precision_loss)]
        (
            Some(minutes / d.views.owners as f64),
            Some(minutes / d.views.count as f64),
        )
    } else {
        (None, None)
    };
    vec![
        Cell::Text(Calendar::day_label(d.day)),
        Cell::Int(i64::from(d.users.0)),
        Cell::Int(i64::from(d.users.1)),
        Cell::Int(d.users.2),
        Cell::Num(f.up_kbps, 1),
        Cell::Num(f.down_kbps, 1),
        Cell::Num(per_user, 1),
        Cell::Num(per_view, 1),
        Cell::Num(f.continuity, 4),
        Cell::Num(f.qoe, 3),
        Cell::Int(d.peak.0),
        Cell::Text(cal.minute_label(d.peak.1)),
    ]
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
    isp_table(
        counts
            .into_iter()
            .map(|(isp, n)| (isp.to_owned(), n))
            .collect(),
    )
}

/// The `--by isp` table from each ISP's distinct addresses: largest first.
pub fn isp_table(mut ranked: Vec<(String, i64)>) -> Table {
    let total: i64 = ranked.iter().map(|(_, n)| n).sum();
    ranked.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    #[allow(clippy::cast_precision_loss)]
    let rows = ranked
        .into_iter()
        .map(|(isp, n)| {
            vec![
                Cell::Text(isp),
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
