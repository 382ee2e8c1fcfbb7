//! Exact figures: the online rule ([`online`]), additive sums in time buckets
//! ([`bucket`]) and their history at decreasing resolution ([`tiers`]), the QoE formula
//! ([`qoe`]), the whole service's history in the finest buckets that a replay seeds its
//! engine with ([`service`]), and the aggregator `report` runs over one filtered record stream — the
//! exact value of every metric of DESIGN §5.
//!
//! Records must arrive in `recv` order (the recording reader and the live merger both
//! guarantee it within a minute). Per peer it keeps the day and address last seen; per
//! session its start, end and whether its startup delay arrived; per bucket the
//! additive sums of [`BucketStats`]. Online peers follow [`online`], the
//! rule the live engine uses too, with the stream as one cell: each interval's ends are
//! filed as ±1 deltas in time order.

pub mod bucket;
pub mod online;
pub mod qoe;
pub mod service;
pub mod tiers;

use std::collections::BTreeMap;

use rustc_hash::FxHashSet;

use crate::engine::aggregate::bucket::{BucketStats, Series};
use crate::engine::aggregate::online::{Expiry, OnlineTracker};
use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::aggregate::tiers::FINEST_BUCKET_MS;
use crate::engine::calendar::{Calendar, Day};
use crate::engine::observe::observation::Observation;
use crate::engine::record::Event;

/// The one cell of the aggregator's stream.
const STREAM: u32 = 0;

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct PeerTrack {
    last_day: Day,
    last_ip_day: (u32, Day),
}

impl PeerTrack {
    const UNSEEN: PeerTrack = PeerTrack {
        last_day: Day::MIN,
        last_ip_day: (u32::MAX, Day::MIN),
    };
}

/// One view: join → leave on one channel.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionTrack {
    pub peer: u32,
    pub start: i64,
    pub end: i64,
    pub left: bool,
    pub startup_seen: bool,
}

impl SessionTrack {
    /// A view that begins with this record.
    pub fn begin(peer: u32, recv: i64) -> Self {
        SessionTrack {
            peer,
            start: recv,
            end: recv,
            left: false,
            startup_seen: false,
        }
    }

    /// The view's extent after one more of its records (DESIGN §5 "online time"): from its
    /// first record to its leave, or to its last record when it has none.
    pub fn extend(&mut self, recv: i64, event: Event) {
        if !self.left {
            self.start = self.start.min(recv);
            self.end = self.end.max(recv);
            if event == Event::Leave {
                self.end = recv;
                self.left = true;
            }
        }
    }

    pub fn length_ms(&self) -> i64 {
        self.end - self.start
    }
}

/// Per-day peer counts that are not sums over buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DayUsers {
    /// Peers whose first record falls on this day.
    pub new: u32,
    /// Distinct peers with a record on this day.
    pub total: u32,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Aggregator {
    qoe: QoeParams,
    calendar: Calendar,
    buckets: Series,
    /// The same sums in the live engine's finest buckets, when asked for
    /// ([`keep_finest`](Self::keep_finest)).
    finest: Option<Series>,
    /// Online intervals, and beside each peer's tracks its [`PeerTrack`] (`None`: not
    /// met yet).
    online: OnlineTracker<Option<PeerTrack>>,
    sessions: Vec<Option<SessionTrack>>,
    days: BTreeMap<Day, DayUsers>,
    ip_days: FxHashSet<(u32, Day)>,
    accepted: u64,
    latest_recv: i64,
}

impl Aggregator {
    pub fn new(qoe: QoeParams, calendar: Calendar, bucket_ms: i64) -> Self {
        Aggregator {
            qoe,
            calendar,
            buckets: Series::new(bucket_ms),
            finest: None,
            online: OnlineTracker::new(Expiry::AtClose),
            sessions: Vec::new(),
            days: BTreeMap::new(),
            ip_days: FxHashSet::default(),
            accepted: 0,
            latest_recv: i64::MIN,
        }
    }

    /// Also keeps every sum in buckets of [`FINEST_BUCKET_MS`], exactly as the live
    /// engine's whole-service cell holds them: the recording's index keeps them, so that
    /// a replay need not read hours of records for the service's older points.
    #[must_use]
    pub fn keep_finest(mut self) -> Self {
        self.finest = Some(Series::new(FINEST_BUCKET_MS));
        self
    }

    /// A peer seen before the records this aggregator gets: not new when met.
    pub fn know_peer(&mut self, peer: u32) {
        self.online.kept_mut(peer).get_or_insert(PeerTrack::UNSEEN);
    }

    pub fn ingest(&mut self, obs: &Observation) {
        self.accepted += 1;
        self.latest_recv = self.latest_recv.max(obs.payload.recv);
        let recv = obs.payload.recv;
        let day = self.calendar.day_of(recv);
        let bucket = self.buckets.index_of(recv);
        self.buckets.bucket_mut(bucket).records += 1;

        let until = (obs.payload.event != Event::Leave).then(|| obs.payload.online_until());
        let slot = match &mut self.finest {
            None => self.online.record(
                obs.peer,
                STREAM,
                recv,
                until,
                &mut file_online(&mut self.buckets),
            ),
            Some(finest) => self.online.record(
                obs.peer,
                STREAM,
                recv,
                until,
                &mut file_online_in_both(&mut self.buckets, finest),
            ),
        };
        let is_new = slot.is_none();
        let peer = slot.get_or_insert(PeerTrack::UNSEEN);
        if is_new {
            self.buckets.bucket_mut(bucket).new_peers += 1;
            self.days.entry(day).or_default().new += 1;
        }
        if peer.last_day != day {
            peer.last_day = day;
            self.days.entry(day).or_default().total += 1;
        }
        if peer.last_ip_day != (obs.ip, day) {
            peer.last_ip_day = (obs.ip, day);
            self.ip_days.insert((obs.ip, day));
        }
        if let Some(finest) = &mut self.finest {
            let b = finest.bucket_mut(finest.index_of(recv));
            b.records += 1;
            b.new_peers += u32::from(is_new);
        }

        let session = grow(&mut self.sessions, obs.session)
            .get_or_insert(SessionTrack::begin(obs.peer, recv));
        session.extend(recv, obs.payload.event);

        if obs.payload.event == Event::Report {
            let sums = obs.payload.report_sums(&self.qoe);
            let b = self.buckets.bucket_mut(bucket);
            b.add_report(&sums);
            let startup = obs.payload.startup_ms.filter(|_| !session.startup_seen);
            if let Some(startup) = startup {
                session.startup_seen = true;
                b.startups.push(startup);
            }
            if let Some(finest) = &mut self.finest {
                let b = finest.bucket_mut(finest.index_of(recv));
                b.add_report(&sums);
                b.startups.extend(startup);
            }
        }
    }

    /// Files the end of every interval still open: call once the stream is complete.
    /// (Until then an interval's end is filed when the peer's next record cuts it
    /// short; deltas carry their own time, so filing late changes nothing.)
    pub fn close(&mut self) {
        match &mut self.finest {
            None => self.online.close(&mut file_online(&mut self.buckets)),
            Some(finest) => self
                .online
                .close(&mut file_online_in_both(&mut self.buckets, finest)),
        }
    }

    pub fn buckets(&self) -> &Series {
        &self.buckets
    }

    /// The sums in the finest buckets, if [kept](Self::keep_finest), taken out.
    pub fn take_finest(&mut self) -> Option<Series> {
        self.finest.take()
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    pub fn days(&self) -> &BTreeMap<Day, DayUsers> {
        &self.days
    }

    pub fn sessions(&self) -> impl Iterator<Item = &SessionTrack> {
        self.sessions.iter().flatten()
    }

    /// Distinct (ip, day) pairs seen.
    pub fn ip_days(&self) -> &FxHashSet<(u32, Day)> {
        &self.ip_days
    }

    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    pub fn latest_recv(&self) -> Option<i64> {
        (self.latest_recv != i64::MIN).then_some(self.latest_recv)
    }

    pub fn qoe(&self) -> &QoeParams {
        &self.qoe
    }
}

/// Files an online change in the bucket whose end is the first at or after `at`.
fn file_online(buckets: &mut Series) -> impl FnMut(u32, i64, i32) + '_ {
    |_, at, delta| {
        let index = buckets.index_ending_at_or_after(at);
        buckets.bucket_mut(index).online_delta += delta;
    }
}

/// Files an online change in both series (a separate path: report keeps one series, and
/// its per-record filing stays a direct call).
fn file_online_in_both<'a>(
    coarse: &'a mut Series,
    fine: &'a mut Series,
) -> impl FnMut(u32, i64, i32) + 'a {
    let (mut coarse, mut fine) = (file_online(coarse), file_online(fine));
    move |peer, at, delta| {
        coarse(peer, at, delta);
        fine(peer, at, delta);
    }
}

fn grow<T>(v: &mut Vec<Option<T>>, id: u32) -> &mut Option<T> {
    let i = id as usize;
    if i >= v.len() {
        v.resize_with(i + 1, || None);
    }
    &mut v[i]
}

/// Sums of every bucket in `[from, to)`.
pub fn merged(series: &Series, from: i64, to: i64) -> BucketStats {
    let mut total = BucketStats::default();
    for (_, b) in series.range(from, to) {
        total.merge(b);
    }
    total
}
