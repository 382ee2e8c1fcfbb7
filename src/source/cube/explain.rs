//! View 7 and the alerts' causes from the cubes: each cell's sums of the explained
//! measure over the window and over the baseline, by the engine's own definitions
//! (`Monitor::cell_sums`), then the engine's own search.
//!
//! From the cubes a startup is known to its histogram bin: "slow" counts the startups
//! in bins starting above the alert rule's threshold, so a share can differ from the
//! logs' by the startups of the one bin holding the threshold.

use std::collections::BTreeMap;

use anyhow::Context;

use super::snapshot::{Bucket, CellNames, Reader};
use crate::clickhouse::read::{CELL, DATA, at_or_after, rows_of};
use crate::engine::cube::BUCKET_MS;
use crate::engine::explain::{CellSums, Cube, Sums, Target};
use crate::engine::monitor::ExplainQuery;

const MINUTE_MS: i64 = 60_000;

/// The window of `q` against its baseline, both from the cubes.
pub(super) fn explain_cube(
    reader: &Reader,
    q: &ExplainQuery,
    slow_startup_ms: i64,
) -> anyhow::Result<Cube> {
    let window = q.window();
    let baseline = q.baseline.span(q.moment, q.window_ms);
    Ok(Cube::pair(
        &cell_sums(reader, q, window, slow_startup_ms, Some(q.moment))?,
        &cell_sums(reader, q, baseline, slow_startup_ms, None)?,
    ))
}

/// Each cell the filter takes with its sums of the measure over `[from, to)`, and its
/// online peers at `peers_at` if asked.
fn cell_sums(
    reader: &Reader,
    q: &ExplainQuery,
    (from, to): (i64, i64),
    slow_ms: i64,
    peers_at: Option<i64>,
) -> anyhow::Result<Vec<CellSums>> {
    let peers = match peers_at {
        Some(t) => reader.online_by_cell(t.div_euclid(BUCKET_MS) * BUCKET_MS, &reader.cells)?,
        None => BTreeMap::new(),
    };
    let sums: BTreeMap<CellNames, Sums> = if q.target.is_count() {
        mean_online(reader, from, to)?
    } else {
        reader
            .cells_over(from, to)?
            .into_iter()
            .map(|(cell, b)| (cell, measure(q.target, &b, slow_ms)))
            .collect()
    };
    Ok(sums
        .into_iter()
        .map(|(names, sums)| CellSums {
            peers: peers.get(&names).copied().unwrap_or(0),
            names,
            sums,
        })
        .collect())
}

/// Per cell, its online peers averaged over the minute instants `to`, `to` − 1 min, …
/// after `from` (den 1): the count at the first instant, then the changes up to each.
fn mean_online(reader: &Reader, from: i64, to: i64) -> anyhow::Result<BTreeMap<CellNames, Sums>> {
    let count = (to - from + MINUTE_MS - 1).div_euclid(MINUTE_MS).max(0);
    if count == 0 {
        return Ok(BTreeMap::new());
    }
    // Before the 10 s cube's first day, the changes by the minute, each instant read at
    // its minute's start.
    let width = if to - (count - 1) * MINUTE_MS < reader.fine_from {
        MINUTE_MS
    } else {
        BUCKET_MS
    };
    let cube = if width == MINUTE_MS {
        "cube_1m"
    } else {
        "cube_10s"
    };
    let align = |t: i64| t.div_euclid(width) * width;
    let instants: Vec<i64> = (0..count).map(|k| align(to - k * MINUTE_MS)).collect();
    let first = *instants.last().unwrap_or(&to);
    let last = instants[0];
    let db = &reader.ch.target.database;
    let mut running = reader.online_by_cell(first, &reader.cells)?;
    let mut total: BTreeMap<CellNames, i64> = BTreeMap::new();
    let mut changes: Vec<(i64, CellNames, i64)> = Vec::new();
    for r in rows_of(
        reader.ch,
        &format!(
            "SELECT {CELL}, toUInt32(bucket) AS b, sumMerge(online) FROM {db}.{cube} \
             WHERE {DATA} AND {} AND bucket >= {} AND bucket < {} GROUP BY {CELL}, b ORDER BY b",
            reader.cells,
            at_or_after(first),
            at_or_after(last)
        ),
    )? {
        let start = crate::clickhouse::read::seconds_to_ms(&r[4])?;
        let n: i64 = r[5].parse().context("online change from ClickHouse")?;
        changes.push((
            start,
            [r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone()],
            n,
        ));
    }
    let mut next = changes.iter().peekable();
    for &t in instants.iter().rev() {
        // The changes of every bucket ending by `t`.
        while let Some((_, cell, n)) = next.next_if(|(start, _, _)| start + width <= t) {
            *running.entry(cell.clone()).or_default() += n;
        }
        for (cell, n) in &running {
            *total.entry(cell.clone()).or_default() += n;
        }
    }
    let n = instants.len() as f64;
    Ok(total
        .into_iter()
        .map(|(cell, t)| {
            (
                cell,
                Sums {
                    num: t as f64 / n,
                    den: 1.0,
                },
            )
        })
        .collect())
}

/// A cell's sums of the measure (online peers are read apart).
fn measure(target: Target, b: &Bucket, slow_ms: i64) -> Sums {
    let s = &b.stats;
    let (num, den) = match target {
        Target::Qoe => (s.mos_sum, f64::from(s.mos_n)),
        Target::Continuity => (s.play_s, s.play_s + s.stall_s),
        Target::Startup => {
            let all: u64 = b.startups.values().sum();
            let slow: u64 = b
                .startups
                .iter()
                .filter(|(bin, _)| i64::from(**bin) > slow_ms)
                .map(|(_, n)| n)
                .sum();
            (slow as f64, all as f64)
        }
        Target::Up => (s.up, s.period_s),
        Target::Down => (s.down, s.period_s),
        Target::Online => (0.0, 0.0),
    };
    Sums { num, den }
}
