//! Horizontal compaction: the raw table and the 10 s cube keep the event's last
//! `--keep-days` days, while the minute and hour cubes, `peer_first` and `views` keep
//! all of it (what the issue asks of TTLs, which ClickHouse 18.16 lacks). Days go whole,
//! as their partitions (`PARTITION BY toYYYYMMDD(day)`), counted back from the newest
//! day the cubes hold (the event's clock, not the wall clock: a recorded event loses
//! the same days as a live one).
//!
//! A partition is never dropped while it holds what a shipper needs to resume: a cursor
//! row of its last batch, and all of that batch's rows while some table may still need
//! them filled in (a day's marker missing there); nor an older schema's markers' day,
//! 1970-01-01.

use std::collections::{BTreeSet, HashMap};

use super::commit::marked_days;

use crate::clickhouse::schema::{MARKED, MARKED_FOR_GOOD};
use crate::clickhouse::{ClickHouse, ClickHouseError, unescape_tsv};
use crate::engine::calendar::{Calendar, Day};

/// The tables whose old days go.
const TABLES: [&str; 2] = ["raw", "cube_10s"];

/// Drops the days before the last `keep` of `raw` and `cube_10s`; returns the first day
/// kept, if anything was dropped.
pub fn drop_old_days(ch: &ClickHouse, keep: u32) -> Result<Option<Day>, ClickHouseError> {
    let db = &ch.target.database;
    let number = |sql: &str| -> Result<Option<Day>, ClickHouseError> {
        Ok(ch
            .query(&format!("{sql} FORMAT TabSeparated"))?
            .trim()
            .parse::<Day>()
            .ok()
            .filter(|d| *d > 0))
    };
    let Some(newest) = number(&format!(
        "SELECT toUInt16(max(day)) FROM {db}.cube_1h WHERE day > toDate(0)"
    ))?
    else {
        return Ok(None);
    };
    let resume = resume_from(ch)?;
    let first_kept = (newest - i32::try_from(keep).unwrap_or(i32::MAX) + 1).min(resume);
    let first = yyyymmdd(first_kept);
    let mut dropped = false;
    for table in TABLES {
        let partitions = ch.query(&format!(
            "SELECT DISTINCT partition FROM system.parts WHERE database = '{db}' \
             AND table = '{table}' AND active FORMAT TabSeparated"
        ))?;
        for p in partitions
            .lines()
            .filter_map(|l| l.trim().parse::<u32>().ok())
        {
            if p > 19_700_101 && p < first {
                ch.execute(&format!("ALTER TABLE {db}.{table} DROP PARTITION {p}"))?;
                dropped = true;
            }
        }
    }
    Ok(dropped.then_some(first_kept))
}

/// The first day a shipper needs to resume: for each shipper, the newest day holding
/// a cursor row of its last batch; and every day of that batch while it may still need
/// to be made whole or filled in (some table lacks a day's marker of it, or `raw` some
/// day's part).
fn resume_from(ch: &ClickHouse) -> Result<Day, ClickHouseError> {
    let db = &ch.target.database;
    let rows = |sql: &str| -> Result<Vec<Vec<String>>, ClickHouseError> {
        Ok(ch
            .query(&format!("{sql} FORMAT TabSeparated"))?
            .lines()
            .map(|l| l.split('\t').map(unescape_tsv).collect())
            .collect())
    };
    // Each shipper's last batch: its number, how many days' parts it has, and the days
    // whose cursor rows `raw` holds.
    let mut last: HashMap<String, (u64, usize, Vec<Day>)> = HashMap::new();
    for r in rows(&format!(
        "SELECT shipper, batch, max(lines), groupArray(toUInt16(day)) FROM {db}.raw \
         WHERE kind = 2 GROUP BY shipper, batch"
    ))? {
        let batch = r[1].parse::<u64>().unwrap_or(0);
        if last.get(&r[0]).is_some_and(|(b, _, _)| *b > batch) {
            continue;
        }
        let parts = r[2].parse::<usize>().unwrap_or(0);
        let days = r[3]
            .trim_matches(['[', ']'])
            .split(',')
            .filter_map(|d| d.trim().parse::<Day>().ok())
            .collect();
        last.insert(r[0].clone(), (batch, parts, days));
    }
    let mut from = Day::MAX;
    for (shipper, (batch, parts, days)) in &last {
        // Whole in `raw` (the minute cube keeps the markers of days dropped already)
        // and marked in every table on each day `raw` holds.
        let kept = marked_days(ch, MARKED_FOR_GOOD, shipper, *batch)?;
        let mut whole = days.iter().chain(&kept).collect::<BTreeSet<_>>().len() >= *parts;
        for table in MARKED {
            let marked = marked_days(ch, table, shipper, *batch)?;
            whole &= marked.contains(&0) || days.iter().all(|d| marked.contains(d));
        }
        let needed = if whole {
            days.iter().max()
        } else {
            days.iter().min()
        };
        from = from.min(needed.copied().unwrap_or(0));
    }
    Ok(from)
}

/// A day as its partition's id, YYYYMMDD.
fn yyyymmdd(day: Day) -> u32 {
    Calendar::day_label(day)
        .replace('-', "")
        .parse()
        .unwrap_or(0)
}

/// Drops old days every `every` for as long as the process runs (a follower's), on a
/// thread of its own; a failure is said and tried again next time.
pub fn keep_dropping(ch: ClickHouse, keep: u32, every: std::time::Duration) {
    std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || {
            loop {
                match drop_old_days(&ch, keep) {
                    Ok(first) => say(first),
                    Err(e) => eprintln!("warning: --keep-days: {e}"),
                }
                std::thread::sleep(every);
            }
        })
        .expect("spawn the retention thread");
}

/// Says what went, on stderr.
pub fn say(first_kept: Option<Day>) {
    if let Some(d) = first_kept {
        eprintln!(
            "dropped the raw rows and 10 s buckets before {} (--keep-days)",
            Calendar::day_label(d)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_that_says_which_days_reached_raw_keeps_every_day() {
        assert!(!TABLES.contains(&MARKED_FOR_GOOD.0));
    }

    #[test]
    fn days_name_their_partitions() {
        assert_eq!(yyyymmdd(0), 19_700_101);
        assert_eq!(
            yyyymmdd(Calendar::parse_day("2012-08-07").expect("a day")),
            20_120_807
        );
    }
}
