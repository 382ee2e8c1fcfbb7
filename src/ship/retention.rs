//! Horizontal compaction: the raw table and the 10 s cube keep the event's last
//! `--keep-days` days, while the minute and hour cubes, `peer_first` and `views` keep
//! all of it (what the issue asks of TTLs, which ClickHouse 18.16 lacks). Days go whole,
//! as their partitions (`PARTITION BY toYYYYMMDD(day)`), counted back from the newest
//! day the cubes hold (the event's clock, not the wall clock: a recorded event loses
//! the same days as a live one).
//!
//! A partition is never dropped while it holds what a shipper needs to resume: its last
//! cursor row, and all of its last batch's rows while some table may still need them
//! filled in (its marker missing there); nor the batch markers' day, 1970-01-01.

use std::collections::HashMap;

use crate::clickhouse::schema::MARKED;
use crate::clickhouse::{ClickHouse, ClickHouseError, quote, unescape_tsv};
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

/// The first day a shipper needs to resume: for each shipper, the day of its last
/// cursor row; and when some summing table lacks that batch's marker (an INSERT that may
/// have stopped half-way, which `complete` fills in from `raw`), the batch's first day.
fn resume_from(ch: &ClickHouse) -> Result<Day, ClickHouseError> {
    let db = &ch.target.database;
    let rows = |sql: &str| -> Result<Vec<Vec<String>>, ClickHouseError> {
        Ok(ch
            .query(&format!("{sql} FORMAT TabSeparated"))?
            .lines()
            .map(|l| l.split('\t').map(unescape_tsv).collect())
            .collect())
    };
    let mut marked: HashMap<String, u64> = HashMap::new();
    let mut first = true;
    for (table, column) in MARKED {
        let mut here = HashMap::new();
        for r in rows(&format!(
            "SELECT substring({column}, 2), maxMerge(shipped) FROM {db}.{table} \
             WHERE day = toDate(0) GROUP BY {column}"
        ))? {
            here.insert(r[0].clone(), r[1].parse::<u64>().unwrap_or(0));
        }
        // A shipper's batch is marked everywhere up to the least of the tables' marks.
        marked = if first {
            here
        } else {
            marked
                .into_iter()
                .filter_map(|(k, b)| here.get(&k).map(|h| (k, b.min(*h))))
                .collect()
        };
        first = false;
    }
    let mut from = Day::MAX;
    for r in rows(&format!(
        "SELECT shipper, max(batch), toUInt16(argMax(day, batch)) FROM {db}.raw \
         WHERE kind = 2 GROUP BY shipper"
    ))? {
        let (batch, cursor_day) = (
            r[1].parse::<u64>().unwrap_or(0),
            r[2].parse::<Day>().unwrap_or(0),
        );
        let whole = marked.get(&r[0]).is_some_and(|m| *m >= batch);
        let needed = if whole {
            cursor_day
        } else {
            rows(&format!(
                "SELECT toUInt16(min(day)) FROM {db}.raw WHERE day > toDate(0) \
                 AND shipper = {} AND batch = {batch}",
                quote(&r[0])
            ))?
            .first()
            .and_then(|r| r[0].parse::<Day>().ok())
            .unwrap_or(0)
        };
        from = from.min(needed);
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
    fn days_name_their_partitions() {
        assert_eq!(yyyymmdd(0), 19_700_101);
        assert_eq!(
            yyyymmdd(Calendar::parse_day("2012-08-07").expect("a day")),
            20_120_807
        );
    }
}
