//! Live sources as a [`FrameSource`]: feedback servers followed through `/v1/tail` (or
//! polled) and local log directories, each on its own thread reporting records and
//! health into one bounded channel, which the engine thread drains when it computes a
//! frame. A dead server is a state in the status bar and on the Overview, never a
//! frozen screen. `peerscope watch` connects one.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::{Duration, Instant};

use chrono_tz::Tz;

use super::follow::{self, Origin};
use super::frames::{FrameData, FrameRequest, FrameSource, Unanswered};
use super::health::{SourceEvent, SourceHealth, SourceState};
use super::live::{HOLD_BACK_MS, LiveFeed};
use super::replay::WARM_UP_MS;
use crate::config::Settings;
use crate::engine::aggregate::tiers::{FINEST_BUCKET_MS, MINUTES_KEPT_MS};
use crate::engine::alerts::{Alert, AlertLog, AlertRules, stale_source};
use crate::engine::calendar::MINUTE_MS;
use crate::engine::explain::explain;
use crate::engine::geography::Geography;
use crate::engine::monitor::Monitor;
use crate::engine::probes::ProbeBook;
use crate::engine::query::filter::Filter;
use crate::geodata::{load_geography, load_ip_geo};
use crate::recording::layout::Stream;
use crate::source::causes::AlertCauses;

/// Probe history read at start: one route-change window of 10-minute rounds.
const PROBE_BACKFILL_MS: i64 = 24 * 3_600_000;

/// How far behind a source's newest `recv` the merge stays: lines a server logs in
/// nearly but not quite `recv` order (concurrent requests) still go in in order.
const WATERMARK_MARGIN_MS: i64 = 200;
/// A caught-up source that delivered nothing new for this long is taken to have had
/// nothing more (its tail long poll answers within a few milliseconds of a write).
const QUIET_MS: i64 = 500;
const QUIET: Duration = Duration::from_millis(QUIET_MS.unsigned_abs());

/// New records make a new frame at most this often: four times a second keeps the
/// screen under a second behind (the freshness bench) for a few per cent of a core.
const RECOMPUTE_ON_RECORDS: Duration = Duration::from_millis(250);

/// The last frame computed, and what it was computed from.
struct LastFrame {
    request: FrameRequest,
    received: (u64, u64, u64),
    computed: Instant,
    data: FrameData,
}

struct Tracked {
    health: SourceHealth,
    caught_up: bool,
    /// Whether the probes and the CMCD streams have read their backlogs.
    probes_caught_up: bool,
    cmcd_caught_up: bool,
    /// When its newest feedback `recv` last moved on (received here).
    advanced: Instant,
}

/// Live sources as the app loop's frame source.
pub struct LiveFrames {
    feed: LiveFeed,
    rx: Receiver<SourceEvent>,
    sources: Vec<Tracked>,
    rules: AlertRules,
    /// The service's alerts over the minutes received.
    alerts: AlertLog,
    /// Where each alert's change is.
    causes: AlertCauses,
    last: Option<LastFrame>,
    tz: Tz,
    from: i64,
    /// Hold lines back this long behind the clock at most (0 for a one-off snapshot).
    hold_back_ms: i64,
    /// Whether sources' watermarks may settle the merge earlier than the hold-back
    /// (off only to measure what they gain).
    watermarks: bool,
    geography: Result<Arc<Geography>, String>,
}

impl LiveFrames {
    fn drain(&mut self) {
        while let Ok(event) = self.rx.try_recv() {
            self.take(event);
        }
    }

    fn take(&mut self, event: SourceEvent) {
        match event {
            SourceEvent::Lines {
                source,
                stream,
                bytes,
                ..
            } => {
                let before = self.feed.newest.get(source).copied().flatten();
                let added = self.feed.add(source, stream, &bytes);
                let moved = self.feed.newest.get(source).copied().flatten() != before;
                if let Some(s) = self.sources.get_mut(source) {
                    if let Err(e) = added {
                        s.health.last_error = Some(format!("recording: {e}"));
                    }
                    if moved {
                        s.advanced = Instant::now();
                    }
                }
            }
            SourceEvent::StreamCaughtUp { source, stream } => {
                if let Some(s) = self.sources.get_mut(source) {
                    match stream {
                        Stream::Cmcd => s.cmcd_caught_up = true,
                        _ => s.probes_caught_up = true,
                    }
                }
            }
            SourceEvent::State {
                source,
                state,
                error,
                caught_up,
            } => {
                if let Some(s) = self.sources.get_mut(source) {
                    s.health.state = state;
                    s.health.last_error = error;
                    s.caught_up = caught_up;
                }
            }
        }
    }

    /// Judges every minute that ended by `settled` (the instant the merged stream is
    /// complete up to) and was not judged yet, starting once the backfill's first
    /// minutes have warmed up: peers online before the backfill are counted only once
    /// they report again, which would look like a flash crowd.
    fn judge_minutes(&mut self, settled: i64) {
        let first = (self.from + WARM_UP_MS).div_euclid(MINUTE_MS) * MINUTE_MS + MINUTE_MS;
        let next = self.alerts.last_minute().map_or(first, |m| m + MINUTE_MS);
        let last = settled.div_euclid(MINUTE_MS) * MINUTE_MS;
        if last < next {
            return;
        }
        // A clock far ahead of what was judged (a long pause): judge what the engine
        // still holds by the minute.
        let next = next.max(last - MINUTES_KEPT_MS);
        let ends = (0..=(last - next) / MINUTE_MS).map(|k| next + k * MINUTE_MS);
        for point in self.feed.monitor().service_minutes(ends) {
            self.alerts.push(point);
        }
    }

    /// Waits until every source has read its backlog or failed, at most `limit`.
    pub fn wait_for_backlog(&mut self, limit: Duration) {
        let until = Instant::now() + limit;
        while self.sources.iter().any(|s| {
            !(s.caught_up && s.probes_caught_up && s.cmcd_caught_up)
                && s.health.state != SourceState::Down
        }) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(event) => self.take(event),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        self.drain();
    }
}

impl FrameSource for LiveFrames {
    fn frame(&mut self, request: &FrameRequest) -> FrameData {
        self.catch_up(request.query.now);
        self.compute(request)
    }

    /// Recomputes the engine's figures only when the view asks something else, new
    /// records came in (at most twice a second), or the clock crossed one of the
    /// finest buckets; otherwise only what sources say about themselves is new, and
    /// only when that changed (a lag in whole seconds, a state). An idle `watch` then
    /// costs a snapshot every 10 s, not one per tick.
    fn frame_if_changed(&mut self, request: &FrameRequest) -> Option<FrameData> {
        let now = request.query.now;
        self.catch_up(now);
        let received = self.received();
        let Some(last) = &self.last else {
            return Some(self.compute(request));
        };
        let same_view = last.request == request.at(last.request.query.now);
        let new_records =
            received != last.received && last.computed.elapsed() >= RECOMPUTE_ON_RECORDS;
        let new_bucket =
            now.div_euclid(FINEST_BUCKET_MS) != last.request.query.now.div_euclid(FINEST_BUCKET_MS);
        if !same_view || new_records || new_bucket {
            return Some(self.compute(request));
        }
        let (health, alerts) = self.health_and_alerts(now);
        let last = self.last.as_mut()?;
        if health == last.data.sources && alerts == last.data.alerts {
            return None;
        }
        last.data.sources = health;
        last.data.alerts = alerts;
        Some(last.data.clone())
    }

    fn span(&self) -> (Option<i64>, Option<i64>) {
        (Some(self.from), None)
    }
}

impl LiveFrames {
    /// Takes what the sources sent, moves what is old enough into the engine, and
    /// judges the minutes that are now complete.
    fn catch_up(&mut self, now: i64) {
        self.drain();
        let settled = self.settled_until(now);
        self.feed.settle(settled, now);
        self.judge_minutes(settled);
    }

    /// The instant the merged stream is complete up to: every source that can still
    /// deliver has delivered past it (its newest `recv`, less a margin for the few
    /// milliseconds a server's log can be out of `recv` order). A source that is down
    /// holds nobody back; one caught up but silent for [`QUIET`] holds the others back
    /// by that long; one still reading its backlog by the whole hold-back. So the
    /// screen is a fraction of a second behind, not the whole hold-back, and a server
    /// whose clock runs behind still has its records merged in order while it sends.
    fn settled_until(&self, now: i64) -> i64 {
        if self.hold_back_ms == 0 {
            return now;
        }
        let floor = now - self.hold_back_ms;
        if !self.watermarks {
            return floor;
        }
        let mut mark = now;
        for (i, s) in self.sources.iter().enumerate() {
            let quiet = s.advanced.elapsed() >= QUIET;
            match (s.health.state, s.caught_up, self.feed.newest[i]) {
                (SourceState::Down, ..) => {}
                // Delivering: complete up to what it delivered (whatever its clock).
                (_, true, Some(newest)) if !quiet => mark = mark.min(newest),
                // Caught up and silent: its open long poll would have brought anything
                // it had, so it holds the others back by the quiet time only.
                (_, true, _) => mark = mark.min(now - QUIET_MS),
                _ => return floor,
            }
        }
        (mark - WATERMARK_MARGIN_MS).clamp(floor, now)
    }

    /// How much the engine has taken in: records, skipped lines and probe rounds.
    fn received(&self) -> (u64, u64, u64) {
        (
            self.feed.monitor().accepted(),
            self.feed.skipped,
            self.feed.probes().accepted(),
        )
    }

    /// Each source's state, lag and bytes at `now`, and the alerts as of `now` (a
    /// source silent for too long is one), each with where its change is.
    fn health_and_alerts(&mut self, now: i64) -> (Vec<SourceHealth>, Vec<Alert>) {
        let mut alerts = self.alerts.as_of(now);
        let (monitor, slow) = (self.feed.monitor(), self.rules.startup_p90_above_ms);
        self.causes
            .annotate(&mut alerts, now, |q| Some(monitor.explain_cube(q, slow)));
        let mut health = Vec::with_capacity(self.sources.len());
        for (i, s) in self.sources.iter().enumerate() {
            let mut h = s.health.clone();
            // Whole seconds: what the screen shows, so a lag that moves by less is
            // no reason to redraw.
            h.lag_ms = self.feed.newest[i].map(|n| (now - n).max(0) / 1000 * 1000);
            h.bytes = self.feed.bytes[i];
            if h.state == SourceState::Ok {
                if let Some(alert) = stale_source(&self.rules, h.lag_ms, now) {
                    h.state = SourceState::Stale;
                    alerts.push(alert);
                }
            }
            health.push(h);
        }
        (health, alerts)
    }

    fn compute(&mut self, request: &FrameRequest) -> FrameData {
        let now = request.query.now;
        let snapshot = self.feed.monitor().snapshot(&request.query);
        let (sources, alerts) = self.health_and_alerts(now);
        let monitor = self.feed.monitor();
        let explanation = request.explain.as_ref().map(|q| {
            explain(
                &monitor.explain_cube(q, self.rules.startup_p90_above_ms),
                q.target,
            )
        });
        let data = FrameData {
            snapshot,
            probes: self.feed.probes().snapshot(&request.probes),
            alerts,
            next_alert: None,
            rules: self.rules,
            sources,
            skipped: self.feed.skipped,
            damaged: Vec::new(),
            start: Some(self.from),
            end: None,
            loading: (self.feed.waiting() > 0
                && self.hold_back_ms > 0
                && self.sources.iter().any(|s| !s.caught_up))
            .then(|| "reading backlog…".to_owned()),
            tz: self.tz,
            geography: self.geography.clone(),
            explanation,
            unanswered: Unanswered::default(),
        };
        self.last = Some(LastFrame {
            request: request.clone(),
            received: self.received(),
            computed: Instant::now(),
            data: data.clone(),
        });
        data
    }
}

impl LiveFrames {
    /// Starts following every origin from `from` (probes from a day before the clock
    /// at most, so route-change scores have their recent past), recording what comes in
    /// under `record` when given.
    pub fn connect(
        origins: Vec<Origin>,
        settings: &Settings,
        from: i64,
        clock: i64,
        record: Option<PathBuf>,
    ) -> anyhow::Result<LiveFrames> {
        let geography = load_geography(settings);
        let geo = load_ip_geo(settings, geography.clone().ok())?;
        let names: Vec<String> = origins.iter().map(Origin::name).collect();
        let (tx, rx) = sync_channel(1024);
        let probes_from = from.min(clock - PROBE_BACKFILL_MS);
        for (i, origin) in origins.into_iter().enumerate() {
            follow::spawn(origin.clone(), Stream::Feedback, i, from, tx.clone());
            follow::spawn(origin.clone(), Stream::Probes, i, probes_from, tx.clone());
            follow::spawn(origin, Stream::Cmcd, i, from, tx.clone());
        }
        drop(tx);
        let record = record.map(|root| (root, names.clone()));
        let mut monitor = Monitor::new(geo, settings.qoe);
        if let Ok(g) = &geography {
            monitor = monitor.with_geography(Arc::clone(g));
        }
        Ok(LiveFrames {
            geography,
            feed: LiveFeed::new(
                monitor,
                ProbeBook::new(settings.route_change),
                names.len(),
                record,
            ),
            rx,
            sources: names
                .into_iter()
                .map(|name| Tracked {
                    health: SourceHealth {
                        name,
                        state: SourceState::Loading,
                        lag_ms: None,
                        last_error: None,
                        bytes: 0,
                    },
                    caught_up: false,
                    probes_caught_up: false,
                    cmcd_caught_up: false,
                    advanced: Instant::now(),
                })
                .collect(),
            rules: settings.alerts,
            alerts: AlertLog::new(settings.alerts),
            causes: AlertCauses::default(),
            last: None,
            tz: settings.timezone,
            from,
            hold_back_ms: HOLD_BACK_MS,
            watermarks: true,
        })
    }

    /// Checks that every name a filter holds is one there is: ISPs and districts of the
    /// location table, channels among those the sources have delivered so far.
    pub fn check_filter(&self, filter: &Filter) -> Result<(), String> {
        let catalog = self.feed.monitor().catalog();
        let channels: Vec<&str> = catalog.channels.names().collect();
        filter.check_names(&catalog.geo, &channels)
    }

    /// The whole hold-back always, as before watermarks: what the freshness bench
    /// compares with.
    pub fn without_watermarks(&mut self) {
        self.watermarks = false;
    }

    /// For a one-off frame: every line read goes into the engine, none is held back.
    pub fn hold_nothing_back(&mut self) {
        self.hold_back_ms = 0;
    }
}
