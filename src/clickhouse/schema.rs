//! The schema in `deploy/clickhouse/schema.sql`: created by `ship --init`, and checked
//! by every reader and writer before it relies on it.

use super::{ClickHouse, ClickHouseError, quote};

const SCHEMA: &str = include_str!("../../deploy/clickhouse/schema.sql");

/// The tables peerscope reads and writes (the materialized views feed them).
pub const TABLES: [&str; 8] = [
    "raw",
    "cube_10s",
    "cube_1m",
    "cube_1h",
    "peer_first",
    "views",
    "cursors",
    "skipped",
];

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
    let text: String = SCHEMA
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .flat_map(|l| [l, "\n"])
        .collect();
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.replace("{db}", database)
                .replace("{distinct}", distinct.function())
        })
        .collect()
}

/// Creates whatever of the schema is missing (every statement is `IF NOT EXISTS`).
pub fn init(ch: &ClickHouse, distinct: Distinct) -> Result<(), ClickHouseError> {
    for statement in statements(&ch.target.database, distinct) {
        ch.query(&statement)?;
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
    let kind = ch.query(&format!(
        "SELECT type FROM system.columns WHERE database = {db} AND table = 'cube_1m' AND name = 'peers' FORMAT TabSeparated"
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
        assert!(s.len() >= 16, "{}", s.len());
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
}
