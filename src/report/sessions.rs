//! `report --by session`: one row per session (a 2012 player's view, a CMCD `sid`),
//! with what its viewer got: the bitrate, the throughput, the stall, continuity, QoE
//! and start-up delay. The window figures of §5, over one session's reports instead of
//! one window's.

use rustc_hash::FxHashMap;

use super::output::{Cell, Table, names};
use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::calendar::{Calendar, Day};
use crate::engine::geography::location::Location;
use crate::engine::observe::catalog::Catalog;
use crate::engine::observe::observation::Observation;
use crate::engine::record::Event;

/// A period-weighted mean: Σ value × period / Σ period over the values known.
#[derive(Debug, Clone, Copy, Default)]
struct Weighted {
    sum: f64,
    weight: f64,
}

impl Weighted {
    fn add(&mut self, value: f64, period_s: f64) {
        if value.is_finite() && period_s > 0.0 {
            self.sum += value * period_s;
            self.weight += period_s;
        }
    }

    fn mean(self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.sum / self.weight)
    }
}

#[derive(Debug, Clone)]
struct Session {
    channel: u32,
    location: Location,
    start: i64,
    end: i64,
    reports: u64,
    bitrate: Weighted,
    down: Weighted,
    play_s: f64,
    stall_s: f64,
    mos_sum: f64,
    mos_n: u64,
    startup_ms: Option<i64>,
}

/// Every session's figures, fed the records a report reads (after dedup and filter).
#[derive(Debug)]
pub struct SessionTable {
    qoe: QoeParams,
    sessions: FxHashMap<u32, Session>,
}

impl SessionTable {
    pub fn new(qoe: QoeParams) -> Self {
        SessionTable {
            qoe,
            sessions: FxHashMap::default(),
        }
    }

    pub fn add(&mut self, o: &Observation) {
        let p = &o.payload;
        let s = self.sessions.entry(o.session).or_insert_with(|| Session {
            channel: o.channel,
            location: o.location,
            start: p.recv,
            end: p.recv,
            reports: 0,
            bitrate: Weighted::default(),
            down: Weighted::default(),
            play_s: 0.0,
            stall_s: 0.0,
            mos_sum: 0.0,
            mos_n: 0,
            startup_ms: None,
        });
        // The latest channel and place: a viewer who changed channel is on the last.
        s.channel = o.channel;
        s.location = o.location;
        s.start = s.start.min(p.recv);
        s.end = s.end.max(p.recv);
        if p.event != Event::Report {
            return;
        }
        s.reports += 1;
        s.bitrate.add(p.bitrate_kbps, p.period_s);
        s.down.add(p.down_kbps, p.period_s);
        // §5: a report with no play and no stall is out of continuity and QoE.
        if p.play_s + p.stall_s > 0.0 {
            s.play_s += p.play_s;
            s.stall_s += p.stall_s;
        }
        if let Some(mos) = self.qoe.mos(p.bitrate_kbps, p.play_s, p.stall_s) {
            s.mos_sum += mos;
            s.mos_n += 1;
        }
        if s.startup_ms.is_none() {
            s.startup_ms = p.startup_ms;
        }
    }

    /// The rows, by start then session; only the sessions that started on `day` when
    /// given (a view belongs to the day it started, §5).
    pub fn table(&self, catalog: &Catalog, calendar: &Calendar, day: Option<Day>) -> Table {
        let mut rows: Vec<(&u32, &Session)> = self
            .sessions
            .iter()
            .filter(|(_, s)| day.is_none_or(|d| calendar.day_of(s.start) == d))
            .collect();
        let name = |id: u32| catalog.sessions.name(id);
        rows.sort_by(|a, b| a.1.start.cmp(&b.1.start).then(name(*a.0).cmp(name(*b.0))));
        let geo = &catalog.geo;
        let rows = rows
            .into_iter()
            .map(|(&id, s)| {
                let watched = s.play_s + s.stall_s;
                #[allow(clippy::cast_precision_loss)]
                let qoe = (s.mos_n > 0).then(|| s.mos_sum / s.mos_n as f64);
                #[allow(clippy::cast_precision_loss)]
                let view_min = (s.end - s.start) as f64 / 60_000.0;
                vec![
                    Cell::Text(name(id).to_owned()),
                    Cell::Text(catalog.channels.name(s.channel).to_owned()),
                    Cell::Text(geo.isp_name(s.location.isp).to_owned()),
                    Cell::Text(geo.district_name(s.location.district).to_owned()),
                    Cell::Text(calendar.minute_label(s.start)),
                    Cell::Num(Some(view_min), 1),
                    Cell::Int(i64::try_from(s.reports).unwrap_or(i64::MAX)),
                    Cell::Num(s.bitrate.mean(), 0),
                    Cell::Num(s.down.mean(), 0),
                    Cell::Num(Some(s.stall_s), 1),
                    Cell::Num((watched > 0.0).then(|| s.play_s / watched), 4),
                    Cell::Num(qoe, 2),
                    s.startup_ms.map_or(Cell::Missing, Cell::Int),
                ]
            })
            .collect();
        Table {
            columns: names(&[
                "session",
                "channel",
                "isp",
                "district",
                "start",
                "view_min",
                "reports",
                "bitrate_kbps",
                "down_kbps",
                "stall_s",
                "continuity",
                "qoe",
                "startup_ms",
            ]),
            rows,
        }
    }
}
