//! The cubes `ship` keeps in ClickHouse as a [`FrameSource`]: what `watch --cube URL`
//! and `replay --cube URL` draw. Every figure on screen is read from the cubes, the
//! filter pushed into SQL as a condition on the cell columns, so a frame costs what the
//! buckets and cells it shows hold, whatever the records behind them. Alerts are judged
//! on the service's minutes from the narrow cube, by the engine's own [`AlertLog`].
//!
//! What the cubes do not hold is said on screen ([`Unanswered`]): the distribution
//! across peers (view 3) needs each peer's reports, and the probes (view 6) are not
//! shipped. A server that stops answering is a source state and an error line, the
//! last frame kept.

mod explain;
mod snapshot;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono_tz::Tz;

use super::causes::AlertCauses;
use super::frames::{FrameData, FrameRequest, FrameSource, Unanswered};
use super::health::{SourceHealth, SourceState};
use crate::clickhouse::read::{self, DATA, SKIPPED_DATA, rows_of};
use crate::clickhouse::{ClickHouse, Credentials, Target, schema};
use crate::config::Settings;
use crate::engine::alerts::{AlertLog, AlertRules, stale_source};
use crate::engine::calendar::{Calendar, Day};
use crate::engine::cube::BUCKET_MS;
use crate::engine::explain::explain;
use crate::engine::geography::Geography;
use crate::engine::probes::snapshot::ProbeSnapshot;
use crate::engine::query::filter::{Filter, check_dimension};
use crate::engine::query::snapshot::{Histogram, Point, Query, Snapshot};
use crate::geodata::load_geography;
use snapshot::{Frame, Reader};

const MINUTE_MS: i64 = 60_000;
/// A live view re-reads the cubes this often: shippers insert about every second.
const LIVE_REFRESH: Duration = Duration::from_secs(1);
/// A running replay clock re-reads them at most this often.
const REPLAY_REFRESH: Duration = Duration::from_millis(250);
/// How often a live view re-reads the names, span and totals the cubes hold.
const STATE_REFRESH: Duration = Duration::from_secs(5);
/// A live minute is judged for alerts once the cubes hold this much past its end:
/// shippers follow their sources a few seconds behind and insert every second or so.
const SETTLE_MS: i64 = 20_000;

pub const NO_HISTOGRAM: &str = "The cubes hold sums per cell, not each peer's reports: \
    a distribution across peers is not in them. Replay the feedback logs for it \
    (peerscope replay DIR).";
pub const NO_PROBES: &str = "Probe rounds are not shipped to the cubes. Replay the \
    feedback logs, or watch the feedback servers, for the probe matrix.";

struct LastFrame {
    request: FrameRequest,
    computed: Instant,
    data: FrameData,
}

/// The cubes of one ClickHouse database as the app loop's frame source.
pub struct CubeFrames {
    ch: ClickHouse,
    /// Live (`watch`): the clock is now and the cubes grow; else a replay of what they hold.
    live: bool,
    tz: Tz,
    calendar: Calendar,
    rules: AlertRules,
    geography: Result<Arc<Geography>, String>,
    /// Every name per cell column (isp, channel, district, area).
    names: [Vec<String>; 4],
    accepted: u64,
    skipped: u64,
    /// The first minute with a record, and the end of the last one.
    span: (Option<i64>, Option<i64>),
    /// The end of the newest 10 s bucket with a record (live).
    newest: Option<i64>,
    /// The first day the 10 s cube holds, when `ship --keep-days` dropped earlier ones.
    fine_from: Option<Day>,
    alerts: AlertLog,
    causes: AlertCauses,
    health: SourceHealth,
    state_read: Instant,
    last: Option<LastFrame>,
}

impl CubeFrames {
    /// Connects to `clickhouse://HOST:PORT/DB` (credentials from the environment, as
    /// for `report --from`), checks the schema, and reads what the cubes hold.
    pub fn connect(uri: &str, settings: &Settings, live: bool) -> anyhow::Result<CubeFrames> {
        let target = Target::parse_uri(uri)?;
        let ch = ClickHouse::connect(target, Credentials::from_env(None)?)?;
        schema::check(&ch)?;
        let mut frames = CubeFrames {
            ch,
            live,
            tz: settings.timezone,
            calendar: Calendar::new(settings.timezone),
            rules: settings.alerts,
            geography: load_geography(settings),
            names: Default::default(),
            accepted: 0,
            skipped: 0,
            span: (None, None),
            newest: None,
            fine_from: None,
            alerts: AlertLog::new(settings.alerts),
            causes: AlertCauses::default(),
            health: SourceHealth {
                name: uri.to_owned(),
                state: SourceState::Ok,
                lag_ms: None,
                last_error: None,
                bytes: 0,
            },
            state_read: Instant::now(),
            last: None,
        };
        frames.read_state(chrono::Utc::now().timestamp_millis())?;
        Ok(frames)
    }

    /// Every name a filter holds is one the cubes hold, whatever its case.
    pub fn check_filter(&self, filter: &Filter) -> Result<(), String> {
        for (d, values) in [&filter.isps, &filter.channels, &filter.districts]
            .into_iter()
            .enumerate()
        {
            let known: Vec<&str> = self.names[d].iter().map(String::as_str).collect();
            check_dimension(["isp", "channel", "district"][d], values, &known)?;
        }
        Ok(())
    }

    /// Reads the names, span and totals the cubes hold, and judges the minutes that
    /// are complete.
    fn read_state(&mut self, now: i64) -> anyhow::Result<()> {
        let db = &self.ch.target.database;
        let mut names: [Vec<String>; 4] = Default::default();
        let union = ["isp", "channel", "district", "area"]
            .iter()
            .enumerate()
            .map(|(d, c)| format!("SELECT {d}, {c} FROM {db}.cube_1h WHERE {DATA} GROUP BY {c}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        for r in rows_of(&self.ch, &union)? {
            let d: usize = r[0].parse().context("a dimension")?;
            if let Some(list) = names.get_mut(d) {
                list.push(r[1].clone());
            }
        }
        for list in &mut names {
            list.sort();
        }
        self.names = names;
        let row = rows_of(
            &self.ch,
            &format!(
                "SELECT toUInt32(min(b)), toUInt32(max(b)), sum(r), count() FROM \
                 (SELECT bucket AS b, sumMerge(records) AS r FROM {db}.overview_1m \
                  WHERE {DATA} GROUP BY b HAVING r > 0)"
            ),
        )?;
        let row = row.first().context("no answer about the cubes' span")?;
        if row[3] != "0" {
            let first = read::seconds_to_ms(&row[0])?;
            let last = read::seconds_to_ms(&row[1])? + MINUTE_MS;
            self.span = (Some(first), Some(last));
            self.accepted = row[2].parse().context("records")?;
        }
        self.fine_from = self.fine_from()?;
        self.skipped = rows_of(
            &self.ch,
            &format!("SELECT sumMerge(lines) FROM {db}.skipped WHERE {SKIPPED_DATA}"),
        )?
        .first()
        .and_then(|r| r[0].parse().ok())
        .unwrap_or(0);
        if self.live {
            let recent = (now - 3_600_000).div_euclid(1000);
            self.newest = rows_of(
                &self.ch,
                &format!(
                    "SELECT toUInt32(max(bucket)), count() FROM {db}.cube_10s \
                     WHERE {DATA} AND bucket >= toDateTime({}) AND records > 0",
                    recent.max(0)
                ),
            )
            .ok()
            .and_then(|r| r.first().cloned())
            .filter(|r| r[1] != "0")
            .and_then(|r| read::seconds_to_ms(&r[0]).ok())
            .map(|start| start + BUCKET_MS)
            // Nothing in the last hour: the newest minute, however old.
            .or(self.span.1);
        }
        self.judge_minutes(now)?;
        self.state_read = Instant::now();
        Ok(())
    }

    /// The 10 s cube's first day, when it begins after the event (`ship --keep-days`
    /// dropped older days): before it, frames are read by the minute. Asked of the
    /// event's first day's partition alone, then of the days kept.
    fn fine_from(&self) -> anyhow::Result<Option<Day>> {
        let Some(start) = self.span.0 else {
            return Ok(None);
        };
        let db = &self.ch.target.database;
        let first = self.calendar.day_of(start);
        let count = |sql: String| -> anyhow::Result<Option<i64>> {
            Ok(rows_of(&self.ch, &sql)?
                .first()
                .and_then(|r| r[0].parse::<i64>().ok()))
        };
        if count(format!(
            "SELECT count() FROM {db}.cube_10s WHERE day = toDate({first}) AND {DATA}"
        ))? != Some(0)
        {
            return Ok(None);
        }
        let kept = count(format!(
            "SELECT toUInt16(min(day)) FROM {db}.cube_10s WHERE day > toDate({first}) AND {DATA}"
        ))?;
        Ok(kept
            .and_then(|d| Day::try_from(d).ok())
            .filter(|d| *d > first))
    }

    /// Judges each minute not judged yet that the cubes hold whole: all of a replay's,
    /// and a live view's up to a little behind the newest bucket.
    fn judge_minutes(&mut self, now: i64) -> anyhow::Result<()> {
        let (Some(start), Some(end)) = self.span else {
            return Ok(());
        };
        let settled = if self.live {
            self.newest.unwrap_or(end).min(now) - SETTLE_MS
        } else {
            end
        };
        let first = self.alerts.last_minute().unwrap_or(start);
        let last = settled.div_euclid(MINUTE_MS) * MINUTE_MS;
        if last <= first {
            return Ok(());
        }
        let reader = self.reader(&Filter::default());
        for point in reader.minute_points(first, last)? {
            self.alerts.push(point);
        }
        Ok(())
    }

    fn reader(&self, filter: &Filter) -> Reader<'_> {
        reader(&self.ch, &self.names, self.fine_from_ms(), filter)
    }

    /// Where the 10 s buckets begin (`i64::MIN`: everywhere).
    fn fine_from_ms(&self) -> i64 {
        self.fine_from
            .map_or(i64::MIN, |d| self.calendar.day_start(d))
    }

    /// The frame of `request`, or why the cubes could not give it.
    fn read(&mut self, request: &FrameRequest) -> anyhow::Result<FrameData> {
        let now = request.query.now;
        if self.live && self.state_read.elapsed() >= STATE_REFRESH {
            self.read_state(now)?;
        }
        let frame = Frame {
            names: &self.names,
            areas: self.geography.is_ok(),
            accepted: self.accepted,
        };
        let (snapshot, coarse) =
            snapshot::snapshot(&self.reader(&request.query.filter), &request.query, &frame)?;
        let slow = self.rules.startup_p90_above_ms;
        let mut alerts = self.alerts.as_of(now);
        let (ch, names, fine_from) = (&self.ch, &self.names, self.fine_from_ms());
        self.causes.annotate(&mut alerts, now, |q| {
            explain::explain_cube(&reader(ch, names, fine_from, &q.filter), q, slow).ok()
        });
        // Answered: whatever happened before, the source is up.
        let mut health = SourceHealth {
            state: SourceState::Ok,
            last_error: None,
            ..self.health.clone()
        };
        if self.live {
            health.lag_ms = self.newest.map(|n| (now - n).max(0) / 1000 * 1000);
            if let Some(alert) = stale_source(&self.rules, health.lag_ms, now) {
                health.state = SourceState::Stale;
                alerts.push(alert);
            }
        }
        let explanation = match &request.explain {
            Some(q) => Some(explain(
                &explain::explain_cube(&self.reader(&q.filter), q, slow)?,
                q.target,
            )),
            None => None,
        };
        Ok(FrameData {
            snapshot,
            probes: ProbeSnapshot::default(),
            alerts,
            next_alert: if self.live {
                None
            } else {
                self.alerts.next_fired_after(now)
            },
            rules: self.rules,
            sources: vec![health],
            skipped: self.skipped,
            damaged: Vec::new(),
            start: self.span.0,
            end: if self.live { None } else { self.span.1 },
            loading: None,
            tz: self.tz,
            geography: self.geography.clone(),
            explanation,
            unanswered: unanswered(coarse.then(|| self.coarse_note()).flatten()),
        })
    }

    /// What the status bar says of a frame read by the minute.
    fn coarse_note(&self) -> Option<String> {
        self.fine_from.map(|d| {
            format!(
                "by the minute before {} (ship --keep-days)",
                Calendar::day_label(d)
            )
        })
    }

    fn compute(&mut self, request: &FrameRequest) -> FrameData {
        match self.read(request) {
            Ok(data) => {
                self.health.state = SourceState::Ok;
                self.health.last_error = None;
                self.last = Some(LastFrame {
                    request: request.clone(),
                    computed: Instant::now(),
                    data: data.clone(),
                });
                data
            }
            Err(e) => {
                // The last frame stays on screen; the source says what went wrong.
                self.health.state = SourceState::Down;
                self.health.last_error = Some(format!("{e:#}"));
                let mut data = match &self.last {
                    Some(last) => last.data.clone(),
                    None => self.empty(request),
                };
                data.sources = vec![self.health.clone()];
                // Tried again at the next refresh, not at every tick.
                self.last = Some(LastFrame {
                    request: request.clone(),
                    computed: Instant::now(),
                    data: data.clone(),
                });
                data
            }
        }
    }

    /// A frame with nothing in it: before the cubes have answered once.
    fn empty(&self, request: &FrameRequest) -> FrameData {
        let q = &request.query;
        FrameData {
            snapshot: empty_snapshot(q),
            probes: ProbeSnapshot::default(),
            alerts: Vec::new(),
            next_alert: None,
            rules: self.rules,
            sources: vec![self.health.clone()],
            skipped: 0,
            damaged: Vec::new(),
            start: self.span.0,
            end: if self.live { None } else { self.span.1 },
            loading: None,
            tz: self.tz,
            geography: self.geography.clone(),
            explanation: None,
            unanswered: unanswered(None),
        }
    }
}

fn reader<'a>(
    ch: &'a ClickHouse,
    names: &[Vec<String>; 4],
    fine_from: i64,
    filter: &Filter,
) -> Reader<'a> {
    let known = |column: &str| {
        let d = ["isp", "channel", "district", "area"]
            .iter()
            .position(|c| *c == column)
            .unwrap_or(0);
        names[d].clone()
    };
    Reader {
        ch,
        cells: read::cells_among(filter, &known),
        narrow: filter.districts.is_empty() && filter.areas.is_empty(),
        fine_from,
    }
}

/// What the cubes cannot answer, and how coarse a frame was read.
fn unanswered(coarse: Option<String>) -> Unanswered {
    Unanswered {
        histogram: Some(NO_HISTOGRAM),
        probes: Some(NO_PROBES),
        coarse,
    }
}

fn empty_snapshot(q: &Query) -> Snapshot {
    let point = Point {
        at: q.now,
        ..Point::default()
    };
    Snapshot {
        at: q.now,
        window_ms: q.window_ms,
        filter: q.filter.clone(),
        current: point,
        recent: vec![point],
        timeline: Vec::new(),
        timeline_step_ms: q.timeline_step_ms,
        minutes: Vec::new(),
        split: Vec::new(),
        histogram: Histogram {
            metric: q.histogram,
            ..Histogram::default()
        },
        by_isp: Vec::new(),
        by_channel: Vec::new(),
        by_district: Vec::new(),
        by_area: Vec::new(),
        isp_counts: Vec::new(),
        channel_counts: Vec::new(),
        district_counts: Vec::new(),
        duplicates: 0,
        accepted: 0,
    }
}

impl FrameSource for CubeFrames {
    fn frame(&mut self, request: &FrameRequest) -> FrameData {
        self.compute(request)
    }

    /// Re-reads the cubes when the view asks something else, or (live) every second,
    /// or (replay) when the clock moved to another 10 s bucket, at most four times a
    /// second while it runs.
    fn frame_if_changed(&mut self, request: &FrameRequest) -> Option<FrameData> {
        let Some(last) = &self.last else {
            return Some(self.compute(request));
        };
        let now = request.query.now;
        let same_view = last.request == request.at(last.request.query.now);
        let due = if self.live {
            last.computed.elapsed() >= LIVE_REFRESH
        } else {
            now.div_euclid(BUCKET_MS) != last.request.query.now.div_euclid(BUCKET_MS)
                && last.computed.elapsed() >= REPLAY_REFRESH
        };
        (!same_view || due).then(|| self.compute(request))
    }

    fn span(&self) -> (Option<i64>, Option<i64>) {
        self.span
    }
}
