//! Turning views into feedback records, minute by minute, as feedback servers log them.
//!
//! A sweep walks the clock one minute at a time; every view active in the minute emits
//! its join, its 30-second reports and its leave. Each record goes to one of the servers
//! (round robin as nginx would), arrives after a network delay (`recv`), and a few are
//! retried by the client and so also land on another server later (duplicates). The
//! minute file of recv-minute m is complete once every event before the end of m has been
//! emitted, since `recv` never precedes the event. With `--format cmcd` an event becomes
//! the CMCD reports of [`cmcd`](super::cmcd), some of them up to 25 s after the event:
//! their minutes stay pending until the walk passes them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, mpsc};

use super::cmcd;
use super::faults::{self, Effect};
use super::olympics::{CHANNELS, FLASH_TROUBLE, NATS, OSES, PLAYERS, Population, User, View};
use super::rng::{Rng, mix};
use crate::engine::cmcd::json;
use crate::engine::record::fields::F;
use crate::recording::layout::Stream;

pub const MINUTE_MS: i64 = 60_000;
pub(super) const REPORT_MS: i64 = 30_000;

/// What the simulated players send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The 2012 P2P player's feedback records (DESIGN §2.1), in the `feedback` stream
    #[default]
    Feedback,
    /// CMCD v2 event-mode reports, in the `cmcd` stream (POSTed to `/v1/cmcd` live)
    Cmcd,
}

#[derive(Debug, Clone, Copy)]
pub struct EmitKnobs {
    pub seed: u64,
    pub servers: usize,
    pub duplicate_share: f64,
    /// Each peer on the server its name hashes to, retries included.
    pub affinity: bool,
    pub malformed_share: f64,
    pub format: Format,
}

/// One finished minute file: its stream, server index, minute start and sorted lines.
pub struct MinuteOut {
    pub stream: Stream,
    pub server: usize,
    pub minute_ms: i64,
    pub text: Vec<u8>,
    pub records: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Join,
    Report(u32),
    Leave,
}

pub(super) struct Event {
    pub(super) at: i64,
    view: usize,
    pub(super) kind: Kind,
}

#[derive(Default)]
struct ServerMinute {
    text: Vec<u8>,
    lines: Vec<(i64, u32, u32)>,
}

#[derive(Default)]
pub struct Totals {
    pub records: u64,
    pub duplicates: u64,
    pub malformed: u64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.records += other.records;
        self.duplicates += other.duplicates;
        self.malformed += other.malformed;
    }
}

/// One step of the walk over a scenario: a record to emit.
struct Step<'a> {
    event: &'a Event,
    view: &'a View,
    user: &'a User,
    seq: u64,
    effect: Effect,
}

/// An event with its peer's message number: what a minute's emission needs of the
/// walk before it.
struct Numbered {
    event: Event,
    seq: u64,
}

/// Lists every minute of [from, to) with its events in time order, each numbered in
/// its peer's sequence: the only state a minute carries to the next.
fn plan(pop: &Population, from: i64, to: i64, mut each_minute: impl FnMut(i64, Vec<Numbered>)) {
    let mut seq = vec![0u64; pop.users.len()];
    let mut active: Vec<usize> = Vec::new();
    let mut next_view = 0;
    let mut events = Vec::new();
    let first_minute = from.div_euclid(MINUTE_MS);
    let last_minute = (to - 1).div_euclid(MINUTE_MS);
    for minute in first_minute..=last_minute {
        let lo = (minute * MINUTE_MS).max(from);
        let hi = ((minute + 1) * MINUTE_MS).min(to);
        while next_view < pop.views.len() && pop.views[next_view].start < hi {
            if pop.views[next_view].end >= from {
                active.push(next_view);
            }
            next_view += 1;
        }
        events.clear();
        active.retain(|&i| {
            let v = &pop.views[i];
            view_events(v, i, lo, hi, &mut events);
            v.end >= hi
        });
        events.sort_by_key(|e| (e.at, e.view));
        let numbered = events
            .drain(..)
            .map(|event| {
                let s = &mut seq[pop.views[event.view].user as usize];
                *s += 1;
                Numbered { event, seq: *s - 1 }
            })
            .collect();
        each_minute(minute, numbered);
    }
}

/// The steps of one minute's events; the random stream is the minute's own, so a
/// step's draws depend only on its minute, and minutes can be emitted apart.
fn emit_minute(
    pop: &Population,
    seed: u64,
    minute: i64,
    events: &[Numbered],
    step: &mut impl FnMut(&mut Rng, Step<'_>),
) {
    let mut rng = Rng::new(seed, 0x5EED_0000 ^ minute as u64);
    for Numbered { event: e, seq } in events {
        let view = &pop.views[e.view];
        let user = &pop.users[view.user as usize];
        step(
            &mut rng,
            Step {
                event: e,
                view,
                user,
                seq: *seq,
                effect: faults::effect(&pop.faults, user, view, e.at),
            },
        );
    }
}

/// Walks every event with time in [from, to) in time order, numbering each peer's
/// messages.
fn walk(pop: &Population, seed: u64, from: i64, to: i64, mut step: impl FnMut(&mut Rng, Step<'_>)) {
    plan(pop, from, to, |minute, events| {
        emit_minute(pop, seed, minute, &events, &mut step);
    });
}

/// A record as its peer sends it (no `recv`/`srv`; the `ip` it believes it has).
pub struct PeerRecord {
    pub at: i64,
    pub ip: String,
    pub peer: String,
    pub seq: u64,
    pub body: Vec<u8>,
}

/// Every record with event time in [from, to), in time order of their events, as peers
/// send them: feedback records as JSON, CMCD reports in the text form with their `ts`
/// moved by `cmcd_clock` (a live run's shift into the present).
pub fn each_record(
    pop: &Population,
    seed: u64,
    from: i64,
    to: i64,
    format: Format,
    cmcd_clock: i64,
    mut f: impl FnMut(PeerRecord),
) {
    walk(pop, seed, from, to, |rng, step| {
        let Step {
            event,
            view,
            user,
            seq,
            effect,
        } = step;
        if format == Format::Cmcd {
            for (at, report) in cmcd::reports(rng, event, view, effect, cmcd_clock) {
                f(PeerRecord {
                    at,
                    ip: user.ip.clone(),
                    peer: user.peer.clone(),
                    seq,
                    body: crate::engine::cmcd::text::to_text(&report).into_bytes(),
                });
            }
            return;
        }
        let mut body = record_body(rng, event, view, user, seq, effect);
        body.push(b'}');
        f(PeerRecord {
            at: event.at,
            ip: user.ip.clone(),
            peer: user.peer.clone(),
            seq,
            body,
        });
    });
}

/// What one minute's events left in the servers' minute files (by `recv` minute, then
/// server), and their counts.
#[derive(Default)]
struct Emitted {
    files: BTreeMap<i64, Vec<ServerMinute>>,
    totals: Totals,
}

/// Server `srv`'s file of the minute holding `recv`.
fn file_of(
    files: &mut BTreeMap<i64, Vec<ServerMinute>>,
    servers: usize,
    recv: i64,
    srv: usize,
) -> &mut ServerMinute {
    let slot = files
        .entry(recv.div_euclid(MINUTE_MS))
        .or_insert_with(|| (0..servers).map(|_| ServerMinute::default()).collect());
    &mut slot[srv]
}

/// Emits every record with event time in [from, to), calling `sink` per finished file.
///
/// Minutes are emitted on a thread per core (each has its own random stream) and their
/// lines filed in minute order, so the files are those of one thread, byte for byte;
/// this thread only sorts and hands on finished files. A file of `recv` minute m is
/// finished once the events of minute m are filed, since `recv` never precedes the
/// event (with CMCD, once those of m + 1 are).
pub fn sweep(
    pop: &Population,
    k: EmitKnobs,
    from: i64,
    to: i64,
    sink: impl FnMut(MinuteOut),
) -> Totals {
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    sweep_on(pop, k, (from, to), workers, sink)
}

/// [`sweep`] with `workers` threads emitting minutes.
fn sweep_on(
    pop: &Population,
    k: EmitKnobs,
    (from, to): (i64, i64),
    workers: usize,
    mut sink: impl FnMut(MinuteOut),
) -> Totals {
    let stream = match k.format {
        Format::Feedback => Stream::Feedback,
        Format::Cmcd => Stream::Cmcd,
    };
    // Per `recv` minute, what each event minute filed for it, in event-minute order.
    let mut pending: BTreeMap<i64, Vec<Vec<ServerMinute>>> = BTreeMap::new();
    let mut totals = Totals::default();
    std::thread::scope(|scope| {
        let (job_tx, job_rx) = mpsc::sync_channel::<(i64, Vec<Numbered>)>(workers * 2);
        // Held by the workers alone: if they all stop, the planner's sends fail.
        let job_rx = Arc::new(Mutex::new(job_rx));
        // Bounded too: when the writers lag, this thread waits on them, and the workers
        // and the planner wait on it, instead of heaping up emitted minutes.
        let (done_tx, done_rx) = mpsc::sync_channel::<(i64, Emitted)>(workers);
        for _ in 0..workers {
            let (job_rx, done_tx) = (Arc::clone(&job_rx), done_tx.clone());
            scope.spawn(move || {
                loop {
                    let Ok(Ok((minute, events))) = job_rx.lock().map(|rx| rx.recv()) else {
                        return;
                    };
                    let mut out = Emitted::default();
                    emit_minute(pop, k.seed, minute, &events, &mut |rng, step| {
                        emit_record(&k, to, rng, &step, &mut out);
                    });
                    if done_tx.send((minute, out)).is_err() {
                        return;
                    }
                }
            });
        }
        drop((job_rx, done_tx));
        scope.spawn(move || {
            plan(pop, from, to, |minute, events| {
                // A send fails only when every worker has stopped, which the scope reports.
                let _ = job_tx.send((minute, events));
            });
        });
        let mut arrived: BTreeMap<i64, Emitted> = BTreeMap::new();
        let mut next = from.div_euclid(MINUTE_MS);
        for (minute, out) in done_rx {
            arrived.insert(minute, out);
            while let Some(out) = arrived.remove(&next) {
                totals.add(&out.totals);
                for (m, servers) in out.files {
                    pending.entry(m).or_default().push(servers);
                }
                let done = next - i64::from(k.format == Format::Cmcd);
                while let Some(entry) = pending.first_entry() {
                    if *entry.key() > done {
                        break;
                    }
                    let (m, parts) = entry.remove_entry();
                    flush(stream, m, &parts, k.servers, &mut sink);
                }
                next += 1;
            }
        }
    });
    for (m, parts) in std::mem::take(&mut pending) {
        flush(stream, m, &parts, k.servers, &mut sink);
    }
    totals
}

/// A record's copies, each filed in its server's minute.
fn emit_record(k: &EmitKnobs, to: i64, rng: &mut Rng, step: &Step<'_>, out: &mut Emitted) {
    let Emitted { files, totals } = out;
    let Step {
        event: e,
        view: v,
        user,
        seq: this_seq,
        effect,
    } = *step;
    #[allow(clippy::cast_possible_truncation)]
    let recv = e.at + rng.lognormal(80.0, 0.7).min(3000.0) as i64;
    // The same draws with or without affinity, so that both write the same
    // records and differ only in where.
    let round_robin = rng.below(k.servers as u64) as usize;
    let home = if k.affinity {
        peer_server(&user.peer, k.servers)
    } else {
        round_robin
    };
    let mut copies = vec![(home, recv)];
    if k.servers > 1 && rng.chance(k.duplicate_share) {
        // The client timed out and retried; round robin sent it elsewhere, a
        // coordinator hashing on the peer to the same server.
        #[allow(clippy::cast_possible_truncation)]
        let again = recv + rng.uniform(1000.0, 5000.0) as i64;
        let elsewhere = (round_robin + 1 + rng.below(k.servers as u64 - 1) as usize) % k.servers;
        copies.push((if k.affinity { home } else { elsewhere }, again));
        totals.duplicates += 1;
    }
    if k.format == Format::Cmcd {
        let delay = recv - e.at;
        let reports = cmcd::reports(rng, e, v, effect, i64::from(user.clock_skew_ms));
        for (srv, first) in copies {
            // A retry resends the event's reports, each as late as the first.
            for (at, report) in &reports {
                let recv = at + delay + (first - recv);
                if recv >= to {
                    continue;
                }
                let sm = file_of(files, k.servers, recv, srv);
                let start = sm.text.len();
                let name = format!("fs{}", srv + 1);
                json::log_line(report, &user.ip, recv, &name, &mut sm.text);
                sm.lines.push((recv, offset(start), offset(sm.text.len())));
                totals.records += 1;
                if rng.chance(k.malformed_share) {
                    // A line cut short, as a crash mid-write leaves it.
                    let cut = sm.text[start..].len() / 2;
                    let bad = sm.text[start..start + cut].to_vec();
                    let start = sm.text.len();
                    sm.text.extend_from_slice(&bad);
                    sm.lines.push((recv, offset(start), offset(sm.text.len())));
                    totals.malformed += 1;
                }
            }
        }
        return;
    }
    let body = record_body(rng, e, v, user, this_seq, effect);
    for (srv, recv) in copies {
        if recv >= to {
            // The recording ends at `to` by the servers' clocks.
            continue;
        }
        let sm = file_of(files, k.servers, recv, srv);
        let start = sm.text.len();
        sm.text.extend_from_slice(&body);
        push_stamp(&mut sm.text, recv, srv);
        sm.lines.push((recv, offset(start), offset(sm.text.len())));
        totals.records += 1;
        if rng.chance(k.malformed_share) {
            let bad = malformed(rng, &sm.text[start..]);
            let start = sm.text.len();
            sm.text.extend_from_slice(&bad);
            sm.lines.push((recv, offset(start), offset(sm.text.len())));
            totals.malformed += 1;
        }
    }
}

fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("a minute file under 4 GiB")
}

/// Server by server, the lines every part filed for `minute`, sorted by `recv`; the
/// sort is stable and the parts are in the order they were filed, so lines of one
/// instant keep the order of their events.
fn flush(
    stream: Stream,
    minute: i64,
    parts: &[Vec<ServerMinute>],
    servers: usize,
    sink: &mut impl FnMut(MinuteOut),
) {
    for server in 0..servers {
        let mut lines: Vec<(i64, usize, u32, u32)> = parts
            .iter()
            .enumerate()
            .flat_map(|(p, part)| {
                part[server]
                    .lines
                    .iter()
                    .map(move |&(r, a, b)| (r, p, a, b))
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        lines.sort_by_key(|l| l.0);
        let size: usize = parts.iter().map(|part| part[server].text.len()).sum();
        let mut text = Vec::with_capacity(size + lines.len());
        for (_, p, a, b) in &lines {
            text.extend_from_slice(&parts[*p][server].text[*a as usize..*b as usize]);
            text.push(b'\n');
        }
        sink(MinuteOut {
            stream,
            server,
            minute_ms: minute * MINUTE_MS,
            text,
            records: lines.len() as u64,
        });
    }
}

/// The events of view `v` with time in [lo, hi).
fn view_events(v: &View, index: usize, lo: i64, hi: i64, out: &mut Vec<Event>) {
    if (lo..hi).contains(&v.start) {
        out.push(Event {
            at: v.start,
            view: index,
            kind: Kind::Join,
        });
    }
    // Reports k = 1, 2, … at start + 30 s·k, with a little jitter, while before the end.
    let first_k = ((lo - v.start - 1000).div_euclid(REPORT_MS)).max(1);
    let mut k = first_k;
    loop {
        let at = report_time(v, k);
        if at >= hi || at >= v.end {
            break;
        }
        if at >= lo {
            out.push(Event {
                at,
                view: index,
                kind: Kind::Report(u32::try_from(k).unwrap_or(u32::MAX)),
            });
        }
        k += 1;
    }
    if v.leaves && (lo..hi).contains(&v.end) {
        out.push(Event {
            at: v.end,
            view: index,
            kind: Kind::Leave,
        });
    }
}

fn report_time(v: &View, k: i64) -> i64 {
    #[allow(clippy::cast_possible_wrap)]
    let jitter = (mix(v.id ^ k as u64) % 600) as i64 - 300;
    v.start + k * REPORT_MS + jitter
}

/// The keys come from the record schema's table, in its (the canonical) order, so the
/// lines take the log reader's shortest road.
fn record_body(
    rng: &mut Rng,
    e: &Event,
    v: &View,
    user: &User,
    seq: u64,
    effect: Effect,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(400);
    b.extend_from_slice(b"{\"v\":1");
    push_text(&mut b, F::Peer, user.peer.as_bytes());
    push_key(&mut b, F::Session);
    b.extend_from_slice(b"\"s");
    push_hex(&mut b, v.id);
    b.push(b'"');
    push_key(&mut b, F::Seq);
    push_int(&mut b, seq);
    push_key(&mut b, F::Ts);
    push_int(&mut b, e.at + i64::from(user.clock_skew_ms));
    let event = match e.kind {
        Kind::Join => "join",
        Kind::Report(_) => "report",
        Kind::Leave => "leave",
    };
    push_text(&mut b, F::Event, event.as_bytes());
    let (channel, _, bitrate) = CHANNELS[usize::from(v.channel)];
    push_text(&mut b, F::Channel, channel.as_bytes());
    push_key(&mut b, F::PeriodS);
    let (nat, _, up_factor) = NATS[usize::from(user.nat)];
    let Playback {
        bitrate,
        stall_chance,
    } = playback(v, bitrate, e.at, effect);
    match e.kind {
        Kind::Report(k) => {
            let period = 30.0;
            push_tenths(&mut b, period);
            let down = bitrate * rng.uniform(1.85, 2.25);
            let up = down * up_factor * rng.uniform(0.7, 1.3);
            let server = down * rng.uniform(0.05, 0.25);
            let chance_stall = if rng.chance(stall_chance) {
                (rng.uniform(0.5, 12.0) * 10.0).round() / 10.0
            } else {
                0.0
            };
            // A fault's stall adds to the chance one, within the period.
            let stall = (chance_stall + (effect.stall * period * 10.0).round() / 10.0).min(period);
            for (f, value) in [
                (F::UpKbps, up),
                (F::DownKbps, down),
                (F::ServerKbps, server),
                (F::BitrateKbps, bitrate),
                (F::PlayS, period - stall),
                (F::StallS, stall),
            ] {
                push_key(&mut b, f);
                push_tenths(&mut b, value);
            }
            push_key(&mut b, F::StartupMs);
            if k == 1 {
                #[allow(clippy::cast_possible_truncation)]
                let startup = (rng.lognormal(if v.crowd { 6000.0 } else { 2500.0 }, 0.6)
                    * effect.startup) as i64;
                push_int(&mut b, startup);
            } else {
                b.extend_from_slice(b"null");
            }
        }
        Kind::Join | Kind::Leave => {
            push_tenths(&mut b, 30.0);
            for f in [F::UpKbps, F::DownKbps, F::ServerKbps] {
                push_key(&mut b, f);
                b.push(b'0');
            }
            push_key(&mut b, F::BitrateKbps);
            push_tenths(&mut b, bitrate);
            for f in [F::PlayS, F::StallS] {
                push_key(&mut b, f);
                b.push(b'0');
            }
            push_key(&mut b, F::StartupMs);
            b.extend_from_slice(b"null");
        }
    }
    push_key(&mut b, F::BufferS);
    push_tenths(
        &mut b,
        if matches!(e.kind, Kind::Report(_)) {
            rng.uniform(4.0, 30.0)
        } else {
            0.0
        },
    );
    push_key(&mut b, F::Partners);
    push_int(
        &mut b,
        if matches!(e.kind, Kind::Join) {
            0
        } else {
            4 + rng.below(36)
        },
    );
    push_text(&mut b, F::Nat, nat.as_bytes());
    push_text(
        &mut b,
        F::Player,
        PLAYERS[usize::from(user.player)].as_bytes(),
    );
    push_text(&mut b, F::Os, OSES[usize::from(user.os)].as_bytes());
    push_key(&mut b, F::RttMs);
    push_tenths(&mut b, rng.lognormal(40.0, 0.5));
    push_text(&mut b, F::Ip, user.ip.as_bytes());
    b
}

/// How a view plays at an instant, whatever its player reports: the bitrate (cut by a
/// quarter for the flash crowd's views in its trouble, and by a fault) and the chance
/// that a 30-second period holds a stall. Both formats draw their periods from this.
pub(super) struct Playback {
    pub(super) bitrate: f64,
    pub(super) stall_chance: f64,
}

pub(super) fn playback(v: &View, channel_bitrate: f64, at: i64, effect: Effect) -> Playback {
    let troubled = (FLASH_TROUBLE.0..FLASH_TROUBLE.1).contains(&at);
    let bitrate = if troubled && v.crowd {
        channel_bitrate * 0.75
    } else {
        channel_bitrate
    } * effect.bitrate;
    let stall_chance = match (troubled, v.crowd) {
        (true, true) => 0.45,
        (true, false) => 0.25,
        (false, _) => 0.03,
    };
    Playback {
        bitrate,
        stall_chance,
    }
}

/// What a feedback server adds: its clock and its name.
fn push_stamp(b: &mut Vec<u8>, recv: i64, server: usize) {
    push_key(b, F::Recv);
    push_int(b, recv);
    push_key(b, F::Srv);
    b.extend_from_slice(b"\"fs");
    push_int(b, server as u64 + 1);
    b.extend_from_slice(b"\"}");
}

/// `,"name":` of a field.
fn push_key(b: &mut Vec<u8>, f: F) {
    b.extend_from_slice(f.field().key.as_bytes());
}

/// A string field whose value needs no escaping.
fn push_text(b: &mut Vec<u8>, f: F, value: &[u8]) {
    push_key(b, f);
    b.push(b'"');
    b.extend_from_slice(value);
    b.push(b'"');
}

fn push_int(b: &mut Vec<u8>, n: impl itoa::Integer) {
    b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Writes `x` rounded to one decimal, without a trailing `.0`.
fn push_tenths(b: &mut Vec<u8>, x: f64) {
    #[allow(clippy::cast_possible_truncation)]
    let tenths = (x * 10.0).round() as i64;
    push_int(b, tenths / 10);
    let frac = (tenths % 10).unsigned_abs();
    if frac != 0 {
        b.push(b'.');
        b.push(b'0' + u8::try_from(frac).unwrap_or(0));
    }
}

fn push_hex(b: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..16).rev() {
        b.push(HEX[((n >> (i * 4)) & 0xf) as usize]);
    }
}

/// A damaged copy of a good line, of one of the kinds real logs show.
fn malformed(rng: &mut Rng, good: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(good);
    match rng.below(5) {
        0 => good[..good.len() / 2].to_vec(),
        1 => text
            .replacen("\"seq\":", "\"seq\":\"", 1)
            .replacen(",\"ts\"", "\",\"ts\"", 1)
            .into_bytes(),
        2 => text.replacen("\"channel\":", "\"chanel\":", 1).into_bytes(),
        3 => b"\xff\xfe{\"v\":1,\"peer\":\"\xc3\"}".to_vec(),
        _ => text
            .replacen("\"period_s\":", "\"period_s\":-", 1)
            .into_bytes(),
    }
}

/// The server a coordinator hashing on the peer's name sends it to (FNV-1a).
fn peer_server(peer: &str, servers: usize) -> usize {
    let hash = peer.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    #[allow(clippy::cast_possible_truncation)]
    let server = (hash % servers as u64) as usize;
    server
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::olympics::{FLASH_AT_MS, FLASH_DAY, Knobs, population};

    /// Minutes emitted on several threads, finishing in any order, make the files of
    /// one thread: lines filed in minute order, retried and damaged lines included.
    #[test]
    fn the_files_do_not_depend_on_the_number_of_threads() {
        let knobs = Knobs {
            seed: 5,
            users: 177_245.0 * 0.02,
            peak: 7000.0 * 0.02,
        };
        let pop = population(knobs, FLASH_DAY - 1..FLASH_DAY + 1);
        let span = (FLASH_AT_MS - 20 * MINUTE_MS, FLASH_AT_MS + 10 * MINUTE_MS);
        for format in [Format::Feedback, Format::Cmcd] {
            let k = EmitKnobs {
                seed: 5,
                servers: 3,
                duplicate_share: 0.05,
                affinity: false,
                malformed_share: 0.01,
                format,
            };
            let files = |workers| {
                let mut files = Vec::new();
                let totals = sweep_on(&pop, k, span, workers, |m| {
                    files.push((m.server, m.minute_ms, m.records, m.text));
                });
                (files, totals.records, totals.duplicates, totals.malformed)
            };
            let one = files(1);
            assert!(one.0.len() > 60 && one.2 > 0 && one.3 > 0, "{format:?}");
            for workers in [2, 5] {
                assert!(one == files(workers), "{format:?} on {workers} threads");
            }
        }
    }

    #[test]
    fn tenths_are_compact() {
        let mut b = Vec::new();
        for x in [30.0, 853.44, 0.05, 12.96] {
            push_tenths(&mut b, x);
            b.push(b' ');
        }
        assert_eq!(String::from_utf8(b).expect("utf8"), "30 853.4 0.1 13 ");
    }
}
