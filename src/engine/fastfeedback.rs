//! The fast path for the commonest line of all: a valid feedback record. Keys may come
//! in any order; each value is checked against its field's type and range as it is
//! read. Anything unexpected — a missing field, a bad value, an escape — returns `None`
//! and the general decoder takes the line, so errors are reported by one code path only.

use std::borrow::Cow;

use super::fastpath::walk_flat;
use super::record::{Event, Feedback, Nat, Origin};
use super::scalar::Scalar;

#[derive(Default)]
struct Partial<'a> {
    version_ok: bool,
    peer: Option<&'a str>,
    session: Option<&'a str>,
    seq: Option<u64>,
    ts: Option<i64>,
    event: Option<Event>,
    channel: Option<&'a str>,
    numbers: [Option<f64>; 9],
    startup_ms: Option<i64>,
    partners: Option<u64>,
    nat: Option<Nat>,
    player: Option<&'a str>,
    os: Option<&'a str>,
    ip: Option<&'a str>,
    recv: Option<i64>,
    srv: Option<&'a str>,
}

// Positions in `Partial::numbers`.
const PERIOD: usize = 0;
const UP: usize = 1;
const DOWN: usize = 2;
const SERVER: usize = 3;
const BITRATE: usize = 4;
const PLAY: usize = 5;
const STALL: usize = 6;
const BUFFER: usize = 7;
const RTT: usize = 8;

fn text<'a>(v: &Scalar<'a>, max: usize) -> Option<&'a str> {
    match v {
        // Characters never outnumber bytes: count only when the bytes say it matters.
        Scalar::Str(Cow::Borrowed(s))
            if !s.is_empty() && (s.len() <= max || s.chars().count() <= max) =>
        {
            Some(s)
        }
        _ => None,
    }
}

fn int(v: &Scalar) -> Option<i64> {
    match v {
        Scalar::Int(n) => Some(*n),
        _ => None,
    }
}

fn uint(v: &Scalar) -> Option<u64> {
    match v {
        Scalar::Int(n) => u64::try_from(*n).ok(),
        Scalar::BigUint(n) => Some(*n),
        _ => None,
    }
}

#[allow(clippy::cast_precision_loss)]
fn number(v: &Scalar, positive: bool) -> Option<f64> {
    let x = match v {
        Scalar::Int(n) => *n as f64,
        Scalar::BigUint(n) => *n as f64,
        Scalar::Float(x) => *x,
        _ => return None,
    };
    (if positive { x > 0.0 } else { x >= 0.0 }).then_some(x)
}

/// A valid feedback record, or `None` for the general decoder to judge.
pub(crate) fn feedback(line: &[u8], origin: Origin) -> Option<Feedback<'_>> {
    let mut p = Partial::default();
    walk_flat(line, |key, v| {
        match key {
            "v" => p.version_ok = int(&v)? == 1,
            "peer" => p.peer = Some(text(&v, 64)?),
            "session" => p.session = Some(text(&v, 64)?),
            "seq" => p.seq = Some(uint(&v)?),
            "ts" => p.ts = Some(int(&v)?),
            "event" => {
                p.event = Some(match text(&v, 16)? {
                    "join" => Event::Join,
                    "report" => Event::Report,
                    "leave" => Event::Leave,
                    _ => return None,
                });
            }
            "channel" => p.channel = Some(text(&v, 32)?),
            "period_s" => p.numbers[PERIOD] = Some(number(&v, true)?),
            "up_kbps" => p.numbers[UP] = Some(number(&v, false)?),
            "down_kbps" => p.numbers[DOWN] = Some(number(&v, false)?),
            "server_kbps" => p.numbers[SERVER] = Some(number(&v, false)?),
            "bitrate_kbps" => p.numbers[BITRATE] = Some(number(&v, true)?),
            "play_s" => p.numbers[PLAY] = Some(number(&v, false)?),
            "stall_s" => p.numbers[STALL] = Some(number(&v, false)?),
            "startup_ms" => {
                p.startup_ms = match v {
                    Scalar::Null => None,
                    other => Some(int(&other)?),
                }
            }
            "buffer_s" => p.numbers[BUFFER] = Some(number(&v, false)?),
            "partners" => p.partners = Some(uint(&v)?),
            "nat" => {
                p.nat = Some(match text(&v, 16)? {
                    "open" => Nat::Open,
                    "cone" => Nat::Cone,
                    "symmetric" => Nat::Symmetric,
                    "unknown" => Nat::Unknown,
                    _ => return None,
                });
            }
            "player" => p.player = Some(text(&v, 32)?),
            "os" => p.os = Some(text(&v, 32)?),
            "rtt_ms" => p.numbers[RTT] = Some(number(&v, false)?),
            "ip" => p.ip = Some(text(&v, 256)?),
            "recv" => p.recv = Some(int(&v)?),
            "srv" => p.srv = Some(text(&v, 256)?),
            _ => {}
        }
        Some(())
    })?;
    if !p.version_ok {
        return None;
    }
    let n = |i: usize| p.numbers[i];
    let (ip, recv) = match origin {
        Origin::Log => (Some(Cow::Borrowed(p.ip?)), p.recv?),
        Origin::Peer => (p.ip.map(Cow::Borrowed), 0),
    };
    Some(Feedback {
        peer: Cow::Borrowed(p.peer?),
        session: Cow::Borrowed(p.session?),
        seq: p.seq?,
        ts: p.ts?,
        event: p.event?,
        channel: Cow::Borrowed(p.channel?),
        period_s: n(PERIOD)?,
        up_kbps: n(UP)?,
        down_kbps: n(DOWN)?,
        server_kbps: n(SERVER)?,
        bitrate_kbps: n(BITRATE)?,
        play_s: n(PLAY)?,
        stall_s: n(STALL)?,
        startup_ms: p.startup_ms,
        buffer_s: n(BUFFER)?,
        partners: p.partners?,
        nat: p.nat?,
        player: Cow::Borrowed(p.player?),
        os: Cow::Borrowed(p.os?),
        rtt_ms: n(RTT)?,
        ip,
        recv,
        srv: p.srv.map(Cow::Borrowed),
    })
}
