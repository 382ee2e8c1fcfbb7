//! ClickHouse over its HTTP interface: where it is, who we are, one query or insert at a
//! time, and its errors as one line that says what to do. `ship` writes through it and
//! the cube readers query through it; the SQL itself lives in `deploy/clickhouse/`.

pub mod read;
pub mod row_binary;
pub mod schema;

use std::path::Path;
use std::time::Duration;

use crate::cli::UsageError;

/// The environment variables holding the ClickHouse user and password.
pub const USER_ENV: &str = "PEERSCOPE_CLICKHOUSE_USER";
pub const PASSWORD_ENV: &str = "PEERSCOPE_CLICKHOUSE_PASSWORD";

/// Settings for writes: aggregation in one level (two-level aggregation, past 100 000
/// keys, hands a view's result to its table in up to 256 blocks, each stored on its own),
/// so that each table takes its share of an INSERT as one block.
const ONE_BLOCK: [(&str, &str); 2] = [
    ("group_by_two_level_threshold", "0"),
    ("group_by_two_level_threshold_bytes", "0"),
];

/// The oldest release whose SQL the schema and readers are written for (Debian 12's).
const OLDEST: (u32, u32) = (18, 16);

/// A failure talking to ClickHouse, in one line.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    /// No answer: refused, timed out, reset. Worth retrying.
    #[error("ClickHouse at {url} is unreachable: {why}")]
    Unreachable { url: String, why: String },
    /// An answer that is an error: bad credentials, a missing table, bad SQL.
    #[error("ClickHouse at {url}: {why}")]
    Refused { url: String, why: String },
}

impl ClickHouseError {
    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            ClickHouseError::Unreachable { .. } => true,
            ClickHouseError::Refused { why, .. } => {
                // Timeouts, a socket cut off, a query of the same id still running, a
                // query cancelled by a server shutting down.
                [
                    "(code 159)",
                    "(code 209)",
                    "(code 210)",
                    "(code 216)",
                    "(code 394)",
                ]
                .iter()
                .any(|code| why.contains(code))
            }
        }
    }
}

/// Where ClickHouse is and which database: from `http://HOST:PORT` plus a database name,
/// or from `clickhouse://HOST:PORT/DB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http://HOST:PORT`, no trailing slash.
    pub url: String,
    pub database: String,
}

impl Target {
    pub fn new(url: &str, database: &str) -> Result<Target, UsageError> {
        let url = url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(UsageError(format!(
                "--clickhouse {url:?}: expected http://HOST:PORT (ClickHouse's HTTP interface)"
            )));
        }
        check_name(database, "database")?;
        Ok(Target {
            url: url.to_owned(),
            database: database.to_owned(),
        })
    }

    /// `clickhouse://HOST:PORT/DB` (HTTP) or `clickhouses://HOST:PORT/DB` (HTTPS).
    pub fn parse_uri(uri: &str) -> Result<Target, UsageError> {
        let bad = || {
            UsageError(format!(
                "{uri:?} is not a cube address: expected clickhouse://HOST:PORT/DATABASE"
            ))
        };
        let (scheme, rest) = if let Some(rest) = uri.strip_prefix("clickhouse://") {
            ("http", rest)
        } else if let Some(rest) = uri.strip_prefix("clickhouses://") {
            ("https", rest)
        } else {
            return Err(bad());
        };
        let (host, database) = rest.split_once('/').ok_or_else(bad)?;
        if host.is_empty() || host.contains('@') {
            return Err(bad());
        }
        Target::new(
            &format!("{scheme}://{host}"),
            database.trim_end_matches('/'),
        )
    }
}

/// A database or cluster name goes into SQL as an identifier: letters, digits and `_`
/// only. `what` names it in the error.
pub fn check_name(name: &str, what: &str) -> Result<(), UsageError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(UsageError(format!(
            "{what} name {name:?}: expected letters, digits and _ (not starting with a digit)"
        )))
    }
}

/// Who we are to ClickHouse: `PEERSCOPE_CLICKHOUSE_USER` (default `default`) and a
/// password from `PEERSCOPE_CLICKHOUSE_PASSWORD` or a file only its owner can read.
#[derive(Clone, Default)]
pub struct Credentials {
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Credentials {
    pub fn from_env(password_file: Option<&Path>) -> Result<Credentials, UsageError> {
        let user = std::env::var(USER_ENV).ok().filter(|u| !u.is_empty());
        let env = std::env::var(PASSWORD_ENV).ok();
        let password = match (env, password_file) {
            (Some(_), Some(path)) => {
                return Err(UsageError(format!(
                    "both {PASSWORD_ENV} and --clickhouse-password-file {} give a password; give one",
                    path.display()
                )));
            }
            (Some(p), None) => Some(p),
            (None, Some(path)) => Some(crate::cli::secret_from_file(path, "password file")?),
            (None, None) => None,
        };
        Ok(Credentials { user, password })
    }
}

/// One ClickHouse server and database, checked to answer and to be a release we speak.
#[derive(Debug, Clone)]
pub struct ClickHouse {
    http: reqwest::blocking::Client,
    pub target: Target,
    credentials: Credentials,
    pub version: String,
}

impl ClickHouse {
    /// Connects and checks the release: an unreachable server, wrong credentials or a
    /// release older than 18.16 are errors here, before any work.
    pub fn connect(
        target: Target,
        credentials: Credentials,
    ) -> Result<ClickHouse, ClickHouseError> {
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(300))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClickHouseError::Unreachable {
                url: target.url.clone(),
                why: format!("cannot build an HTTP client: {e}"),
            })?;
        let mut ch = ClickHouse {
            http,
            target,
            credentials,
            version: String::new(),
        };
        let version = ch.query("SELECT version()")?;
        let version = version.trim().to_owned();
        if !version_at_least(&version, OLDEST) {
            return Err(ch.refused(format!(
                "release {version:?} is older than {}.{}, the oldest peerscope's SQL is written for",
                OLDEST.0, OLDEST.1
            )));
        }
        ch.version = version;
        Ok(ch)
    }

    /// Runs one statement; the answer's body (TabSeparated unless the SQL says).
    pub fn query(&self, sql: &str) -> Result<String, ClickHouseError> {
        let body = self.send(&[], sql.as_bytes().to_vec())?;
        String::from_utf8(body).map_err(|_| self.refused("an answer that is not UTF-8".into()))
    }

    /// Inserts `rows`, encoded in `format`, into `table` of the database (a name, with
    /// its column list if need be) as one INSERT whose query id is `query_id`.
    pub fn insert_with_id(
        &self,
        table: &str,
        format: &str,
        rows: Vec<u8>,
        query_id: &str,
    ) -> Result<(), ClickHouseError> {
        let sql = format!(
            "INSERT INTO {}.{table} FORMAT {format}",
            self.target.database
        );
        // However many rows: one block, so that the INSERT is stored whole or not at all
        // (a finished recording's batch ends with a minute, which may hold more than the
        // default block of 1 048 576 rows).
        let mut params = vec![
            ("query", sql.as_str()),
            ("query_id", query_id),
            ("max_insert_block_size", "4294967295"),
        ];
        params.extend(ONE_BLOCK);
        self.send(&params, rows).map(|_| ())
    }

    /// Runs a statement that writes (`INSERT … SELECT`) with the settings that keep each
    /// table's share of it one block.
    pub fn execute(&self, sql: &str) -> Result<(), ClickHouseError> {
        self.send(&ONE_BLOCK, sql.as_bytes().to_vec()).map(|_| ())
    }

    fn send(&self, params: &[(&str, &str)], body: Vec<u8>) -> Result<Vec<u8>, ClickHouseError> {
        let mut req = self
            .http
            .post(format!("{}/", self.target.url))
            .query(params)
            .body(body);
        if self.credentials.user.is_some() || self.credentials.password.is_some() {
            req = req.basic_auth(
                self.credentials.user.as_deref().unwrap_or("default"),
                self.credentials.password.as_deref(),
            );
        }
        let resp = req.send().map_err(|e| ClickHouseError::Unreachable {
            url: self.target.url.clone(),
            why: crate::source::follow::short_error(&e),
        })?;
        let status = resp.status();
        let body = resp.bytes().map_err(|e| ClickHouseError::Unreachable {
            url: self.target.url.clone(),
            why: format!(
                "the answer broke off: {}",
                crate::source::follow::short_error(&e)
            ),
        })?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        Err(self.refused(error_line(status.as_u16(), &body)))
    }

    pub(crate) fn refused(&self, why: String) -> ClickHouseError {
        ClickHouseError::Refused {
            url: self.target.url.clone(),
            why,
        }
    }
}

/// ClickHouse's error answer in one line, with what to do for the usual ones.
fn error_line(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    // "Code: 60, e.displayText() = DB::Exception: Table db.raw doesn't exist., e.what() = ..."
    let code: Option<u32> = text
        .strip_prefix("Code: ")
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok());
    let message = text
        .split_once("DB::Exception: ")
        .map_or(text, |(_, m)| m)
        .split(", e.what()")
        .next()
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('.');
    let message: String = message.chars().take(200).collect();
    let hint = match code {
        Some(60 | 81) => ": run `peerscope ship --init` to create the schema",
        Some(192 | 193 | 194 | 516) => {
            ": check PEERSCOPE_CLICKHOUSE_USER and the password (PEERSCOPE_CLICKHOUSE_PASSWORD or --clickhouse-password-file)"
        }
        _ => "",
    };
    match code {
        Some(code) => format!("{message} (code {code}){hint}"),
        None if message.is_empty() => format!("HTTP {status}: not a ClickHouse answer"),
        None => format!("HTTP {status}: {message}"),
    }
}

/// Whether `version` (`18.16.1`, `24.8.4.13`) is at least `oldest`.
fn version_at_least(version: &str, oldest: (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= oldest,
        _ => false,
    }
}

/// A string as a SQL literal: quoted, with `\` and `'` escaped.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Reads TabSeparated text back: `\t`, `\n`, `\\` and the other escapes undone.
pub fn unescape_tsv(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cube_addresses_name_host_and_database() {
        let t = Target::parse_uri("clickhouse://127.0.0.1:8123/games").expect("an address");
        assert_eq!(t.url, "http://127.0.0.1:8123");
        assert_eq!(t.database, "games");
        assert!(Target::parse_uri("clickhouse://127.0.0.1:8123").is_err());
        assert!(Target::parse_uri("http://127.0.0.1:8123/db").is_err());
        assert!(Target::parse_uri("clickhouse://u:p@h:1/db").is_err());
        assert!(Target::new("http://h:1", "db; DROP TABLE x").is_err());
        assert!(Target::new("127.0.0.1:8123", "db").is_err());
    }

    #[test]
    fn errors_read_as_one_line_with_what_to_do() {
        let body = b"Code: 60, e.displayText() = DB::Exception: Table t.raw doesn't exist., e.what() = DB::Exception\n";
        assert_eq!(
            error_line(404, body),
            "Table t.raw doesn't exist (code 60): run `peerscope ship --init` to create the schema"
        );
        let newer = b"Code: 516. DB::Exception: default: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED) (version 24.8.4.13 (official build))\n";
        assert!(error_line(401, newer).starts_with("default: Authentication failed"));
        assert!(error_line(401, newer).contains("PEERSCOPE_CLICKHOUSE_PASSWORD"));
        assert_eq!(error_line(502, b""), "HTTP 502: not a ClickHouse answer");
    }

    #[test]
    fn releases_from_18_16_on_are_spoken() {
        assert!(version_at_least("18.16.1", OLDEST));
        assert!(version_at_least("24.8.4.13", OLDEST));
        assert!(!version_at_least("18.14.19", OLDEST));
        assert!(!version_at_least("peerscope", OLDEST));
    }

    #[test]
    fn literals_and_tsv_fields_round_trip() {
        assert_eq!(quote("O'Brien\\x"), "'O\\'Brien\\\\x'");
        assert_eq!(unescape_tsv("Sha\\tTin\\\\"), "Sha\tTin\\");
    }
}
