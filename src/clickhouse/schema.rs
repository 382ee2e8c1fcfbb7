//! The schema in `deploy/clickhouse/schema.sql`: created by `ship --init`, and checked
//! by every reader and writer before it relies on it.

use super::{ClickHouse, ClickHouseError, quote};

const SCHEMA: &str = include_str!("../../deploy/clickhouse/schema.sql");
const DISTRIBUTED: &str = include_str!("../../deploy/clickhouse/distributed.sql");

/// The tables peerscope reads and writes (the materialized views feed them).
pub const TABLES: [&str; 8] = [
    "raw",
    "cube_10s",
    "cube_1m",
    "cube_1h",
    "overview_1m",
    "peer_first",
    "views",
    "skipped",
];

/// The tables that sum, and the key column their batch markers are kept under (the
/// shipper's name after a NUL byte; one marker per day of a batch, on that day).
pub const MARKED: [(&str, &str); 5] = [
    ("cube_10s", "isp"),
    ("cube_1m", "isp"),
    ("cube_1h", "isp"),
    ("overview_1m", "isp"),
    ("skipped", "reason"),
];

/// The marked table that keeps every day (`ship --keep-days` drops none of it): its
/// markers say which days of a batch reached `raw` after `raw` has lost them.
pub const MARKED_FOR_GOOD: (&str, &str) = ("cube_1m", "isp");

/// A table filled from `raw` by a materialized view, with the view's SELECT narrowed to
/// one batch of one shipper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filled {
    pub table: String,
    pub select: String,
}

/// How distinct peers and addresses are counted in the cubes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Distinct {
    /// HyperLogLog-like sketch: fixed small size, about 0.5 % error
    Combined,
    /// Every value kept: exact, memory grows with the count
    Exact,
}

impl Distinct {
    pub fn function(self) -> &'static str {
        match self {
            Distinct::Combined => "uniqCombined",
            Distinct::Exact => "uniqExact",
        }
    }
}

/// The statements of the schema for `database`, comments dropped.
pub fn statements(database: &str, distinct: Distinct) -> Vec<String> {
    split(
        SCHEMA,
        &[
            ("{db}", database),
            ("{distinct}", distinct.function()),
            ("{batch}", ""),
        ],
    )
}

/// Every table a materialized view fills, with the view's own SELECT over one day of one
/// batch (`day` as days since 1970-01-01).
pub fn filled_tables(
    database: &str,
    distinct: Distinct,
    shipper: &str,
    batch: u64,
    day: i32,
) -> Vec<Filled> {
    let only = format!(
        " AND shipper = {} AND batch = {batch} AND day = toDate({day})",
        quote(shipper)
    );
    let view = format!("CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.");
    split(
        SCHEMA,
        &[
            ("{db}", database),
            ("{distinct}", distinct.function()),
            ("{batch}", &only),
        ],
    )
    .into_iter()
    .filter_map(|st| {
        let rest = st.strip_prefix(&view)?;
        let (_, rest) = rest.split_once(" TO ")?;
        let (target, select) = rest.split_once(" AS\n")?;
        let table = target.strip_prefix(&format!("{database}."))?;
        Some(Filled {
            table: table.to_owned(),
            select: select.to_owned(),
        })
    })
    .collect()
}

/// The statements that make `<database>_all`, Distributed over `cluster`'s shards.
pub fn distributed_statements(database: &str, cluster: &str) -> Vec<String> {
    split(DISTRIBUTED, &[("{db}", database), ("{cluster}", cluster)])
}

/// The cubes' views, one statement of schema.sql made for each: the table, the start of
/// its bucket, and its district and area columns (`''` in the narrow cube).
const CUBES: [[(&str, &str); 4]; 4] = [
    [
        ("{cube}", "cube_10s"),
        ("{bucket}", "bucket"),
        ("{district}", "district"),
        ("{area}", "area"),
    ],
    [
        ("{cube}", "cube_1m"),
        ("{bucket}", "toStartOfMinute(bucket)"),
        ("{district}", "district"),
        ("{area}", "area"),
    ],
    [
        ("{cube}", "overview_1m"),
        ("{bucket}", "toStartOfMinute(bucket)"),
        ("{district}", "''"),
        ("{area}", "''"),
    ],
    [
        ("{cube}", "cube_1h"),
        ("{bucket}", "toStartOfHour(bucket)"),
        ("{district}", "district"),
        ("{area}", "area"),
    ],
];

/// The statements of `sql`, comments dropped, `names` put in; a statement naming
/// `{cube}` is made once per cube, one naming `{table}` once per table.
fn split(sql: &str, names: &[(&str, &str)]) -> Vec<String> {
    let text: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .flat_map(|l| [l, "\n"])
        .collect();
    let put = |s: &str, names: &[(&str, &str)]| {
        names
            .iter()
            .fold(s.to_owned(), |s, (from, to)| s.replace(from, to))
    };
    let mut out = Vec::new();
    for s in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let s = put(s, names);
        if s.contains("{cube}") {
            out.extend(CUBES.iter().map(|cube| put(&s, cube)));
        } else if s.contains("{table}") {
            out.extend(TABLES.iter().map(|t| s.replace("{table}", t)));
        } else {
            out.push(s);
        }
    }
    out
}

/// Creates whatever of the schema is missing (every statement is `IF NOT EXISTS`),
/// makes again the views of an older schema (see [`outdated_views`]), and with `cluster`
/// makes the `<database>_all` tables over its shards.
pub fn init(
    ch: &ClickHouse,
    distinct: Distinct,
    cluster: Option<&str>,
) -> Result<(), ClickHouseError> {
    let outdated = outdated_views(ch)?;
    // The views made again count distinct values as the tables they fill were made to.
    let distinct = if outdated.is_empty() {
        distinct
    } else {
        distinct_of(ch)?
    };
    for view in outdated {
        ch.query(&format!("DROP TABLE {}.{view}", ch.target.database))?;
    }
    for statement in statements(&ch.target.database, distinct) {
        ch.query(&statement)?;
    }
    if let Some(cluster) = cluster {
        for statement in distributed_statements(&ch.target.database, cluster) {
            ch.query(&statement)?;
        }
    }
    Ok(())
}

/// Checks that the schema is there; says which table is missing and what to run.
/// Returns the distinct-count function the cubes were made with.
pub fn check(ch: &ClickHouse) -> Result<Distinct, ClickHouseError> {
    let db = quote(&ch.target.database);
    let found = ch.query(&format!(
        "SELECT name FROM system.tables WHERE database = {db} FORMAT TabSeparated"
    ))?;
    let found: Vec<&str> = found.lines().collect();
    if let Some(missing) = TABLES.iter().find(|t| !found.contains(t)) {
        return Err(ClickHouseError::Refused {
            url: ch.target.url.clone(),
            why: format!(
                "table {}.{missing} does not exist: run `peerscope ship --init` to create the schema",
                ch.target.database
            ),
        });
    }
    distinct_of(ch)
}

/// [`check`], for a shipper: the views must also be this version's, or the batch
/// markers it looks for are not where it looks.
pub fn check_for_shipping(ch: &ClickHouse) -> Result<Distinct, ClickHouseError> {
    let distinct = check(ch)?;
    let outdated = outdated_views(ch)?;
    if !outdated.is_empty() {
        return Err(ClickHouseError::Refused {
            url: ch.target.url.clone(),
            why: format!(
                "the views {} of {} keep batch markers on 1970-01-01 (an older schema): run `peerscope ship --init` once, while no shipper runs, to make them again",
                outdated.join(", "),
                ch.target.database
            ),
        });
    }
    Ok(distinct)
}

/// The materialized views of an older schema, which kept every batch marker on day
/// 1970-01-01, apart from its batch's rows and so in another partition: a server stopping
/// between the two parts could keep one without the other. Their tables stay as they
/// are (readers skip both kinds of marker); only the views are made again.
fn outdated_views(ch: &ClickHouse) -> Result<Vec<String>, ClickHouseError> {
    let answer = ch.query(&format!(
        "SELECT name FROM system.tables WHERE database = {} AND engine = 'MaterializedView' \
         AND position(create_table_query, 'toDate(0)') > 0 ORDER BY name FORMAT TabSeparated",
        quote(&ch.target.database)
    ))?;
    Ok(answer.lines().map(str::to_owned).collect())
}

/// The distinct-count function the cubes were made with.
pub fn distinct_of(ch: &ClickHouse) -> Result<Distinct, ClickHouseError> {
    let kind = ch.query(&format!(
        "SELECT type FROM system.columns WHERE database = {} AND table = 'cube_1m' AND name = 'peers' FORMAT TabSeparated",
        quote(&ch.target.database)
    ))?;
    Ok(if kind.contains("uniqExact") {
        Distinct::Exact
    } else {
        Distinct::Combined
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_names_the_database_and_no_placeholder_is_left() {
        let s = statements("games", Distinct::Exact);
        assert_eq!(s.len(), 16, "a database, 8 tables, 7 views");
        assert!(s.iter().all(|st| st.contains("games")));
        assert!(s.iter().all(|st| !st.contains('{')));
        for table in TABLES {
            assert!(
                s.iter().any(|st| st.starts_with(&format!(
                    "CREATE TABLE IF NOT EXISTS games.{table} "
                ))),
                "{table}"
            );
        }
    }

    #[test]
    fn every_view_is_a_select_over_one_batch_and_the_summing_ones_keep_markers() {
        let filled = filled_tables("games", Distinct::Combined, "fs'1", 7, 15_559);
        let tables: Vec<&str> = filled.iter().map(|f| f.table.as_str()).collect();
        assert_eq!(
            tables,
            [
                "cube_10s",
                "cube_1m",
                "overview_1m",
                "cube_1h",
                "peer_first",
                "views",
                "skipped"
            ]
        );
        for f in &filled {
            assert!(f.select.starts_with("SELECT "), "{}", f.table);
            assert!(
                f.select
                    .contains("AND shipper = 'fs\\'1' AND batch = 7 AND day = toDate(15559)\n"),
                "{}: {}",
                f.table,
                f.select
            );
            let marked = MARKED.iter().any(|(t, _)| *t == f.table);
            assert_eq!(f.select.contains("AS shipped"), marked, "{}", f.table);
        }
        for (table, column) in MARKED {
            let f = filled.iter().find(|f| f.table == table).expect("filled");
            let marker = format!("if(kind = 2, concat('\\0', shipper), {column}) AS {column}");
            assert!(f.select.contains(&marker), "{table}");
        }
    }

    #[test]
    fn the_table_kept_for_good_is_marked() {
        assert!(MARKED.contains(&MARKED_FOR_GOOD));
    }

    #[test]
    fn every_table_has_its_distributed_twin() {
        let s = distributed_statements("games", "edge");
        for table in TABLES {
            assert!(
                s.iter()
                    .any(|st| st.starts_with(&format!(
                        "CREATE TABLE IF NOT EXISTS games_all.{table} AS games.{table}"
                    )) && st.ends_with(&format!("Distributed(edge, games, {table})"))),
                "{table}"
            );
        }
    }
}
