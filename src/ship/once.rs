//! `ship --dir DIR --once`: a finished recording, read as `report` reads it (every tree
//! merged in `recv` order), its minutes committed in batches; at the end the intervals
//! still open are closed and the cursor says `done`.

use anyhow::Context;

use super::commit::{Committer, resume};
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

pub fn ship_recording(
    ch: &ClickHouse,
    recording: &Recording,
    shipper: &str,
    settings: &Settings,
    batch_rows: usize,
    threads: usize,
) -> anyhow::Result<()> {
    let (mut batch, position) = match resume(ch, shipper)? {
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
    let mut committer = Committer::start(ch, shipper);
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
