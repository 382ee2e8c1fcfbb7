//! `peerscope ship`: the feedback logs, as the cubes' facts, into ClickHouse.
//!
//! A shipper reads a recording in `recv` order with the report's own reader, derives
//! each record's facts with [`crate::engine::cube`], and inserts them in batches. Each
//! batch is one INSERT of at most one block, and its last row is the shipper's cursor:
//! rows and cursor are stored together or not at all. On start the shipper asks
//! ClickHouse for its last cursor, reads the minutes up to it again without sending
//! them (its online and session state must be what it was), and goes on from there: a
//! `kill -9` or a ClickHouse that goes away loses nothing and counts nothing twice.

pub mod rows;

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::UsageError;
use crate::clickhouse::schema::{self, Distinct};
use crate::clickhouse::{ClickHouse, ClickHouseError, Credentials, Target, quote};
use crate::config::Settings;
use crate::engine::aggregate::online::Expiry;
use crate::engine::calendar::Calendar;
use crate::engine::cube::{Cell, CubeTracker, Fact};
use crate::engine::geography::areas::Areas;
use crate::engine::observe::catalog::Catalog;
use crate::recording::pipeline::{progress_bar, read_in_order};
use crate::recording::scan::{Recording, no_recording_in};
use crate::source::health::Backoff;
use rows::{RAW_COLUMNS, Rows};

/// At most this many rows per INSERT: ClickHouse writes an INSERT of up to
/// `max_insert_block_size` (1 048 576) rows as one block, atomically.
const MAX_BATCH_ROWS: usize = 1_000_000;

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
    /// With --init: how the cubes count distinct peers and addresses
    #[arg(long, value_enum, default_value = "combined", requires = "init")]
    pub distinct: Distinct,
    /// Recording directory to ship (one or more feedback servers' log trees)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Ship everything the recording holds, then exit (a finished recording)
    #[arg(long)]
    pub once: bool,
    /// The shipper's name in ClickHouse, under which its cursor is kept (default: the
    /// recording's absolute path)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Rows per INSERT, 1 000 to 1 000 000
    #[arg(long, value_name = "N", default_value = "200000",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1_000..=MAX_BATCH_ROWS as u64))]
    pub batch_rows: usize,
    /// File holding the ClickHouse password (owner-only permissions)
    #[arg(long, value_name = "FILE")]
    pub clickhouse_password_file: Option<PathBuf>,
    /// Worker threads for reading minute files (default: all cores)
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub threads: Option<usize>,
}

pub fn run(args: &ShipArgs, settings: &Settings) -> anyhow::Result<()> {
    let target = Target::new(&args.clickhouse, &args.database)?;
    let credentials = Credentials::from_env(args.clickhouse_password_file.as_deref())?;
    if args.dir.is_none() && !args.init {
        return Err(
            UsageError("ship needs --dir DIR (the recording to ship) or --init".into()).into(),
        );
    }
    if args.dir.is_some() && !args.once {
        return Err(UsageError(
            "ship --dir without --once (following a growing recording) is not built yet; \
             ship a finished recording with --once"
                .into(),
        )
        .into());
    }
    let recording = match &args.dir {
        None => None,
        Some(dir) => {
            let recording = Recording::scan(dir)
                .with_context(|| format!("cannot read recording {}", dir.display()))?;
            for p in &recording.problems {
                eprintln!("warning: cannot read {}: {}", p.path.display(), p.message);
            }
            if recording.feedback.is_empty() {
                return Err(UsageError(no_recording_in(dir)).into());
            }
            Some((dir, recording))
        }
    };
    let ch = ClickHouse::connect(target, credentials)?;
    if args.init {
        schema::init(&ch, args.distinct)?;
        eprintln!(
            "schema ready in {} on ClickHouse {} ({} distinct counts)",
            ch.target.database,
            ch.version,
            args.distinct.function()
        );
    }
    let Some((dir, recording)) = recording else {
        return Ok(());
    };
    schema::check(&ch)?;
    let shipper = match &args.name {
        Some(n) => n.clone(),
        None => std::path::absolute(dir)
            .unwrap_or_else(|_| dir.clone())
            .display()
            .to_string(),
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get));
    ship_recording(
        &ch,
        &recording,
        &shipper,
        settings,
        args.batch_rows,
        threads,
    )
}

/// Where a shipper of a finished recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Nothing shipped yet.
    Start,
    /// Every minute up to and including this one (its start, ms) is shipped.
    Through(i64),
    /// Everything, the intervals still open at the end included.
    Done,
}

impl Position {
    fn parse(cursor: &str) -> Option<Position> {
        if cursor == "done" {
            return Some(Position::Done);
        }
        cursor
            .strip_prefix("minute:")
            .and_then(|m| m.parse().ok())
            .map(Position::Through)
    }

    fn cursor(self) -> String {
        match self {
            Position::Start => "start".into(),
            Position::Through(ms) => format!("minute:{ms}"),
            Position::Done => "done".into(),
        }
    }
}

/// The shipper's last batch and its cursor, if it shipped any.
fn last_batch(ch: &ClickHouse, shipper: &str) -> Result<Option<(u64, String)>, ClickHouseError> {
    let answer = ch.query(&format!(
        "SELECT batch, cursor FROM {}.cursors WHERE shipper = {} ORDER BY batch DESC LIMIT 1 FORMAT TabSeparated",
        ch.target.database,
        quote(shipper)
    ))?;
    Ok(answer.lines().next().and_then(|l| {
        let (batch, cursor) = l.split_once('\t')?;
        Some((batch.parse().ok()?, crate::clickhouse::unescape_tsv(cursor)))
    }))
}

fn ship_recording(
    ch: &ClickHouse,
    recording: &Recording,
    shipper: &str,
    settings: &Settings,
    batch_rows: usize,
    threads: usize,
) -> anyhow::Result<()> {
    wait_settled(ch, shipper)?;
    let (mut batch, position) = match last_batch(ch, shipper)? {
        None => (0, Position::Start),
        Some((batch, cursor)) => (
            batch,
            Position::parse(&cursor).with_context(|| {
                format!("shipper {shipper:?} has cursor {cursor:?} in ClickHouse, which is not a recording's")
            })?,
        ),
    };
    if position == Position::Done {
        eprintln!(
            "already shipped: {shipper} (batch {batch}) is all in {}",
            ch.target.database
        );
        return Ok(());
    }
    if let Position::Through(ms) = position {
        let calendar = Calendar::new(settings.timezone);
        eprintln!(
            "resuming after batch {batch}: minutes through {} are in {} (read again, not sent)",
            calendar.minute_label(ms),
            ch.target.database
        );
    }
    let geography = crate::geodata::load_geography(settings).ok();
    let geo = crate::geodata::load_ip_geo(settings, geography.clone())?;
    let mut catalog = Catalog::new(geo);
    let mut areas = Areas::new(geography);
    let calendar = Calendar::new(settings.timezone);
    let mut tracker = CubeTracker::new(settings.qoe, calendar.clone(), Expiry::AtClose);
    let mut facts: Vec<Fact> = Vec::new();
    let mut sent = Sent::default();
    let mut failure: Option<ClickHouseError> = None;
    batch += 1;
    let mut rows = Rows::new(shipper, batch);
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = progress.then(|| progress_bar(recording.feedback.len(), "shipping"));
    read_in_order(&recording.feedback, threads, |minute| {
        let resent = matches!(position, Position::Through(ms) if minute.start_ms <= ms);
        for record in minute.records() {
            let Some(obs) = catalog.observe(&record) else {
                continue;
            };
            let district = catalog.geo.district_name(obs.location.district);
            let cell = Cell {
                isp: obs.location.isp,
                channel: obs.channel,
                district: obs.location.district,
                area: areas.area_of(&obs.location, district),
            };
            tracker.record(&obs, cell, &mut facts);
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        if resent {
            facts.clear();
            return true;
        }
        let day = calendar.day_of(minute.start_ms);
        for fact in facts.drain(..) {
            rows.fact(&fact, &catalog, &areas);
        }
        for (reason, lines) in &minute.skipped.by_reason {
            rows.skipped(day, reason.name(), *lines);
            sent.skipped += lines;
        }
        if rows.count >= batch_rows {
            let full = std::mem::replace(&mut rows, Rows::new(shipper, batch + 1));
            match send(ch, full, day, Position::Through(minute.start_ms), &mut sent) {
                Ok(()) => batch += 1,
                Err(e) => {
                    failure = Some(e);
                    return false;
                }
            }
        }
        true
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    tracker.close(&mut facts);
    for fact in facts.drain(..) {
        rows.fact(&fact, &catalog, &areas);
    }
    let last_day = recording
        .feedback
        .last()
        .map_or(0, |g| calendar.day_of(g.start_ms));
    send(ch, rows, last_day, Position::Done, &mut sent)?;
    eprintln!(
        "shipped {} rows in {} batches to {} ({} duplicates dropped, {} lines skipped)",
        sent.rows,
        sent.batches,
        ch.target.database,
        catalog.duplicates(),
        sent.skipped
    );
    Ok(())
}

#[derive(Debug, Default)]
struct Sent {
    rows: u64,
    batches: u64,
    skipped: u64,
}

/// Closes the batch with its cursor and inserts it, retrying while ClickHouse is away.
fn send(
    ch: &ClickHouse,
    mut rows: Rows<'_>,
    day: crate::engine::calendar::Day,
    position: Position,
    sent: &mut Sent,
) -> Result<(), ClickHouseError> {
    rows.cursor(day, &position.cursor());
    let count = rows.count as u64;
    let (shipper, batch) = (rows.shipper().to_owned(), rows.batch());
    insert_once(ch, &shipper, batch, &rows.into_bytes())?;
    sent.rows += count;
    sent.batches += 1;
    Ok(())
}

/// Inserts one batch exactly once. A failure whose outcome is unknown (the connection
/// broke) is settled by asking: once no query of that id is running, the batch is in
/// ClickHouse if and only if its cursor is.
fn insert_once(
    ch: &ClickHouse,
    shipper: &str,
    batch: u64,
    bytes: &[u8],
) -> Result<(), ClickHouseError> {
    let query_id = format!("{}{batch}", query_id_prefix(shipper));
    let table = format!("raw ({})", RAW_COLUMNS.join(", "));
    let mut backoff = Backoff::default();
    let mut said = false;
    loop {
        match ch.insert_with_id(&table, "RowBinary", bytes.to_vec(), &query_id) {
            Ok(()) => break,
            Err(e) if e.is_transient() => {
                if !said {
                    eprintln!("warning: {e}; retrying batch {batch}");
                    said = true;
                }
                std::thread::sleep(backoff.next_wait());
                if landed(ch, shipper, batch) {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
    }
    if said {
        eprintln!("batch {batch} is in ClickHouse; going on");
    }
    Ok(())
}

/// Whether batch `batch` is stored: false while ClickHouse cannot say.
fn landed(ch: &ClickHouse, shipper: &str, batch: u64) -> bool {
    settled(ch, shipper).unwrap_or(false)
        && matches!(last_batch(ch, shipper), Ok(Some((b, _))) if b >= batch)
}

/// Whether no INSERT of this shipper is running in ClickHouse (one a dead or cut-off
/// shipper started may still be finishing): only then does its last cursor say it all.
fn settled(ch: &ClickHouse, shipper: &str) -> Result<bool, ClickHouseError> {
    let running = ch.query(&format!(
        "SELECT count() FROM system.processes WHERE startsWith(query_id, {}) FORMAT TabSeparated",
        quote(&query_id_prefix(shipper))
    ))?;
    Ok(running.trim() == "0")
}

/// Waits until no INSERT of this shipper is running (at start: a shipper killed a
/// moment ago may have left one).
fn wait_settled(ch: &ClickHouse, shipper: &str) -> Result<(), ClickHouseError> {
    let mut backoff = Backoff::default();
    while !settled(ch, shipper)? {
        std::thread::sleep(backoff.next_wait());
    }
    Ok(())
}

/// The ids of a shipper's INSERTs begin with this; a batch's id ends with its number.
/// ClickHouse runs one query of an id at a time, so the same batch sent twice at once
/// is refused rather than stored twice.
fn query_id_prefix(shipper: &str) -> String {
    // FNV-1a: the same name gives the same id in every build.
    let hash = shipper.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("peerscope-ship-{hash:016x}-")
}
