//! `ship --dir DIR --once`: a finished recording, read as `report` reads it (every tree
//! merged in `recv` order), its minutes committed in batches; at the end the intervals
//! still open are closed and the cursor says `done`.

use anyhow::Context;

use super::commit::{Committer, START, resume};
use super::repair::Repair;
use super::rows::Rows;
use crate::clickhouse::{ClickHouse, ClickHouseError};
use crate::config::Settings;
use crate::engine::aggregate::online::Expiry;
use crate::engine::calendar::Calendar;
use crate::engine::cube::{Cell, CubeTracker, Fact};
use crate::engine::geography::areas::Areas;
use crate::engine::observe::catalog::Catalog;
use crate::recording::pipeline::{progress_bar, read_in_order};
use crate::recording::scan::Recording;

/// Where a shipper of a finished recording stands (in the order it gets there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
        match cursor {
            "done" => return Some(Position::Done),
            START => return Some(Position::Start),
            _ => {}
        }
        cursor
            .strip_prefix("minute:")
            .and_then(|m| m.parse().ok())
            .map(Position::Through)
    }

    fn cursor(self) -> String {
        match self {
            Position::Start => START.into(),
            Position::Through(ms) => format!("minute:{ms}"),
            Position::Done => "done".into(),
        }
    }

    /// Whether minute `start_ms` lies at or before this position.
    fn holds(self, start_ms: i64) -> bool {
        match self {
            Position::Start => false,
            Position::Through(ms) => start_ms <= ms,
            Position::Done => true,
        }
    }
}

/// A recording's cursor read back from ClickHouse.
fn position_of(shipper: &str, cursor: &str) -> anyhow::Result<Position> {
    Position::parse(cursor).with_context(|| {
        format!(
            "shipper {shipper:?} has cursor {cursor:?} in ClickHouse, which is not a recording's"
        )
    })
}

pub fn ship_recording(
    ch: &ClickHouse,
    recording: &Recording,
    shipper: &str,
    settings: &Settings,
    batch_rows: usize,
    threads: usize,
) -> anyhow::Result<()> {
    let last = resume(ch, shipper)?;
    let (mut batch, position) = match &last {
        None => (0, Position::Start),
        Some(last) => (last.batch, position_of(shipper, &last.cursor)?),
    };
    // The last batch's minutes (and the close, after a "done"), when raw lacks some of
    // its days: read again, their facts of those days are sent again.
    let mut repair = last.as_ref().and_then(|l| Repair::of(l, shipper));
    let repaired = match &repair {
        Some(r) => Some((position_of(shipper, &r.last.before)?, position)),
        None => None,
    };
    if position == Position::Done && repair.is_none() {
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
    let mut committer = Committer::start(ch, shipper, &position.cursor());
    let mut failure: Option<ClickHouseError> = None;
    batch += 1;
    let mut rows = Rows::new(shipper, batch);
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = progress.then(|| progress_bar(recording.feedback.len(), "shipping"));
    read_in_order(&recording.feedback, threads, |minute| {
        let resent = position.holds(minute.start_ms);
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
        let day = calendar.day_of(minute.start_ms);
        if resent {
            let in_last = repaired.is_some_and(|(before, _)| !before.holds(minute.start_ms));
            match repair.as_mut().filter(|_| in_last) {
                Some(r) => {
                    for fact in facts.drain(..) {
                        r.fact(&fact, &catalog, &areas);
                    }
                    for (reason, lines) in &minute.skipped.by_reason {
                        r.skipped(day, reason.name(), *lines);
                    }
                }
                None => facts.clear(),
            }
            return true;
        }
        if let Some(r) = repair.take() {
            if let Err(e) = send_repair(&mut committer, r) {
                failure = Some(e);
                return false;
            }
        }
        for fact in facts.drain(..) {
            rows.fact(&fact, &catalog, &areas);
        }
        for (reason, lines) in &minute.skipped.by_reason {
            rows.skipped(day, reason.name(), *lines);
        }
        if rows.count >= batch_rows {
            let full = std::mem::replace(&mut rows, Rows::new(shipper, batch + 1));
            match committer.commit(full, day, &Position::Through(minute.start_ms).cursor()) {
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
    if let Some(mut r) = repair.take() {
        // The batch was the last, "done": the close is part of it.
        if position == Position::Done {
            for fact in facts.drain(..) {
                r.fact(&fact, &catalog, &areas);
            }
            send_repair(&mut committer, r)?;
            let sent = committer.finish()?;
            eprintln!(
                "shipped {} rows again: {shipper} is all in {}",
                sent.rows, ch.target.database
            );
            return Ok(());
        }
        send_repair(&mut committer, r)?;
    }
    for fact in facts.drain(..) {
        rows.fact(&fact, &catalog, &areas);
    }
    let last_day = recording
        .feedback
        .last()
        .map_or(0, |g| calendar.day_of(g.start_ms));
    committer.commit(rows, last_day, &Position::Done.cursor())?;
    let sent = committer.finish()?;
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

/// Queues the repair of the last batch, saying which days it sends.
fn send_repair(committer: &mut Committer, mut r: Repair<'_>) -> Result<(), ClickHouseError> {
    r.say();
    committer.repair(r.rows, &r.last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_position_it_was_and_says_which_minutes_it_holds() {
        for p in [Position::Start, Position::Through(60_000), Position::Done] {
            assert_eq!(Position::parse(&p.cursor()), Some(p));
        }
        assert_eq!(Position::parse("minute:x"), None);
        assert!(Position::Start < Position::Through(0) && Position::Through(0) < Position::Done);
        assert!(!Position::Start.holds(0));
        assert!(Position::Through(60_000).holds(60_000));
        assert!(!Position::Through(60_000).holds(120_000));
        assert!(Position::Done.holds(i64::MAX));
    }
}
