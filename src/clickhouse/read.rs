//! Reading the cubes `ship` keeps: a filter as a condition on the cell columns, an
//! answer as rows, a row of sums as the engine's [`BucketStats`], a `sumMap` histogram
//! as bins, and online peers at an instant from the sum of online changes before it.
//! `report --from` and the TUI over the cubes ([`crate::source::cube_frames`]) both read
//! through here.

use anyhow::Context;

use super::{ClickHouse, quote, unescape_tsv};
use crate::engine::aggregate::bucket::BucketStats;
use crate::engine::query::filter::{Filter, check_dimension};

/// The columns of a `sumMerge` of every sum, in [`sums_of`]'s order.
pub const SUMS: &str = "sumMerge(records), sumMerge(reports), sumMerge(period_s), sumMerge(down), \
    sumMerge(p2p_period_s), sumMerge(up), sumMerge(server), sumMerge(p2p_down), \
    sumMerge(play_s), sumMerge(stall_s), sumMerge(mos_sum), sumMerge(mos_n), sumMerge(online)";
pub const SUM_COUNT: usize = 13;

/// The rows of a cube that hold data: its batch markers have bucket 1970-01-01 00:00:00
/// (deploy/clickhouse/schema.sql; an older schema's are on day 1970-01-01, bucket 0 too).
pub const DATA: &str = "bucket > toDateTime(0)";

/// The rows of `skipped` that hold data: its batch markers' reason is a shipper's name
/// after a NUL byte.
pub const SKIPPED_DATA: &str = "NOT startsWith(reason, '\\0')";

/// The cell columns, in the order of the explanation's dimensions.
pub const CELL: &str = "isp, channel, district, area";

/// The dimensions a filter constrains: (cube column, the filter's key, its values).
fn dimensions(filter: &Filter) -> [(&'static str, &std::collections::BTreeSet<String>); 4] {
    [
        ("isp", &filter.isps),
        ("channel", &filter.channels),
        ("district", &filter.districts),
        ("area", &filter.areas),
    ]
}

/// The names each cell column holds in the cubes (read from the 1 h cube).
pub fn names_of(ch: &ClickHouse, column: &str) -> anyhow::Result<Vec<String>> {
    Ok(rows_of(
        ch,
        &format!(
            "SELECT DISTINCT {column} FROM {}.cube_1h WHERE {DATA}",
            ch.target.database
        ),
    )?
    .into_iter()
    .filter_map(|r| r.into_iter().next())
    .collect())
}

/// The filter as a SQL condition on the cell columns, each name checked against the
/// cubes' (whatever its case) and replaced by theirs; an unknown name is an error that
/// lists the names there are.
pub fn cells_of(ch: &ClickHouse, filter: &Filter) -> anyhow::Result<String> {
    let mut terms = Vec::new();
    for (column, values) in dimensions(filter) {
        if values.is_empty() {
            continue;
        }
        let known = names_of(ch, column)?;
        let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
        check_dimension(column, values, &known_refs).map_err(crate::cli::UsageError)?;
        terms.push(in_list(column, &known, values));
    }
    Ok(joined(&terms))
}

/// The filter as a SQL condition, its names matched whatever their case against
/// `known` (column → names): a name not there takes nothing.
pub fn cells_among(filter: &Filter, known: &dyn Fn(&str) -> Vec<String>) -> String {
    let terms = dimensions(filter)
        .into_iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(column, values)| in_list(column, &known(column), values))
        .collect::<Vec<_>>();
    joined(&terms)
}

fn in_list(column: &str, known: &[String], values: &std::collections::BTreeSet<String>) -> String {
    let picked: Vec<String> = known
        .iter()
        .filter(|k| Filter::takes(values, k))
        .map(|k| quote(k))
        .collect();
    if picked.is_empty() {
        "0".into()
    } else {
        format!("{column} IN ({})", picked.join(", "))
    }
}

fn joined(terms: &[String]) -> String {
    if terms.is_empty() {
        "1".into()
    } else {
        terms.join(" AND ")
    }
}

/// A query's answer as rows of fields.
pub fn rows_of(ch: &ClickHouse, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let text = ch.query(&format!("{sql} FORMAT TabSeparated"))?;
    Ok(text
        .lines()
        .map(|l| l.split('\t').map(unescape_tsv).collect())
        .collect())
}

/// A bucket's start from ClickHouse (seconds) in milliseconds.
pub fn seconds_to_ms(text: &str) -> anyhow::Result<i64> {
    let s: i64 = text
        .parse()
        .with_context(|| format!("a bucket time {text:?} from ClickHouse"))?;
    Ok(s * 1000)
}

/// The sums of a `SUMS` row, and its online change.
pub fn sums_of(cols: &[String]) -> anyhow::Result<(BucketStats, i64)> {
    let f = |i: usize| -> anyhow::Result<f64> {
        cols[i]
            .parse()
            .with_context(|| format!("sum {i} {:?} from ClickHouse", cols[i]))
    };
    let n = |i: usize| -> anyhow::Result<u32> {
        cols[i]
            .parse()
            .with_context(|| format!("count {i} {:?} from ClickHouse", cols[i]))
    };
    let stats = BucketStats {
        records: n(0)?,
        reports: n(1)?,
        period_s: f(2)?,
        down: f(3)?,
        p2p_period_s: f(4)?,
        up: f(5)?,
        server: f(6)?,
        p2p_down: f(7)?,
        play_s: f(8)?,
        stall_s: f(9)?,
        mos_sum: f(10)?,
        mos_n: n(11)?,
        ..BucketStats::default()
    };
    let online: i64 = cols[12].parse().context("online change from ClickHouse")?;
    Ok((stats, online))
}

/// A `sumMap` histogram `([lower,…],[count,…])` as (lower end, count) pairs.
pub fn histogram(text: &str) -> anyhow::Result<Vec<(u32, u64)>> {
    let bad = || format!("histogram {text:?} from ClickHouse");
    let inner = text
        .strip_prefix("([")
        .and_then(|t| t.strip_suffix("])"))
        .with_context(bad)?;
    let (bins, counts) = inner.split_once("],[").with_context(bad)?;
    let parse = |list: &str| -> anyhow::Result<Vec<u64>> {
        list.split(',')
            .filter(|x| !x.is_empty())
            .map(|x| x.parse().with_context(bad))
            .collect()
    };
    let (bins, counts) = (parse(bins)?, parse(counts)?);
    Ok(bins
        .iter()
        .zip(&counts)
        .map(|(b, c)| (u32::try_from(*b).unwrap_or(u32::MAX), *c))
        .collect())
}

/// A SQL `DateTime` of the whole second at or after `ms`: the cubes' buckets are whole
/// seconds, so `bucket >= at_or_after(a)` takes the buckets starting at or after `a`.
pub fn at_or_after(ms: i64) -> String {
    format!(
        "toDateTime({})",
        ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0)
    )
}

/// A query summing online changes per `group` (SQL columns; may be empty) under
/// `cells`, over every bucket that ends at or before `end` (a multiple of 10 s): whole
/// hours from the 1 h cube, then minutes, then 10 s buckets, so its cost is set by the
/// hours, not the records. Its rows are the group's columns then the count.
pub fn online_at_sql(db: &str, end: i64, cells: &str, group: &str) -> String {
    let minute = end.div_euclid(60_000) * 60_000;
    let hour = end.div_euclid(3_600_000) * 3_600_000;
    let (cols, by) = if group.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("{group}, "), format!(" GROUP BY {group}"))
    };
    let part = |cube: &str, from: Option<i64>, to: i64| {
        let from = from.map_or_else(String::new, |f| {
            format!(" AND bucket >= {}", at_or_after(f))
        });
        format!(
            "SELECT {cols}sumMerge(online) AS n FROM {db}.{cube} WHERE {DATA} AND {cells}{from} \
             AND bucket < {}{by}",
            at_or_after(to)
        )
    };
    format!(
        "SELECT {cols}sum(n) FROM ({} UNION ALL {} UNION ALL {}){by}",
        part("cube_1h", None, hour),
        part("cube_1m", Some(hour), minute),
        part("cube_10s", Some(minute), end),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_read_back() {
        assert_eq!(
            histogram("([100,1200],[2,1])").expect("read"),
            vec![(100, 2), (1200, 1)]
        );
        assert_eq!(histogram("([],[])").expect("read"), vec![]);
        assert!(histogram("[1]").is_err());
    }

    #[test]
    fn bucket_bounds_round_up_to_the_second() {
        assert_eq!(at_or_after(10_000), "toDateTime(10)");
        assert_eq!(at_or_after(10_001), "toDateTime(11)");
        assert_eq!(at_or_after(-1), "toDateTime(0)");
    }

    #[test]
    fn filters_take_names_whatever_their_case() {
        let known = |column: &str| match column {
            "isp" => vec!["PCCW".to_owned(), "HKBN".to_owned()],
            _ => vec!["Area 07".to_owned()],
        };
        let f = Filter::parse("isp=pccw").expect("filter");
        assert_eq!(cells_among(&f, &known), "isp IN ('PCCW')");
        let mut f = Filter::parse("isp=nobody").expect("filter");
        f.areas.insert("area 07".into());
        assert_eq!(cells_among(&f, &known), "0 AND area IN ('Area 07')");
        assert_eq!(cells_among(&Filter::default(), &known), "1");
    }
}
