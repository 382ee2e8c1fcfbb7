//! `report DIR --explain TIME`: which ISP, channel, district or area — or which
//! combination — holds the change of a metric in the window ending at TIME against a
//! baseline, as a table, CSV or JSON.
//!
//! The window and the baseline are each read by a replay engine placed at their end
//! with history back to their start (plus the warm-up online peers need), so the cost
//! is that of the minutes they cover, not of the recording.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde_json::{Value, json};

use super::ReportArgs;
use super::output::{Cell, Table, names};
use crate::cli::UsageError;
use crate::config::Settings;
use crate::engine::calendar::Calendar;
use crate::engine::explain::{
    Baseline, CellSums, Cube, DIMENSIONS, Explanation, Target, Verdict, explain,
};
use crate::engine::geography::Geography;
use crate::engine::geography::location::IpGeo;
use crate::engine::monitor::ExplainQuery;
use crate::engine::query::filter::Filter;
use crate::recording::scan::{Recording, no_recording_in};
use crate::recording::skipped::Skipped;
use crate::source::replay::{FeedbackMinutes, ReplayEngine};

/// What `--baseline` names.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineArg {
    /// `hour` (the default), `day`, or `FROM..TO`: in the same recording.
    Same(Baseline),
    /// A directory: another recording, at the same time of day.
    Recording(PathBuf),
}

/// `hour`, `day`, `FROM..TO` (times as `--explain` reads them) or a recording directory.
pub fn parse_baseline(text: &str, calendar: &Calendar) -> Result<BaselineArg, UsageError> {
    let wrong = || {
        UsageError(format!(
            "--baseline {text:?}: expected hour, day, FROM..TO (e.g. \"2012-08-07 08:00..2012-08-07 09:00\") or a recording directory"
        ))
    };
    match text.trim() {
        "hour" => return Ok(BaselineArg::Same(Baseline::TrailingHour)),
        "day" => return Ok(BaselineArg::Same(Baseline::DayBefore)),
        _ => {}
    }
    if let Some((from, to)) = text.split_once("..") {
        let (from, to) = (
            calendar.parse_time(from).ok_or_else(wrong)?,
            calendar.parse_time(to).ok_or_else(wrong)?,
        );
        if from >= to {
            return Err(UsageError(format!(
                "--baseline {text:?}: the interval must end after it starts"
            )));
        }
        return Ok(BaselineArg::Same(Baseline::Between(from, to)));
    }
    let dir = Path::new(text);
    if dir.is_dir() {
        Ok(BaselineArg::Recording(dir.to_owned()))
    } else {
        Err(wrong())
    }
}

/// One recording ready for engines: its minute index, span and where it lives.
struct Source {
    dir: PathBuf,
    index: Arc<FeedbackMinutes>,
    start: i64,
    end: i64,
}

impl Source {
    fn open(dir: &Path, recording: Recording) -> Result<Source, UsageError> {
        let index = Arc::new(FeedbackMinutes::new(recording));
        let (Some(start), Some(end)) = (index.start(), index.end()) else {
            return Err(UsageError(no_recording_in(dir)));
        };
        Ok(Source {
            dir: dir.to_owned(),
            index,
            start,
            end,
        })
    }
}

/// The location table, the map and the QoE parameters every engine counts with, and
/// the channels the minutes read hold.
struct Counting<'a> {
    geo: IpGeo,
    geography: Option<Arc<Geography>>,
    settings: &'a Settings,
    channels: std::collections::BTreeSet<String>,
}

impl Counting<'_> {
    /// The cells' sums over `[from, to)` in `source`, and the lines it skipped.
    /// With the peers online at `to` for the window, not for a baseline.
    fn cell_sums(
        &mut self,
        source: &Source,
        q: &ExplainQuery,
        (from, to): (i64, i64),
        with_peers: bool,
    ) -> (Vec<CellSums>, Skipped) {
        let mut engine = ReplayEngine::new(
            Arc::clone(&source.index),
            self.geo.clone(),
            self.settings.qoe,
        );
        if let Some(g) = &self.geography {
            engine.set_geography(Arc::clone(g));
        }
        engine.seek(to, to - from, to - from);
        // The lines skipped and files found damaged in the minutes read.
        let skipped = engine.skipped().clone();
        let catalog = engine.monitor().catalog();
        self.channels
            .extend(catalog.channels.names().map(str::to_owned));
        let slow = self.settings.alerts.startup_p90_above_ms;
        let peers_at = with_peers.then_some(to);
        (
            engine.monitor().cell_sums(q, (from, to), slow, peers_at),
            skipped,
        )
    }
}

/// An explanation ready to print.
pub struct Explained {
    /// The contributors, one row each.
    pub table: Table,
    pub skipped: Skipped,
    /// What was compared with what, and the verdict: JSON fields beside the rows.
    pub summary: Value,
    /// The same for people: the line above the text table.
    pub heading: String,
}

pub fn run(
    args: &ReportArgs,
    settings: &Settings,
    dir: &std::path::Path,
    recording: Recording,
    time: &str,
    filter: &Filter,
) -> anyhow::Result<Explained> {
    let calendar = Calendar::new(settings.timezone);
    let target = match &args.metric {
        None => Target::Qoe,
        Some(name) => Target::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Target::ALL.iter().map(|t| t.key()).collect();
            UsageError(format!(
                "--metric {name:?}: with --explain, expected one of {}",
                known.join(", ")
            ))
        })?,
    };
    let moment = calendar.parse_time(time).ok_or_else(|| {
        UsageError(format!(
            "--explain {time:?}: expected YYYY-MM-DD HH:MM (configured zone)"
        ))
    })?;
    let baseline = match &args.baseline {
        None => BaselineArg::Same(Baseline::TrailingHour),
        Some(text) => parse_baseline(text, &calendar)?,
    };
    let source = Source::open(dir, recording)?;
    if !(source.start..=source.end).contains(&moment) {
        return Err(UsageError(format!(
            "--explain {}: the recording runs from {} to {}",
            calendar.minute_label(moment),
            calendar.minute_label(source.start),
            calendar.minute_label(source.end)
        ))
        .into());
    }
    let geography = crate::geodata::load_geography(settings).ok();
    let mut counting = Counting {
        geo: crate::geodata::load_ip_geo(settings, geography.clone())?,
        geography,
        settings,
        channels: std::collections::BTreeSet::new(),
    };
    filter.check_names(&counting.geo, &[]).map_err(UsageError)?;
    let window_ms = i64::from(settings.window_s) * 1000;
    let query = ExplainQuery {
        target,
        moment,
        window_ms,
        baseline: Baseline::TrailingHour,
        filter: filter.clone(),
    };
    let (actual, mut skipped) = counting.cell_sums(&source, &query, query.window(), true);
    let (expected, baseline_text) =
        match &baseline {
            BaselineArg::Same(b) => {
                let span = b.span(moment, window_ms);
                let (cells, s) = counting.cell_sums(&source, &query, span, false);
                skipped.merge(&s);
                (cells, describe_span(&calendar, span))
            }
            BaselineArg::Recording(dir) => {
                let other = Recording::scan(dir)
                    .with_context(|| format!("cannot read recording {}", dir.display()))?;
                let other = Source::open(dir, other)?;
                let at = same_time_of_day(&calendar, moment, window_ms, &other).ok_or_else(|| {
                UsageError(format!(
                    "--baseline {}: it holds no window ending at {} (it runs from {} to {})",
                    dir.display(),
                    calendar.minute_label(moment).split_once(' ').map_or("", |(_, t)| t),
                    calendar.minute_label(other.start),
                    calendar.minute_label(other.end)
                ))
            })?;
                let span = if target.is_count() {
                    (at - 60_000, at)
                } else {
                    (at - window_ms, at)
                };
                let (cells, s) = counting.cell_sums(&other, &query, span, false);
                skipped.merge(&s);
                (
                    cells,
                    format!(
                        "{}, {}",
                        other.dir.display(),
                        describe_span(&calendar, span)
                    ),
                )
            }
        };
    // A channel none of the minutes read holds is a usage error, as in `report`.
    let channels: Vec<&str> = counting.channels.iter().map(String::as_str).collect();
    filter
        .check_names(&counting.geo, &channels)
        .map_err(UsageError)?;
    let explanation = explain(&Cube::pair(&actual, &expected), target);
    let value = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.*}", target.decimals()));
    let heading = format!(
        "{} at {} (window {} s) against {baseline_text}: {}, expected {}; {}",
        target.label(),
        calendar.minute_label(moment),
        window_ms / 1000,
        value(explanation.actual),
        value(explanation.expected),
        explanation.verdict.describe()
    );
    let summary = json!({
        "metric": target.key(),
        "at": calendar.minute_label(moment),
        "window_s": window_ms / 1000,
        "baseline": baseline_text,
        "verdict": explanation.verdict,
        "actual": explanation.actual,
        "expected": explanation.expected,
    });
    Ok(Explained {
        table: rows(&explanation),
        skipped,
        summary,
        heading,
    })
}

/// "2012-08-07 08:30 – 09:30".
fn describe_span(calendar: &Calendar, (from, to): (i64, i64)) -> String {
    let to_label = calendar.minute_label(to);
    let same_day = calendar.day_of(from) == calendar.day_of(to);
    let to_text = if same_day {
        to_label
            .split_once(' ')
            .map_or(to_label.as_str(), |(_, t)| t)
    } else {
        to_label.as_str()
    };
    format!("{} – {to_text}", calendar.minute_label(from))
}

/// The instant at `moment`'s time of day on the first day of `other` that holds the
/// whole window ending there.
fn same_time_of_day(
    calendar: &Calendar,
    moment: i64,
    window_ms: i64,
    other: &Source,
) -> Option<i64> {
    let offset = moment - calendar.day_start(calendar.day_of(moment));
    let mut day = calendar.day_of(other.start);
    loop {
        let at = calendar.day_start(day) + offset;
        if at > other.end {
            return None;
        }
        if at - window_ms >= other.start {
            return Some(at);
        }
        day = day.checked_add(1)?;
    }
}

/// The contributors as rows; "everywhere" is one row with every dimension empty.
fn rows(e: &Explanation) -> Table {
    let mut columns: Vec<String> = crate::engine::explain::Dimension::ALL
        .iter()
        .map(|d| d.key().to_owned())
        .collect();
    columns.extend(names(&["share", "actual", "expected", "peers"]));
    let decimals = e.target.decimals();
    let mut rows: Vec<Vec<Cell>> = e
        .contributors
        .iter()
        .map(|c| {
            let mut row: Vec<Cell> = c
                .cause
                .iter()
                .map(|n| n.clone().map_or(Cell::Missing, Cell::Text))
                .collect();
            row.extend([
                Cell::Num(Some(c.share), 3),
                Cell::Num(c.actual, decimals),
                Cell::Num(c.expected, decimals),
                Cell::Int(c.peers),
            ]);
            row
        })
        .collect();
    if e.verdict == Verdict::Everywhere {
        let mut row = vec![Cell::Missing; DIMENSIONS];
        row.extend([
            Cell::Num(Some(1.0), 3),
            Cell::Num(e.actual, decimals),
            Cell::Num(e.expected, decimals),
            Cell::Missing,
        ]);
        rows.push(row);
    }
    Table { columns, rows }
}
