//! Committing a batch: one INSERT of rows that end with the shipper's cursor, sent
//! exactly once whatever breaks, and the questions that settle it.
//!
//! `raw` takes a batch whole or not at all, and its cursor row says which. The tables
//! ClickHouse's views fill after it may each lack a batch when the server stopped in the
//! middle of the INSERT: [`complete`] fills in the last batch wherever its marker is
//! missing, from `raw` with the view's own SELECT (deploy/clickhouse/schema.sql).

use super::rows::{RAW_COLUMNS, Rows};
use crate::clickhouse::schema::{self, MARKED};
use crate::clickhouse::{ClickHouse, ClickHouseError, quote};
use crate::engine::calendar::Day;
use crate::source::health::Backoff;

/// What a shipper has sent so far.
#[derive(Debug, Default)]
pub struct Sent {
    pub rows: u64,
    pub batches: u64,
    pub skipped: u64,
}

/// Where a starting shipper stands: its last batch and cursor, if it shipped any, once
/// no INSERT of its own is running and that batch is complete in every table.
pub fn resume(ch: &ClickHouse, shipper: &str) -> Result<Option<(u64, String)>, ClickHouseError> {
    wait_settled(ch, shipper)?;
    let last = last_batch(ch, shipper)?;
    if let Some((batch, _)) = &last {
        complete(ch, shipper, *batch)?;
    }
    Ok(last)
}

/// The shipper's last batch and its cursor, if it shipped any.
fn last_batch(ch: &ClickHouse, shipper: &str) -> Result<Option<(u64, String)>, ClickHouseError> {
    let answer = ch.query(&format!(
        "SELECT batch, cursor FROM {}.raw WHERE kind = 2 AND shipper = {} ORDER BY batch DESC LIMIT 1 FORMAT TabSeparated",
        ch.target.database,
        quote(shipper)
    ))?;
    Ok(answer.lines().next().and_then(|l| {
        let (batch, cursor) = l.split_once('\t')?;
        Some((batch.parse().ok()?, crate::clickhouse::unescape_tsv(cursor)))
    }))
}

/// A closed batch on its way to ClickHouse.
struct Closed {
    batch: u64,
    bytes: Vec<u8>,
    rows: u64,
    skipped: u64,
}

/// Sends batches in order on a thread of its own, so that the shipper reads and derives
/// the next batch while ClickHouse stores this one. One batch waits at most: a shipper
/// never runs further ahead of ClickHouse than that.
pub struct Committer {
    tx: Option<std::sync::mpsc::SyncSender<Closed>>,
    thread: Option<std::thread::JoinHandle<Result<Sent, ClickHouseError>>>,
}

impl Committer {
    pub fn start(ch: &ClickHouse, shipper: &str) -> Committer {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Closed>(1);
        let (ch, shipper) = (ch.clone(), shipper.to_owned());
        let thread = std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || {
                let mut sent = Sent::default();
                for closed in rx {
                    insert_once(&ch, &shipper, closed.batch, &closed.bytes)?;
                    sent.rows += closed.rows;
                    sent.batches += 1;
                    sent.skipped += closed.skipped;
                }
                Ok(sent)
            })
            .expect("spawn the committer thread");
        Committer {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Closes the batch with its cursor and queues it; the committer's error, if it has
    /// stopped on one.
    pub fn commit(
        &mut self,
        mut rows: Rows<'_>,
        day: Day,
        cursor: &str,
    ) -> Result<(), ClickHouseError> {
        rows.cursor(day, cursor);
        let closed = Closed {
            batch: rows.batch(),
            rows: rows.count as u64,
            skipped: rows.skipped,
            bytes: rows.into_bytes(),
        };
        let queued = self.tx.as_ref().is_some_and(|tx| tx.send(closed).is_ok());
        if queued {
            Ok(())
        } else {
            self.finish().map(|_| ())
        }
    }

    /// Waits until every queued batch is stored; what was sent.
    pub fn finish(&mut self) -> Result<Sent, ClickHouseError> {
        self.tx = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => panic!("the committer thread panicked"),
            None => Err(ClickHouseError::Refused {
                url: String::new(),
                why: "the committer has already stopped".into(),
            }),
        }
    }
}

/// Inserts one batch exactly once. A failure whose outcome is unknown (the connection
/// broke, ClickHouse went away) is settled by asking before anything is sent again:
/// once no query of this shipper is running, the batch is in ClickHouse if and only if
/// its cursor is. While ClickHouse cannot answer, the shipper waits and asks again.
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
                if landed(ch, shipper, batch, &mut backoff) {
                    complete(ch, shipper, batch)?;
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

/// Whether batch `batch` is stored, asked until ClickHouse can say.
fn landed(ch: &ClickHouse, shipper: &str, batch: u64, backoff: &mut Backoff) -> bool {
    loop {
        std::thread::sleep(backoff.next_wait());
        let answer = settled(ch, shipper).and_then(|settled| {
            Ok(settled.then_some(matches!(last_batch(ch, shipper)?, Some((b, _)) if b >= batch)))
        });
        if let Ok(Some(stored)) = answer {
            return stored;
        }
    }
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

/// Makes every table the views fill hold batch `batch` of `shipper` once: a summing table
/// without the batch's marker gets the view's SELECT over that batch's raw rows (with
/// its marker, in one block); the others get it again, which changes nothing (min, max
/// and distinct states). Call it for the last batch `raw` holds, whenever an INSERT of
/// it may have stopped half-way.
fn complete(ch: &ClickHouse, shipper: &str, batch: u64) -> Result<(), ClickHouseError> {
    let db = &ch.target.database;
    let distinct = schema::distinct_of(ch)?;
    for filled in schema::filled_tables(db, distinct, shipper, batch) {
        if let Some((_, column)) = MARKED.iter().find(|(t, _)| *t == filled.table) {
            let holds = ch.query(&format!(
                "SELECT maxMerge(shipped) FROM {db}.{} WHERE day = toDate(0) AND {column} = concat('\\0', {}) FORMAT TabSeparated",
                filled.table,
                quote(shipper)
            ))?;
            if holds.trim().parse::<u64>().is_ok_and(|b| b >= batch) {
                continue;
            }
            eprintln!("filling in batch {batch} in {db}.{} from raw", filled.table);
        }
        ch.execute(&format!(
            "INSERT INTO {db}.{} {}",
            filled.table, filled.select
        ))?;
    }
    Ok(())
}
