//! `peerscope ship`: the feedback logs, as the cubes' facts, into ClickHouse.
//!
//! A shipper reads records (a finished recording, or log directories and servers it
//! follows), derives each record's facts with [`crate::engine::cube`], and inserts them
//! in batches. Each batch is one INSERT of at most one block, and its rows of each day
//! (ClickHouse's partition) end with the shipper's cursor: a day's rows and its cursor
//! are stored together or not at all, and a batch stored in part is completed. On start the
//! shipper asks ClickHouse for its last cursor, reads what lies before it again without
//! sending it (its online and session state must be what it was), and goes on from
//! there: a `kill -9` or a ClickHouse that goes away loses nothing and counts nothing
//! twice.

mod commit;
mod live;
mod once;
mod repair;
mod retention;
pub mod rows;

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::UsageError;
use crate::clickhouse::schema::{self, Distinct};
use crate::clickhouse::{ClickHouse, Credentials, Target};
use crate::config::Settings;
use crate::recording::scan::{Recording, no_recording_in};
use crate::source::follow::Origin;

/// The most rows `--batch-rows` may ask for in one INSERT (each is sent as one block,
/// whatever its size: a block is memory on both ends).
const MAX_BATCH_ROWS: usize = 1_000_000;

/// How often a follower drops the days `--keep-days` no longer keeps.
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Debug, Clone, clap::Args)]
pub struct ShipArgs {
    /// ClickHouse's HTTP interface, http://HOST:PORT (user and password:
    /// PEERSCOPE_CLICKHOUSE_USER, PEERSCOPE_CLICKHOUSE_PASSWORD or --clickhouse-password-file)
    #[arg(long, value_name = "URL")]
    pub clickhouse: String,
    /// Database holding the raw table and the cubes
    #[arg(long, value_name = "NAME", default_value = "peerscope")]
    pub database: String,
    /// Create the database, tables and views first (idempotent)
    #[arg(long)]
    pub init: bool,
    /// With --init: also make database <DATABASE>_all, Distributed tables over the
    /// same database on every shard of this cluster (from the server's remote_servers)
    #[arg(long, value_name = "CLUSTER", requires = "init")]
    pub distributed: Option<String>,
    /// With --init: how the cubes count distinct peers and addresses
    #[arg(long, value_enum, default_value = "combined", requires = "init")]
    pub distinct: Distinct,
    /// With --once: the recording to ship (one or more feedback servers' log trees).
    /// Without: a feedback server's log directory to follow (repeatable)
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Feedback server to follow through /v1/tail (repeatable)
    #[arg(long = "server", value_name = "URL")]
    pub servers: Vec<String>,
    /// Ship everything the recording holds, then exit (a finished recording)
    #[arg(long)]
    pub once: bool,
    /// File holding the servers' read token (owner-only permissions); or set
    /// PEERSCOPE_TOKEN
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The shipper's name in ClickHouse, under which its cursor is kept (default: the
    /// recording's absolute path, or `live:` and the sources followed)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Rows per INSERT, 1 000 to 1 000 000 (with --once, a batch ends with the minute
    /// that reaches it)
    #[arg(long, value_name = "N", default_value = "200000",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1_000..=MAX_BATCH_ROWS as u64))]
    pub batch_rows: usize,
    /// File holding the ClickHouse password (owner-only permissions)
    #[arg(long, value_name = "FILE")]
    pub clickhouse_password_file: Option<PathBuf>,
    /// Keep the raw rows and 10 s buckets of the event's last N days only, dropping
    /// older days whole (the minute and hour cubes keep everything); a follower checks
    /// every 10 minutes
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub keep_days: Option<u32>,
    /// Worker threads for reading minute files (default: all cores)
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub threads: Option<usize>,
}

pub fn run(args: &ShipArgs, settings: &Settings) -> anyhow::Result<()> {
    let target = Target::new(&args.clickhouse, &args.database)?;
    if let Some(cluster) = &args.distributed {
        crate::clickhouse::check_name(cluster, "cluster")?;
    }
    let credentials = Credentials::from_env(args.clickhouse_password_file.as_deref())?;
    let work = plan(args)?;
    let recording = match &work {
        Work::Recording(dir) => {
            let recording = Recording::scan(dir)
                .with_context(|| format!("cannot read recording {}", dir.display()))?;
            for p in &recording.problems {
                eprintln!("warning: cannot read {}: {}", p.path.display(), p.message);
            }
            if recording.feedback.is_empty() {
                return Err(UsageError(no_recording_in(dir)).into());
            }
            Some(recording)
        }
        Work::Follow(_) | Work::InitOnly => None,
    };
    let token = match &work {
        Work::Follow(_) => crate::server::read_token(args.token_file.as_deref())?
            .map(|t| String::from_utf8_lossy(&t).into_owned()),
        _ => None,
    };
    let ch = ClickHouse::connect(target, credentials)?;
    if args.init {
        schema::init(&ch, args.distinct, args.distributed.as_deref())?;
        eprintln!(
            "schema ready in {} on ClickHouse {} ({} distinct counts)",
            ch.target.database,
            ch.version,
            args.distinct.function()
        );
        if let Some(cluster) = &args.distributed {
            eprintln!(
                "{}_all reads {} on every shard of {cluster}",
                ch.target.database, ch.target.database
            );
        }
    }
    if matches!(work, Work::InitOnly) {
        return Ok(());
    }
    schema::check_for_shipping(&ch)?;
    match (work, recording) {
        (Work::Recording(dir), Some(recording)) => {
            let shipper = args.name.clone().unwrap_or_else(|| {
                std::path::absolute(&dir)
                    .unwrap_or_else(|_| dir.clone())
                    .display()
                    .to_string()
            });
            let threads = args.threads.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
            });
            once::ship_recording(
                &ch,
                &recording,
                &shipper,
                settings,
                args.batch_rows,
                threads,
            )?;
            if let Some(keep) = args.keep_days {
                retention::say(retention::drop_old_days(&ch, keep)?);
            }
            Ok(())
        }
        (Work::Follow(mut origins), _) => {
            for o in &mut origins {
                if let Origin::Server { token: t, .. } = o {
                    t.clone_from(&token);
                }
            }
            let shipper = args.name.clone().unwrap_or_else(|| {
                let names: Vec<String> = origins.iter().map(Origin::name).collect();
                format!("live:{}", names.join(","))
            });
            if let Some(keep) = args.keep_days {
                retention::keep_dropping(ch.clone(), keep, RETENTION_EVERY);
            }
            live::follow(&ch, origins, &shipper, settings, args.batch_rows)
        }
        _ => Ok(()),
    }
}

/// What the flags ask for.
enum Work {
    InitOnly,
    /// `--dir DIR --once`: a finished recording.
    Recording(PathBuf),
    /// Log directories and servers, followed for ever.
    Follow(Vec<Origin>),
}

fn plan(args: &ShipArgs) -> Result<Work, UsageError> {
    let origins: Vec<Origin> = args
        .dirs
        .iter()
        .map(|d| Origin::Dir(d.clone()))
        .chain(args.servers.iter().map(|u| Origin::Server {
            url: u.trim_end_matches('/').to_owned(),
            token: None,
        }))
        .collect();
    if args.once {
        return match (&args.dirs[..], args.servers.is_empty()) {
            ([dir], true) => Ok(Work::Recording(dir.clone())),
            _ => Err(UsageError(
                "--once ships one finished recording: give exactly one --dir and no --server"
                    .into(),
            )),
        };
    }
    if origins.is_empty() {
        return if args.init {
            Ok(Work::InitOnly)
        } else {
            Err(UsageError(
                "ship needs something to ship: --dir DIR --once (a recording), --dir DIR or --server URL (followed), or --init alone".into(),
            ))
        };
    }
    Ok(Work::Follow(origins))
}
