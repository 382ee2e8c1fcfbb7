//! From CMCD reports to the feedback records §5's metrics are defined on, one session
//! (`sid`) at a time. A CMCD player says what state it is in and when (`sta`, `ts`);
//! a 2012 peer said how long it played and stalled over each period. The tracker keeps
//! each session's last state and turns the time between reports into play and stall
//! seconds, and emits:
//!
//! - a `join` at the session's first report (`period_s` = CMCD's default reporting
//!   interval, 30 s, so the session is online until its first time-interval report);
//! - a `report` at each time-interval report (`e=t`, or a report without `e`: request
//!   mode) at least [`MIN_PERIOD_MS`] after the previous record it emitted, covering the
//!   time since then; event reports in between only move the state;
//! - a `report` and a `leave` when the player ends (`sta` = `e`, `f` or `q`).
//!
//! What CMCD cannot say is NaN in the payload, and the aggregates leave it out: upload
//! and the part served by CDN servers (so upload, contribution and P2P share show "–"),
//! the download rate without `mtp`, QoE without `br`. The README's CMCD table is the
//! contract; the tests below hold this code to it.

use rustc_hash::FxHashMap;

use super::Report;
use crate::engine::record::{Event, FeedbackCore, Payload};

/// The join's period: CTA-5004-B's default time interval for event reports.
pub const DEFAULT_INTERVAL_S: f64 = 30.0;
/// Reports closer than this to the previous emitted record are folded into the next
/// one: a time-interval report sent right at start would otherwise carry a period of a
/// few milliseconds, and its peer would count as offline a moment later.
pub const MIN_PERIOD_MS: i64 = 5_000;
/// The longest gap between two reports that counts as play or stall: after twice the
/// period (at least a minute) without a report, the session was offline (§5), and the
/// player's state over the gap is unknown.
const MIN_GAP_CAP_MS: i64 = 60_000;
/// Sessions silent this long are forgotten (their next report is a new join).
const FORGET_AFTER_MS: i64 = 3_600_000;
/// Distinct reports remembered per session to drop retried copies.
const RECENT: usize = 4;

/// A player state, as `sta` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum State {
    Playing,
    Rebuffering,
    /// Starting, seeking, paused, waiting or preloading: neither play nor stall.
    Other,
    /// Ended, fatal error or quit: the view is over.
    Ended,
}

impl State {
    fn of(token: &str) -> Option<State> {
        Some(match token {
            "p" => State::Playing,
            "r" => State::Rebuffering,
            "s" | "k" | "a" | "w" | "d" => State::Other,
            "e" | "f" | "q" => State::Ended,
            _ => return None,
        })
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Session {
    channel: String,
    ip: String,
    /// Player clock (`ts`) of the newest report taken.
    last_ts: i64,
    state: Option<State>,
    /// Player clock of the last emitted record.
    emitted_ts: i64,
    period_s: f64,
    bitrate_kbps: f64,
    throughput_kbps: f64,
    play_ms: f64,
    stall_ms: f64,
    startup_ms: Option<i64>,
    startup_sent: bool,
    seq: u64,
    last_recv: i64,
    recent: [u64; RECENT],
    next_recent: usize,
}

/// What the tracker reads of one report, taken from it once: a reader thread turns a
/// minute's reports into these, so the reports need not be held whole until their turn
/// (a CDN's minute may hold hundreds of thousands).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    sid: String,
    ts: Option<i64>,
    /// `e`, `sta`, `sn` and `ot`, hashed: with the time, what tells one report from
    /// another of the same session.
    identity: u64,
    state: Option<State>,
    /// A time-interval report (`e=t`), or one without `e` (request mode).
    interval: bool,
    cid: Option<String>,
    bitrate_kbps: Option<i64>,
    throughput_kbps: Option<i64>,
    startup_ms: Option<i64>,
    stalled_ms: i64,
    paused: bool,
}

impl Reading {
    /// `None` for a report without a session id (a checked report always has one).
    pub fn of(report: &Report) -> Option<Reading> {
        use std::hash::{Hash, Hasher};
        let sid = report.text("sid")?.to_owned();
        let event = report.text("e");
        let mut h = rustc_hash::FxHasher::default();
        event.hash(&mut h);
        report.text("sta").hash(&mut h);
        report.int("sn").hash(&mut h);
        // Request mode without `ts` or `sn` (CMCD v1): the audio and video requests of
        // one millisecond are two reports.
        report.text("ot").hash(&mut h);
        Some(Reading {
            sid,
            ts: report.int("ts"),
            identity: h.finish(),
            state: report.text("sta").and_then(State::of),
            interval: matches!(event, None | Some("t")),
            cid: report.text("cid").map(str::to_owned),
            // hls.js sends `br=(0)` for a stream whose playlist gives no bandwidth:
            // unknown.
            bitrate_kbps: report.video_int("br").filter(|&br| br > 0),
            throughput_kbps: report.int("mtp"),
            startup_ms: report.int("msd"),
            stalled_ms: report.int_sum("bsd").unwrap_or(0).max(0),
            // A playback rate of 0 says the player is not playing.
            paused: match report.first("pr") {
                Some(super::Bare::Int(n)) => *n == 0,
                Some(super::Bare::Dec(x)) => *x == 0.0,
                _ => false,
            },
        })
    }

    pub fn sid(&self) -> &str {
        &self.sid
    }
}

/// The channel of a session that has not said its content id.
pub const NO_CONTENT_ID: &str = "(no cid)";

/// Every session's state; feed it reports in `recv` order.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct CmcdSessions {
    sessions: FxHashMap<String, Session>,
    last_sweep: i64,
    /// Retried copies dropped.
    pub duplicates: u64,
}

impl CmcdSessions {
    pub fn new() -> Self {
        CmcdSessions::default()
    }

    /// [`push`](Self::push) of a report's [`Reading`].
    pub fn push_report(
        &mut self,
        report: &Report,
        recv: i64,
        ip: &str,
        emit: impl FnMut(FeedbackCore<'_>),
    ) {
        if let Some(reading) = Reading::of(report) {
            self.push(&reading, recv, ip, emit);
        }
    }

    /// Takes one checked report accepted at `recv` from `ip`, calling `emit` with each
    /// feedback record it derives (none, one, or a report and a leave).
    pub fn push(
        &mut self,
        report: &Reading,
        recv: i64,
        ip: &str,
        mut emit: impl FnMut(FeedbackCore<'_>),
    ) {
        self.sweep(recv);
        let sid = report.sid.as_str();
        let ts = report.ts.unwrap_or(recv);
        let fingerprint = fingerprint(report, ts);
        let state = report.state;
        // Checked before anything else: a retried copy of the report that ended a view
        // must not start another.
        if self
            .sessions
            .get(sid)
            .is_some_and(|s| s.recent.contains(&fingerprint))
        {
            self.duplicates += 1;
            return;
        }
        let known = self
            .sessions
            .get(sid)
            .is_some_and(|s| s.state != Some(State::Ended));
        if !known {
            let s = Session::start(report, ts, recv, ip);
            let s = self
                .sessions
                .entry(sid.to_owned())
                .insert_entry(s)
                .into_mut();
            s.remember(fingerprint);
            s.take(report, ts, state);
            emit(s.record(sid, Event::Join, DEFAULT_INTERVAL_S, recv));
            if s.state == Some(State::Ended) {
                emit(s.record(sid, Event::Leave, DEFAULT_INTERVAL_S, recv));
            }
            return;
        }
        let Some(session) = self.sessions.get_mut(sid) else {
            return;
        };
        session.remember(fingerprint);
        session.last_recv = recv;
        if !ip.is_empty() {
            ip.clone_into(&mut session.ip);
        }
        if ts >= session.last_ts {
            session.count_time(report, ts);
            session.take(report, ts, state);
        } else {
            // A late copy of an older report: its numbers, not its state.
            session.take(report, session.last_ts, None);
        }
        let ended = session.state == Some(State::Ended);
        let interval = report.interval;
        let due = session.last_ts - session.emitted_ts >= MIN_PERIOD_MS;
        if ended || (interval && due) {
            let cap = session.gap_cap_ms();
            let span = (session.last_ts - session.emitted_ts).clamp(0, cap);
            let period_s = (span as f64 / 1000.0).max(0.001);
            emit(session.report(sid, period_s, recv));
            if ended {
                let period = session.period_s;
                emit(session.record(sid, Event::Leave, period, recv));
            }
        }
    }

    fn sweep(&mut self, recv: i64) {
        if recv - self.last_sweep < FORGET_AFTER_MS / 6 {
            return;
        }
        self.last_sweep = recv;
        self.sessions
            .retain(|_, s| recv - s.last_recv < FORGET_AFTER_MS && s.state != Some(State::Ended));
    }
}

/// What tells one report from another of the same session.
fn fingerprint(report: &Reading, ts: i64) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    ts.hash(&mut h);
    report.identity.hash(&mut h);
    h.finish()
}

impl Session {
    fn start(report: &Reading, ts: i64, recv: i64, ip: &str) -> Session {
        Session {
            channel: report.cid.as_deref().unwrap_or(NO_CONTENT_ID).to_owned(),
            ip: ip.to_owned(),
            last_ts: ts,
            state: None,
            emitted_ts: ts,
            period_s: DEFAULT_INTERVAL_S,
            bitrate_kbps: f64::NAN,
            throughput_kbps: f64::NAN,
            play_ms: 0.0,
            stall_ms: 0.0,
            startup_ms: None,
            startup_sent: false,
            seq: 0,
            last_recv: recv,
            recent: [u64::MAX; RECENT],
            next_recent: 0,
        }
    }

    fn remember(&mut self, fingerprint: u64) {
        self.recent[self.next_recent] = fingerprint;
        self.next_recent = (self.next_recent + 1) % RECENT;
    }

    fn gap_cap_ms(&self) -> i64 {
        ((2000.0 * self.period_s) as i64).max(MIN_GAP_CAP_MS)
    }

    /// Play and stall over the time since the last report, by the state the player was
    /// in; without any `sta`, by `bsd` (stall) and the rest as play.
    fn count_time(&mut self, report: &Reading, ts: i64) {
        let elapsed = (ts - self.last_ts).clamp(0, self.gap_cap_ms()) as f64;
        match self.state {
            Some(State::Playing) => self.play_ms += elapsed,
            Some(State::Rebuffering) => self.stall_ms += elapsed,
            Some(State::Other | State::Ended) => {}
            None => {
                let stalled = (report.stalled_ms as f64).min(elapsed);
                self.stall_ms += stalled;
                if !report.paused {
                    self.play_ms += elapsed - stalled;
                }
            }
        }
    }

    /// The report's numbers and state, now the session's.
    fn take(&mut self, report: &Reading, ts: i64, state: Option<State>) {
        self.last_ts = ts;
        if let Some(s) = state {
            self.state = Some(s);
        }
        if let Some(cid) = &report.cid {
            if *cid != self.channel {
                cid.clone_into(&mut self.channel);
            }
        }
        if let Some(br) = report.bitrate_kbps {
            self.bitrate_kbps = br as f64;
        }
        if let Some(mtp) = report.throughput_kbps {
            self.throughput_kbps = mtp as f64;
        }
        if let (Some(msd), false) = (report.startup_ms, self.startup_sent) {
            self.startup_ms = Some(msd);
            self.startup_sent = true;
        }
    }

    fn report<'a>(&'a mut self, sid: &'a str, period_s: f64, recv: i64) -> FeedbackCore<'a> {
        let play_s = self.play_ms / 1000.0;
        let stall_s = self.stall_ms / 1000.0;
        self.play_ms = 0.0;
        self.stall_ms = 0.0;
        self.emitted_ts = self.last_ts;
        self.period_s = period_s.max(MIN_PERIOD_MS as f64 / 1000.0);
        let startup_ms = self.startup_ms.take();
        self.seq += 1;
        let payload = Payload {
            seq: self.seq,
            recv,
            event: Event::Report,
            period_s,
            up_kbps: f64::NAN,
            down_kbps: self.throughput_kbps,
            server_kbps: f64::NAN,
            bitrate_kbps: self.bitrate_kbps,
            play_s,
            stall_s,
            startup_ms,
        };
        self.core(sid, payload)
    }

    fn record<'a>(
        &'a mut self,
        sid: &'a str,
        event: Event,
        period_s: f64,
        recv: i64,
    ) -> FeedbackCore<'a> {
        self.seq += 1;
        let payload = Payload {
            seq: self.seq,
            recv,
            event,
            period_s,
            up_kbps: f64::NAN,
            down_kbps: f64::NAN,
            server_kbps: f64::NAN,
            bitrate_kbps: f64::NAN,
            play_s: 0.0,
            stall_s: 0.0,
            startup_ms: None,
        };
        self.core(sid, payload)
    }

    fn core<'a>(&'a self, sid: &'a str, payload: Payload) -> FeedbackCore<'a> {
        FeedbackCore {
            peer: sid,
            session: sid,
            channel: &self.channel,
            ip: &self.ip,
            payload,
        }
    }
}
