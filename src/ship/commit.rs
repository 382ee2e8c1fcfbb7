//! Committing a batch: one INSERT of rows whose every day's part ends with the
//! shipper's cursor, stored exactly once whatever breaks, and the questions that settle it.
//!
//! `raw` takes each day's part of a batch whole or not at all (one partition, one part),
//! and the part's cursor row says which: a batch whose INSERT stopped half-way is made
//! whole by sending the days it lacks. The tables ClickHouse's views fill after `raw` may
//! each lack a day's part when the server stopped in the middle of the INSERT:
//! [`complete`] fills in each missing one, found by its marker, from `raw` with the
//! view's own SELECT (deploy/clickhouse/schema.sql).

use std::collections::BTreeSet;

use super::rows::{RAW_COLUMNS, Rows};
use crate::clickhouse::schema::{self, MARKED, MARKED_FOR_GOOD};
use crate::clickhouse::{ClickHouse, ClickHouseError, quote};
use crate::engine::calendar::Day;
use crate::source::health::Backoff;

/// The cursor of a shipper that has shipped nothing.
pub const START: &str = "start";

/// What a shipper has sent so far.
#[derive(Debug, Default)]
pub struct Sent {
    pub rows: u64,
    pub batches: u64,
    pub skipped: u64,
}

/// A shipper's last batch, as `raw` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Last {
    pub batch: u64,
    /// Where the shipper's sources stood after the batch, and before it.
    pub cursor: String,
    pub before: String,
    /// The days whose parts `raw` holds, and how many the batch has.
    pub landed: BTreeSet<Day>,
    pub parts: usize,
}

impl Last {
    /// Whether `raw` holds every day's part. (A schema made before parts had a count of
    /// its own wrote 0: its batches were one part.)
    pub fn whole(&self) -> bool {
        self.landed.len() >= self.parts
    }
}

/// Where a starting shipper stands: its last batch, if it shipped any, once no INSERT
/// of its own is running. A whole batch is also made complete in every table; one that
/// `raw` holds only some days of is the caller's to send again ([`Committer::repair`]).
pub fn resume(ch: &ClickHouse, shipper: &str) -> Result<Option<Last>, ClickHouseError> {
    wait_settled(ch, shipper)?;
    let last = last_batch(ch, shipper)?;
    if let Some(last) = last.as_ref().filter(|l| l.whole()) {
        complete(ch, shipper, last.batch)?;
    }
    Ok(last)
}

/// The shipper's last batch, if it shipped any.
fn last_batch(ch: &ClickHouse, shipper: &str) -> Result<Option<Last>, ClickHouseError> {
    let (db, name) = (&ch.target.database, quote(shipper));
    let answer = ch.query(&format!(
        "SELECT batch, cursor, reason, lines, toUInt16(day) FROM {db}.raw \
         WHERE kind = 2 AND shipper = {name} AND batch = \
         (SELECT max(batch) FROM {db}.raw WHERE kind = 2 AND shipper = {name}) \
         FORMAT TabSeparated"
    ))?;
    let mut last: Option<Last> = None;
    for line in answer.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [batch, cursor, before, parts, day] = f[..] else {
            return Err(ch.refused(format!("a cursor row of 5 columns, not {line:?}")));
        };
        let (Ok(batch), Ok(parts), Ok(day)) = (batch.parse(), parts.parse(), day.parse()) else {
            return Err(ch.refused(format!("a cursor row of numbers, not {line:?}")));
        };
        let last = last.get_or_insert_with(|| Last {
            batch,
            cursor: crate::clickhouse::unescape_tsv(cursor),
            before: crate::clickhouse::unescape_tsv(before),
            landed: BTreeSet::new(),
            parts,
        });
        last.landed.insert(day);
    }
    // `--keep-days` may have dropped old days of a batch that was whole everywhere: the
    // minute cube, which keeps every day, still holds their markers.
    if let Some(last) = last.as_mut().filter(|l| !l.whole()) {
        let kept = marked_days(ch, MARKED_FOR_GOOD, shipper, last.batch)?;
        last.landed.extend(kept.into_iter().filter(|d| *d > 0));
    }
    Ok(last)
}

/// The days `table` (one of [`MARKED`], whose marker is under `column`) holds a marker
/// of batch `batch` of `shipper` on, or of a later one; day 0 is an older schema's.
pub fn marked_days(
    ch: &ClickHouse,
    (table, column): (&str, &str),
    shipper: &str,
    batch: u64,
) -> Result<BTreeSet<Day>, ClickHouseError> {
    days(
        ch,
        &format!(
            "SELECT toUInt16(day) FROM {}.{table} WHERE {column} = concat('\\0', {}) \
             GROUP BY day HAVING maxMerge(shipped) >= {batch}",
            ch.target.database,
            quote(shipper)
        ),
    )
}

/// The days of batch `batch` whose parts `raw` holds.
fn landed_days(
    ch: &ClickHouse,
    shipper: &str,
    batch: u64,
) -> Result<BTreeSet<Day>, ClickHouseError> {
    days(
        ch,
        &format!(
            "SELECT DISTINCT toUInt16(day) FROM {}.raw WHERE kind = 2 AND shipper = {} AND batch = {batch}",
            ch.target.database,
            quote(shipper)
        ),
    )
}

/// The days a query of one column of day numbers answers.
fn days(ch: &ClickHouse, sql: &str) -> Result<BTreeSet<Day>, ClickHouseError> {
    let answer = ch.query(&format!("{sql} FORMAT TabSeparated"))?;
    answer
        .lines()
        .map(|l| {
            l.trim()
                .parse()
                .map_err(|_| ch.refused(format!("a day's number, not {l:?}")))
        })
        .collect()
}

/// A closed batch on its way to ClickHouse.
struct Closed {
    batch: u64,
    parts: Vec<(Day, Vec<u8>)>,
    /// A batch's missing days sent again: its other days may lack a view's rows.
    repair: bool,
    rows: u64,
    skipped: u64,
}

/// Sends batches in order on a thread of its own, so that the shipper reads and derives
/// the next batch while ClickHouse stores this one. One batch waits at most: a shipper
/// never runs further ahead of ClickHouse than that.
pub struct Committer {
    tx: Option<std::sync::mpsc::SyncSender<Closed>>,
    thread: Option<std::thread::JoinHandle<Result<Sent, ClickHouseError>>>,
    /// The cursor of the last batch committed: where the next one begins.
    cursor: String,
}

impl Committer {
    /// A committer whose first batch begins at `cursor` (the last batch's, or [`START`]).
    pub fn start(ch: &ClickHouse, shipper: &str, cursor: &str) -> Committer {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Closed>(1);
        let (ch, shipper) = (ch.clone(), shipper.to_owned());
        let thread = std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || {
                let mut sent = Sent::default();
                for closed in rx {
                    insert_once(&ch, &shipper, closed.batch, closed.parts, closed.repair)?;
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
            cursor: cursor.to_owned(),
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
        rows.cursor(day, cursor, &self.cursor, None);
        cursor.clone_into(&mut self.cursor);
        self.queue(rows, false)
    }

    /// Queues the days' parts of `last` that `raw` lacked, made again from the same
    /// records (`rows`, numbered `last.batch`): the batch is then whole.
    pub fn repair(&mut self, mut rows: Rows<'_>, last: &Last) -> Result<(), ClickHouseError> {
        if rows.count == 0 {
            eprintln!(
                "warning: the logs read again hold nothing of batch {}'s missing days; it stays as ClickHouse has it",
                last.batch
            );
            return Ok(());
        }
        let day = last.landed.first().copied().unwrap_or(0);
        rows.cursor(day, &last.cursor, &last.before, Some(last.parts));
        self.queue(rows, true)
    }

    fn queue(&mut self, rows: Rows<'_>, repair: bool) -> Result<(), ClickHouseError> {
        let closed = Closed {
            batch: rows.batch(),
            repair,
            rows: rows.count as u64,
            skipped: rows.skipped,
            parts: rows.into_parts(),
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
/// once no query of this shipper is running, a day's part of the batch is in ClickHouse
/// if and only if its cursor row is, and only the days that are not are sent again.
/// While ClickHouse cannot answer, the shipper waits and asks again.
fn insert_once(
    ch: &ClickHouse,
    shipper: &str,
    batch: u64,
    mut parts: Vec<(Day, Vec<u8>)>,
    repair: bool,
) -> Result<(), ClickHouseError> {
    let query_id = format!("{}{batch}", query_id_prefix(shipper));
    let table = format!("raw ({})", RAW_COLUMNS.join(", "));
    let mut backoff = Backoff::default();
    let mut said = false;
    while !parts.is_empty() {
        let mut bytes = Vec::with_capacity(parts.iter().map(|(_, b)| b.len()).sum());
        for (_, part) in &parts {
            bytes.extend_from_slice(part);
        }
        match ch.insert_with_id(&table, "RowBinary", bytes, &query_id) {
            Ok(()) => break,
            Err(e) if e.is_transient() => {
                if !said {
                    eprintln!("warning: {e}; retrying batch {batch}");
                    said = true;
                }
                let landed = landed(ch, shipper, batch, &mut backoff);
                parts.retain(|(day, _)| !landed.contains(day));
            }
            Err(e) => return Err(e),
        }
    }
    // A repair's other days, like an unsure INSERT's, may lack a view's rows.
    if said || repair {
        complete(ch, shipper, batch)?;
    }
    if said {
        eprintln!("batch {batch} is in ClickHouse; going on");
    }
    Ok(())
}

/// The days of batch `batch` that are stored, asked until ClickHouse can say.
fn landed(ch: &ClickHouse, shipper: &str, batch: u64, backoff: &mut Backoff) -> BTreeSet<Day> {
    loop {
        std::thread::sleep(backoff.next_wait());
        let answer = settled(ch, shipper)
            .and_then(|settled| settled.then(|| landed_days(ch, shipper, batch)).transpose());
        if let Ok(Some(days)) = answer {
            return days;
        }
    }
}

/// Whether no INSERT of this shipper is running in ClickHouse (one a dead or cut-off
/// shipper started may still be finishing): only then do its cursor rows say it all.
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

/// Makes every table the views fill hold each day's part of batch `batch` of `shipper`
/// that `raw` holds, once: a summing table without that day's marker for the batch gets
/// the view's SELECT over those raw rows (with its marker, in one part); the others get
/// it again, which changes nothing (min, max and distinct states). Call it for the last
/// batch `raw` holds, whenever an INSERT of it may have stopped half-way.
fn complete(ch: &ClickHouse, shipper: &str, batch: u64) -> Result<(), ClickHouseError> {
    let db = &ch.target.database;
    let distinct = schema::distinct_of(ch)?;
    let mut marked = Vec::new();
    for (table, column) in MARKED {
        marked.push((table, marked_days(ch, (table, column), shipper, batch)?));
    }
    for day in landed_days(ch, shipper, batch)? {
        for filled in schema::filled_tables(db, distinct, shipper, batch, day) {
            if let Some((_, days)) = marked.iter().find(|(t, _)| *t == filled.table) {
                // A schema made before markers went beside their rows kept them all
                // on day 0: a batch marked there is whole in this table.
                if days.contains(&day) || days.contains(&0) {
                    continue;
                }
                eprintln!(
                    "filling in batch {batch} ({}) in {db}.{} from raw",
                    crate::engine::calendar::Calendar::day_label(day),
                    filled.table
                );
            }
            ch.execute(&format!(
                "INSERT INTO {db}.{} {}",
                filled.table, filled.select
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_whole_when_raw_holds_as_many_days_as_it_has() {
        let last = |landed: &[Day], parts| Last {
            batch: 3,
            cursor: "done".into(),
            before: START.into(),
            landed: landed.iter().copied().collect(),
            parts,
        };
        assert!(last(&[15_559, 15_560], 2).whole());
        assert!(!last(&[15_560], 2).whole());
        // An older schema's cursor row counted no parts: its batch was one part.
        assert!(last(&[15_559], 0).whole());
    }
}
