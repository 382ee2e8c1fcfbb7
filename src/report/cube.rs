//! `report --from clickhouse://HOST:PORT/DB`: the tables of DESIGN §8 from the cubes
//! `ship` keeps, at a cost set by the cells and peers, not by the records.
//!
//! Sums come from the 1 min cubes (`--by minute`, the daily peaks: the narrow one unless
//! the filter names a district) and the 1 h cube (`--by day`, `--by isp`); new and cumulative users from `peer_first`; online time
//! from `views`. Every ratio is computed here from the sums by the engine's own
//! [`BucketStats::figures`], and each row by the same code as a report from the logs.
//! What differs from the logs' report is said in the README ("Report from the cubes").

use std::collections::BTreeMap;

use anyhow::Context;

use crate::cli::UsageError;
use crate::clickhouse::read::{
    self, DATA, SKIPPED_DATA, SUM_COUNT, SUMS, histogram, rows_of, seconds_to_ms, sums_of,
};
use crate::clickhouse::schema::{self, Distinct};
use crate::clickhouse::{ClickHouse, Credentials, Target, quote};
use crate::config::Settings;
use crate::engine::aggregate::bucket::{BucketStats, Figures};
use crate::engine::calendar::{Calendar, Day};
use crate::engine::cube::histogram_rank;
use crate::engine::query::filter::Filter;
use crate::engine::record::Reason;
use crate::recording::skipped::Skipped;

use super::By;
use super::figures::{
    DAY_COLUMNS, DayFigures, DayViewTotals, MINUTE_COLUMNS, day_row, isp_table, minute_row,
};
use super::output::{Table, names};

pub fn run(
    uri: &str,
    by: By,
    day: Option<Day>,
    filter: &Filter,
    settings: &Settings,
) -> anyhow::Result<(Table, Skipped)> {
    let target = Target::parse_uri(uri)?;
    if matches!(by, By::Node | By::Session) {
        return Err(UsageError(format!(
            "--by {} is not in the cubes: they hold sums per cell, not {}; report it from the logs",
            if by == By::Node { "node" } else { "session" },
            if by == By::Node { "nodes" } else { "sessions" }
        ))
        .into());
    }
    let ch = ClickHouse::connect(target, Credentials::from_env(None)?)?;
    let distinct = schema::check(&ch)?;
    let cube = Cube {
        ch: &ch,
        db: &ch.target.database,
        calendar: Calendar::new(settings.timezone),
        distinct,
    };
    let cells = read::cells_of(&ch, filter)?;
    let table = match by {
        By::Minute => cube.by_minute(filter, &cells, day)?,
        By::Day => cube.by_day(filter, &cells, day)?,
        By::Isp => cube.by_isp(&cells, day)?,
        By::Node | By::Session => unreachable!("refused above"),
    };
    Ok((table, cube.skipped(day)?))
}

struct Cube<'a> {
    ch: &'a ClickHouse,
    db: &'a str,
    calendar: Calendar,
    distinct: Distinct,
}

/// One minute's sums under the filter, and its online change.
struct MinuteSums {
    stats: BucketStats,
    online_delta: i64,
    startups: Vec<(u32, u64)>,
}

impl Cube<'_> {
    fn query(&self, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
        rows_of(self.ch, sql)
    }

    /// Every minute with a record in it (under no filter: the rows of `--by minute`),
    /// and each minute's sums under the filter, in order.
    fn minutes(
        &self,
        filter: &Filter,
        cells: &str,
    ) -> anyhow::Result<(Vec<i64>, BTreeMap<i64, MinuteSums>)> {
        // The narrow cube holds every cell's sums but district and area.
        let narrow = filter.districts.is_empty() && filter.areas.is_empty();
        let cube = if narrow { "overview_1m" } else { "cube_1m" };
        let rows: Vec<i64> = self
            .query(&format!(
                "SELECT toUInt32(bucket) AS b FROM {}.overview_1m WHERE {DATA} GROUP BY b HAVING sumMerge(records) > 0 ORDER BY b",
                self.db
            ))?
            .iter()
            .map(|r| seconds_to_ms(&r[0]))
            .collect::<anyhow::Result<_>>()?;
        let mut sums = BTreeMap::new();
        for r in self.query(&format!(
            "SELECT toUInt32(bucket) AS b, {SUMS}, sumMapMerge(startup) FROM {}.{cube} WHERE {DATA} AND {cells} GROUP BY b ORDER BY b",
            self.db
        ))? {
            let start = seconds_to_ms(&r[0])?;
            let (stats, online_delta) = sums_of(&r[1..=SUM_COUNT])?;
            let startups = histogram(&r[SUM_COUNT + 1])?;
            sums.insert(
                start,
                MinuteSums {
                    stats,
                    online_delta,
                    startups,
                },
            );
        }
        for r in self.query(&format!(
            "SELECT intDiv(f, 60000) * 60000 AS m, count() FROM \
             (SELECT peer, minMerge(first_ms) AS f FROM {}.peer_first WHERE {cells} GROUP BY peer) \
             GROUP BY m",
            self.db
        ))? {
            let start: i64 = r[0].parse().context("new peers' minute")?;
            let n: u32 = r[1].parse().context("new peers' count")?;
            sums.entry(start)
                .or_insert_with(|| MinuteSums {
                    stats: BucketStats::default(),
                    online_delta: 0,
                    startups: Vec::new(),
                })
                .stats
                .new_peers = n;
        }
        Ok((rows, sums))
    }

    /// Online peers at the end of each row minute, from the running sum of changes.
    fn online_at(rows: &[i64], sums: &BTreeMap<i64, MinuteSums>) -> Vec<i64> {
        let mut online = 0;
        let mut changes = sums.iter().peekable();
        rows.iter()
            .map(|&start| {
                while let Some(&(&m, s)) = changes.peek() {
                    if m > start {
                        break;
                    }
                    online += s.online_delta;
                    changes.next();
                }
                online
            })
            .collect()
    }

    fn by_minute(&self, filter: &Filter, cells: &str, day: Option<Day>) -> anyhow::Result<Table> {
        let (rows, sums) = self.minutes(filter, cells)?;
        let online = Self::online_at(&rows, &sums);
        let table_rows = rows
            .iter()
            .zip(online)
            .filter(|(start, _)| day.is_none_or(|d| self.calendar.day_of(**start) == d))
            .map(|(&start, online)| {
                let figures = sums.get(&start).map_or_else(Figures::default, |s| Figures {
                    startup_p50_ms: histogram_rank(&s.startups, 50.0),
                    ..s.stats.figures()
                });
                minute_row(&self.calendar, start, online, &figures)
            })
            .collect();
        Ok(Table {
            columns: names(&MINUTE_COLUMNS),
            rows: table_rows,
        })
    }

    fn by_day(&self, filter: &Filter, cells: &str, only: Option<Day>) -> anyhow::Result<Table> {
        // The views' online time is the longest query: asked beside the others.
        let (ch, db, tz) = (self.ch, self.db, self.calendar.tz());
        std::thread::scope(|scope| {
            let views = scope.spawn(move || day_views(ch, db, tz, cells));
            self.day_table(filter, cells, only, views)
        })
    }

    fn day_table(
        &self,
        filter: &Filter,
        cells: &str,
        only: Option<Day>,
        views: std::thread::ScopedJoinHandle<'_, anyhow::Result<BTreeMap<Day, DayViewTotals>>>,
    ) -> anyhow::Result<Table> {
        let (rows, minute_sums) = self.minutes(filter, cells)?;
        let online = Self::online_at(&rows, &minute_sums);
        let mut peaks: BTreeMap<Day, (i64, i64)> = BTreeMap::new();
        for (&start, online) in rows.iter().zip(online) {
            let peak = peaks
                .entry(self.calendar.day_of(start))
                .or_insert((i64::MIN, start));
            if online > peak.0 {
                *peak = (online, start);
            }
        }
        let mut new_users: BTreeMap<Day, u32> = BTreeMap::new();
        for (&start, s) in &minute_sums {
            *new_users.entry(self.calendar.day_of(start)).or_default() += s.stats.new_peers;
        }
        let distinct = self.distinct.function();
        let mut sums: BTreeMap<Day, (BucketStats, u32)> = BTreeMap::new();
        for r in self.query(&format!(
            "SELECT toUInt16(day) AS d, {SUMS}, {distinct}Merge(peers) FROM {}.cube_1h WHERE {DATA} AND {cells} GROUP BY d",
            self.db
        ))? {
            let d: Day = r[0].parse().context("day")?;
            let (stats, _) = sums_of(&r[1..=SUM_COUNT])?;
            let users: u32 = r[SUM_COUNT + 1].parse().context("distinct peers")?;
            sums.insert(d, (stats, users));
        }
        let views = views
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        let mut cumulative = 0i64;
        let mut table_rows = Vec::new();
        let empty = (BucketStats::default(), 0);
        for (&d, &peak) in &peaks {
            let new = new_users.get(&d).copied().unwrap_or(0);
            cumulative += i64::from(new);
            if only.is_some_and(|o| o != d) {
                continue;
            }
            let (stats, total) = sums.get(&d).unwrap_or(&empty);
            let figures = DayFigures {
                day: d,
                users: (new, *total, cumulative),
                sums: stats,
                views: views.get(&d).copied().unwrap_or_default(),
                peak,
            };
            table_rows.push(day_row(&self.calendar, &figures));
        }
        Ok(Table {
            columns: names(&DAY_COLUMNS),
            rows: table_rows,
        })
    }

    fn by_isp(&self, cells: &str, day: Option<Day>) -> anyhow::Result<Table> {
        let when = day.map_or_else(|| "1".into(), |d| format!("day = toDate({d})"));
        let distinct = self.distinct.function();
        let mut counts = Vec::new();
        for r in self.query(&format!(
            "SELECT isp, {distinct}Merge(ips) AS n FROM {}.cube_1h WHERE {DATA} AND {cells} AND {when} GROUP BY isp HAVING n > 0",
            self.db
        ))? {
            counts.push((r[0].clone(), r[1].parse().context("distinct addresses")?));
        }
        Ok(isp_table(counts))
    }

    /// The lines the shippers skipped, by reason (over `day` alone if given).
    fn skipped(&self, day: Option<Day>) -> anyhow::Result<Skipped> {
        let when = day.map_or_else(|| "1".into(), |d| format!("day = toDate({d})"));
        let mut skipped = Skipped::default();
        for r in self.query(&format!(
            "SELECT reason, sumMerge(lines) FROM {}.skipped WHERE {SKIPPED_DATA} AND {when} GROUP BY reason",
            self.db
        ))? {
            let reason = Reason::ALL
                .into_iter()
                .find(|x| x.name() == r[0])
                .with_context(|| format!("skipped lines of unknown reason {:?}", r[0]))?;
            skipped
                .by_reason
                .insert(reason, r[1].parse().context("skipped lines")?);
        }
        Ok(skipped)
    }
}

/// Each day's views under the filter, by the local day (in `tz`) they began. A view is
/// a session id (§3), whichever peers sent it: its owner is the peer of its first
/// record, as in the logs' report (each row's own first record, `finalizeAggregation`,
/// picks it in one grouping).
fn day_views(
    ch: &ClickHouse,
    db: &str,
    tz: chrono_tz::Tz,
    cells: &str,
) -> anyhow::Result<BTreeMap<Day, DayViewTotals>> {
    let tz = quote(tz.name());
    let mut views = BTreeMap::new();
    for r in rows_of(
        ch,
        &format!(
            "SELECT toUInt16(toDate(toDateTime(intDiv(s, 1000)), {tz})) AS d, count(), \
             sum(if(lv < 9223372036854775807, lv, l) - s), uniqExact(owner) FROM \
             (SELECT session, argMin(peer, finalizeAggregation(start_ms)) AS owner, \
              minMerge(start_ms) AS s, maxMerge(last_ms) AS l, minMerge(leave_ms) AS lv \
              FROM {db}.views WHERE {cells} GROUP BY session) GROUP BY d"
        ),
    )? {
        let d: Day = r[0].parse().context("view day")?;
        views.insert(
            d,
            DayViewTotals {
                count: r[1].parse().context("views")?,
                total_ms: r[2].parse().context("view length")?,
                owners: r[3].parse().context("view owners")?,
            },
        );
    }
    Ok(views)
}
