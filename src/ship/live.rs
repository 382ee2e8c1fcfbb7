//! `ship --dir DIR` / `ship --server URL` without `--once`: log directories and feedback
//! servers followed for ever, through the same followers as `watch` (cursors, back-off,
//! token), each source with its own state, committed together once a second or every
//! `--batch-rows` rows.
//!
//! Each source's facts depend only on its own lines in log order, so a restarted shipper
//! that reads a source again from its oldest line, sending nothing up to the cursor it
//! committed, has the state it had. The cubes' online count is exact when a peer's
//! records all reach one server (peer affinity at the coordinator); the README says
//! what differs without it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::signal::unix::SignalKind;

use super::commit::{Committer, START, resume};
use super::repair::Repair;
use super::rows::Rows;
use crate::clickhouse::ClickHouse;
use crate::config::Settings;
use crate::engine::aggregate::online::Expiry;
use crate::engine::calendar::{Calendar, Day};
use crate::engine::cube::{Cell, CubeTracker, Fact};
use crate::engine::geography::areas::Areas;
use crate::engine::geography::location::IpGeo;
use crate::engine::observe::catalog::Catalog;
use crate::engine::record::{MAX_LINE, Origin as RecordOrigin, RecordError, parse_feedback};
use crate::recording::layout::Stream;
use crate::recording::tail::Cursor;
use crate::source::follow::{self, Origin};
use crate::source::health::{SourceEvent, SourceState};

/// A batch is sent at least this often while anything new has arrived.
const FLUSH: Duration = Duration::from_secs(1);

/// An online interval's −1 is sent once the source's newest record is this far past its
/// end: records of one server arrive in `recv` order give or take its group commit.
const HOLD_MS: i64 = 5_000;

/// One followed source and the shipper's state for it.
struct Source {
    name: String,
    catalog: Catalog,
    areas: Areas,
    tracker: CubeTracker,
    calendar: Calendar,
    /// Lines ending at or before this were sent in a committed batch.
    shipped: Option<Cursor>,
    /// Where it stood before the last batch, while that batch is sent again in part.
    before: Option<Cursor>,
    /// Where the lines read so far end.
    at: Option<Cursor>,
    newest_recv: i64,
    facts: Vec<Fact>,
    said: Option<(SourceState, Option<String>)>,
}

impl Source {
    /// Takes lines that end at `next`: their facts go into `rows`, unless a committed
    /// batch already holds them.
    fn take(
        &mut self,
        bytes: &[u8],
        next: &Cursor,
        rows: &mut Rows<'_>,
        mut repair: Option<&mut Repair<'_>>,
    ) {
        let total = bytes.len() as u64;
        let mut start = 0usize;
        for end in memchr::memchr_iter(b'\n', bytes) {
            let line = &bytes[start..end];
            start = end + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // The content ends at `next`: this line ends where the bytes after it begin.
            let line_end = Cursor {
                minute: next.minute.clone(),
                offset: next.offset.saturating_sub(total - start as u64),
            };
            let sent_before = self
                .shipped
                .as_ref()
                .is_some_and(|s| position(&line_end) <= position(s));
            let skipped = self.line(line);
            if sent_before {
                let in_last = self
                    .before
                    .as_ref()
                    .is_none_or(|b| position(&line_end) > position(b));
                match repair.as_deref_mut().filter(|_| in_last) {
                    Some(r) => {
                        for fact in self.facts.drain(..) {
                            r.fact(&fact, &self.catalog, &self.areas);
                        }
                        if let Some(e) = skipped {
                            r.skipped(self.day(), e.reason.name(), 1);
                        }
                    }
                    None => self.facts.clear(),
                }
                continue;
            }
            for fact in self.facts.drain(..) {
                rows.fact(&fact, &self.catalog, &self.areas);
            }
            if let Some(e) = skipped {
                rows.skipped(self.day(), e.reason.name(), 1);
            }
        }
        self.at = Some(next.clone());
    }

    /// Reads one line into facts; the error when it is skipped.
    fn line(&mut self, line: &[u8]) -> Option<RecordError> {
        if line.len() > MAX_LINE {
            return Some(RecordError::line_too_long());
        }
        let record = match parse_feedback(line, RecordOrigin::Log) {
            Ok(r) => r,
            Err(e) => return Some(e),
        };
        // A duplicate is neither a fact nor a skipped line.
        if let Some(obs) = self.catalog.observe(&record.core()) {
            let district = self.catalog.geo.district_name(obs.location.district);
            let cell = Cell {
                isp: obs.location.isp,
                channel: obs.channel,
                district: obs.location.district,
                area: self.areas.area_of(&obs.location, district),
            };
            self.tracker.record(&obs, cell, &mut self.facts);
            self.newest_recv = self.newest_recv.max(obs.payload.recv);
            self.tracker
                .expire(self.newest_recv - HOLD_MS, &mut self.facts);
        }
        None
    }

    /// Whether it has been read again up to where the last batch left it.
    fn caught_up(&self) -> bool {
        match (&self.shipped, &self.at) {
            (None, _) => true,
            (Some(shipped), Some(at)) => position(at) >= position(shipped),
            (Some(_), None) => false,
        }
    }

    fn day(&self) -> Day {
        self.calendar.day_of(self.newest_recv.max(0))
    }

    /// Says on stderr when the source goes down, comes back, or has read its backlog.
    fn state(&mut self, state: SourceState, error: Option<String>) {
        if self
            .said
            .as_ref()
            .is_some_and(|(s, e)| *s == state && *e == error)
        {
            return;
        }
        match (&self.said, state) {
            (_, SourceState::Down) => eprintln!(
                "warning: {}: {}; retrying",
                self.name,
                error.as_deref().unwrap_or("down")
            ),
            (Some((SourceState::Down, _)), _) => eprintln!("{}: back", self.name),
            (_, SourceState::Ok) => eprintln!("{}: caught up, following", self.name),
            _ => {}
        }
        self.said = Some((state, error));
    }
}

/// A cursor's place in its stream: minute names sort as their minutes.
fn position(c: &Cursor) -> (&str, u64) {
    (c.minute.as_str(), c.offset)
}

/// The committed cursor of a live shipper: where each source stands.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Positions {
    sources: BTreeMap<String, String>,
}

pub fn follow(
    ch: &ClickHouse,
    origins: Vec<Origin>,
    shipper: &str,
    settings: &Settings,
    batch_rows: usize,
) -> anyhow::Result<()> {
    let last = resume(ch, shipper)?;
    let parse = |cursor: &str| -> anyhow::Result<Positions> {
        if cursor == START {
            return Ok(Positions::default());
        }
        serde_json::from_str(cursor).with_context(|| {
            format!("shipper {shipper:?} has cursor {cursor:?} in ClickHouse, which is not a live shipper's (another --name?)")
        })
    };
    let (mut batch, stored) = match &last {
        None => (0, Positions::default()),
        Some(last) => (last.batch, parse(&last.cursor)?),
    };
    // The last batch's lines, when raw lacks some of its days: read again, their facts
    // of those days are sent again.
    let mut repair = last.as_ref().and_then(|l| Repair::of(l, shipper));
    let before = match &repair {
        Some(r) => parse(&r.last.before)?,
        None => Positions::default(),
    };
    let geography = crate::geodata::load_geography(settings).ok();
    let geo: IpGeo = crate::geodata::load_ip_geo(settings, geography.clone())?;
    let calendar = Calendar::new(settings.timezone);
    let mut sources: Vec<Source> = origins
        .iter()
        .map(|o| {
            let name = o.name();
            let shipped = stored.sources.get(&name).and_then(|c| Cursor::parse(c));
            let before = before.sources.get(&name).and_then(|c| Cursor::parse(c));
            Source {
                before,
                catalog: Catalog::new(geo.clone()),
                areas: Areas::new(geography.clone()),
                tracker: CubeTracker::new(settings.qoe, calendar.clone(), Expiry::Eager),
                calendar: calendar.clone(),
                at: shipped.clone(),
                shipped,
                name,
                newest_recv: i64::MIN,
                facts: Vec::new(),
                said: None,
            }
        })
        .collect();
    for name in stored.sources.keys() {
        if !sources.iter().any(|s| &s.name == name) {
            eprintln!(
                "warning: {shipper} also shipped {name} before, which it does not follow now"
            );
        }
    }
    if batch > 0 {
        eprintln!(
            "resuming after batch {batch}: each source is read again from its oldest line, sending nothing up to where batch {batch} left it"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    crate::signals::on_either(
        SignalKind::terminate(),
        SignalKind::interrupt(),
        move || {
            flag.store(true, Ordering::SeqCst);
        },
    );
    let (tx, rx) = sync_channel(64);
    for (i, origin) in origins.into_iter().enumerate() {
        // From the oldest minute the source keeps: a cursor before it is answered with
        // the oldest one.
        follow::spawn(origin, Stream::Feedback, i, 0, tx.clone());
    }
    drop(tx);
    let mut committer = Committer::start(ch, shipper, last.as_ref().map_or(START, |l| &l.cursor));
    let mut rows = Rows::new(shipper, batch + 1);
    let mut committed = positions(&sources, &stored);
    let mut last_flush = Instant::now();
    loop {
        match rx.recv_timeout(FLUSH.saturating_sub(last_flush.elapsed())) {
            Ok(SourceEvent::Lines {
                source,
                bytes,
                next,
                ..
            }) => {
                let s = &mut sources[source];
                let Some(next) = next else {
                    anyhow::bail!(
                        "{} has no /v1/tail: ship needs it to know where it stands",
                        s.name
                    );
                };
                s.take(&bytes, &next, &mut rows, repair.as_mut());
            }
            Ok(SourceEvent::State {
                source,
                state,
                error,
                ..
            }) => sources[source].state(state, error),
            Ok(SourceEvent::StreamCaughtUp { .. }) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => anyhow::bail!("every source stopped"),
        }
        let stopping = stop.load(Ordering::SeqCst);
        // The repaired batch goes first, once every source is read again up to it.
        if repair.is_some() && sources.iter().all(Source::caught_up) {
            if let Some(mut r) = repair.take() {
                r.say();
                committer.repair(r.rows, &r.last)?;
            }
        }
        if repair.is_some() {
            if stopping {
                committer.finish()?;
                eprintln!(
                    "stopped before the sources were read again up to batch {batch}: the next start sends its missing days"
                );
                return Ok(());
            }
            continue;
        }
        let now = positions(&sources, &stored);
        let due = last_flush.elapsed() >= FLUSH || stopping;
        if rows.count >= batch_rows || (due && (rows.count > 0 || now != committed)) {
            let day = sources.iter().map(Source::day).max().unwrap_or(0);
            let full = std::mem::replace(&mut rows, Rows::new(shipper, batch + 2));
            let cursor = serde_json::to_string(&Positions {
                sources: now.clone(),
            })
            .context("the cursor")?;
            committer.commit(full, day, &cursor)?;
            batch += 1;
            committed = now;
        }
        if due {
            last_flush = Instant::now();
        }
        if stopping {
            let sent = committer.finish()?;
            eprintln!(
                "stopped: shipped {} rows in {} batches to {} ({} lines skipped)",
                sent.rows, sent.batches, ch.target.database, sent.skipped
            );
            return Ok(());
        }
    }
}

/// Where every source stands now (a source not read yet keeps its committed place).
fn positions(sources: &[Source], stored: &Positions) -> BTreeMap<String, String> {
    let mut all = stored.sources.clone();
    for s in sources {
        if let Some(at) = &s.at {
            all.insert(s.name.clone(), at.to_string());
        }
    }
    all
}
