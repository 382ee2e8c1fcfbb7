//! The fast path for the commonest line of all: a valid feedback record. Keys may come
//! in any order; each value is checked against its field's type and range as it is
//! read. Anything unexpected — a missing field, a bad value, an escape — returns `None`
//! and the general decoder takes the line, so errors are reported by one code path only.
//!
//! Lines in the canonical order of DESIGN §2.1 (as `serve` and `simulate` write them,
//! without spaces) take a shorter road still: each key is matched as a literal and its
//! value parsed by type, with no key scanning or dispatch.

use std::borrow::Cow;

use super::fastpath::{number as scan_number, simple_string, skip_ws, walk_flat};
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

fn bounded<'a>(v: &Scalar<'a>, max: usize) -> Option<&'a str> {
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
    let text = std::str::from_utf8(line).ok()?;
    if origin == Origin::Log {
        if let Some(record) = canonical(text) {
            return Some(record);
        }
    }
    any_order(text, origin)
}

/// Reads values in place along one line.
struct Cursor<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn key(&mut self, literal: &str) -> Option<()> {
        let rest = self.text.as_bytes().get(self.i..)?;
        rest.starts_with(literal.as_bytes())
            .then(|| self.i += literal.len())
    }

    fn string(&mut self, max: usize) -> Option<&'a str> {
        if self.text.as_bytes().get(self.i) != Some(&b'"') {
            return None;
        }
        let (s, next) = simple_string(self.text, self.i + 1)?;
        self.i = next;
        bounded(&Scalar::Str(Cow::Borrowed(s)), max)
    }

    fn scalar_number(&mut self) -> Option<Scalar<'static>> {
        let (v, next) = scan_number(self.text.as_bytes(), self.i)?;
        self.i = next;
        Some(v)
    }

    fn int(&mut self) -> Option<i64> {
        int(&self.scalar_number()?)
    }

    fn uint(&mut self) -> Option<u64> {
        uint(&self.scalar_number()?)
    }

    fn number(&mut self, positive: bool) -> Option<f64> {
        number(&self.scalar_number()?, positive)
    }

    /// `Some(None)` for null, `Some(Some(n))` for an integer, `None` for anything else.
    #[allow(clippy::option_option)]
    fn null_or_int(&mut self) -> Option<Option<i64>> {
        if self.key("null").is_some() {
            Some(None)
        } else {
            self.int().map(Some)
        }
    }
}

/// The canonical order: `{"v":1,"peer":…,"srv":…}` with no spaces.
fn canonical(text: &str) -> Option<Feedback<'_>> {
    let mut c = Cursor { text, i: 0 };
    c.key("{\"v\":1,\"peer\":")?;
    let peer = c.string(64)?;
    c.key(",\"session\":")?;
    let session = c.string(64)?;
    c.key(",\"seq\":")?;
    let seq = c.uint()?;
    c.key(",\"ts\":")?;
    let ts = c.int()?;
    c.key(",\"event\":")?;
    let event = match c.string(16)? {
        "join" => Event::Join,
        "report" => Event::Report,
        "leave" => Event::Leave,
        _ => return None,
    };
    c.key(",\"channel\":")?;
    let channel = c.string(32)?;
    let mut numbers = [0.0; 7];
    for (slot, (literal, positive)) in numbers.iter_mut().zip([
        (",\"period_s\":", true),
        (",\"up_kbps\":", false),
        (",\"down_kbps\":", false),
        (",\"server_kbps\":", false),
        (",\"bitrate_kbps\":", true),
        (",\"play_s\":", false),
        (",\"stall_s\":", false),
    ]) {
        c.key(literal)?;
        *slot = c.number(positive)?;
    }
    let [
        period_s,
        up_kbps,
        down_kbps,
        server_kbps,
        bitrate_kbps,
        play_s,
        stall_s,
    ] = numbers;
    c.key(",\"startup_ms\":")?;
    let startup_ms = c.null_or_int()?;
    c.key(",\"buffer_s\":")?;
    let buffer_s = c.number(false)?;
    c.key(",\"partners\":")?;
    let partners = c.uint()?;
    c.key(",\"nat\":")?;
    let nat = match c.string(16)? {
        "open" => Nat::Open,
        "cone" => Nat::Cone,
        "symmetric" => Nat::Symmetric,
        "unknown" => Nat::Unknown,
        _ => return None,
    };
    c.key(",\"player\":")?;
    let player = c.string(32)?;
    c.key(",\"os\":")?;
    let os = c.string(32)?;
    c.key(",\"rtt_ms\":")?;
    let rtt_ms = c.number(false)?;
    c.key(",\"ip\":")?;
    let ip = c.string(256)?;
    c.key(",\"recv\":")?;
    let recv = c.int()?;
    c.key(",\"srv\":")?;
    let srv = c.string(256)?;
    c.key("}")?;
    if skip_ws(text.as_bytes(), c.i) != text.len() {
        return None;
    }
    Some(Feedback {
        peer: Cow::Borrowed(peer),
        session: Cow::Borrowed(session),
        seq,
        ts,
        event,
        channel: Cow::Borrowed(channel),
        period_s,
        up_kbps,
        down_kbps,
        server_kbps,
        bitrate_kbps,
        play_s,
        stall_s,
        startup_ms,
        buffer_s,
        partners,
        nat,
        player: Cow::Borrowed(player),
        os: Cow::Borrowed(os),
        rtt_ms,
        ip: Some(Cow::Borrowed(ip)),
        recv,
        srv: Some(Cow::Borrowed(srv)),
    })
}

/// Keys in any order.
fn any_order(text: &str, origin: Origin) -> Option<Feedback<'_>> {
    let mut p = Partial::default();
    walk_flat(text, |key, v| {
        match key {
            "v" => p.version_ok = int(&v)? == 1,
            "peer" => p.peer = Some(bounded(&v, 64)?),
            "session" => p.session = Some(bounded(&v, 64)?),
            "seq" => p.seq = Some(uint(&v)?),
            "ts" => p.ts = Some(int(&v)?),
            "event" => {
                p.event = Some(match bounded(&v, 16)? {
                    "join" => Event::Join,
                    "report" => Event::Report,
                    "leave" => Event::Leave,
                    _ => return None,
                });
            }
            "channel" => p.channel = Some(bounded(&v, 32)?),
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
                p.nat = Some(match bounded(&v, 16)? {
                    "open" => Nat::Open,
                    "cone" => Nat::Cone,
                    "symmetric" => Nat::Symmetric,
                    "unknown" => Nat::Unknown,
                    _ => return None,
                });
            }
            "player" => p.player = Some(bounded(&v, 32)?),
            "os" => p.os = Some(bounded(&v, 32)?),
            "rtt_ms" => p.numbers[RTT] = Some(number(&v, false)?),
            "ip" => p.ip = Some(bounded(&v, 256)?),
            "recv" => p.recv = Some(int(&v)?),
            "srv" => p.srv = Some(bounded(&v, 256)?),
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

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"v":1,"peer":"p1","session":"s1","seq":120,"ts":1344301200328,"event":"report","channel":"cycling","period_s":30,"up_kbps":769.1,"down_kbps":780.6,"server_kbps":42.2,"bitrate_kbps":415,"play_s":30,"stall_s":0,"startup_ms":null,"buffer_s":5,"partners":20,"nat":"unknown","player":"ps-2.4.2","os":"ios","rtt_ms":50.7,"ip":"223.16.128.62","recv":1344301200087,"srv":"fs1"}"#;

    #[test]
    fn canonical_lines_take_the_short_road_and_agree_with_any_order() {
        let short = canonical(LINE).expect("canonical order");
        assert_eq!(Some(&short), any_order(LINE, Origin::Log).as_ref());
        assert!((short.up_kbps - 769.1).abs() < f64::EPSILON);
        assert_eq!(short.startup_ms, None);
    }

    #[test]
    fn any_deviation_leaves_the_short_road() {
        for line in [
            LINE.replace(r#""v":1,"#, r#""v":1, "#),
            LINE.replace(r#","srv":"fs1""#, ""),
            LINE.replace(r#""nat":"unknown""#, r#""nat":"carrier""#),
            LINE.replace('}', r#","extra":1}"#),
        ] {
            assert_eq!(canonical(&line), None, "{line}");
        }
    }
}
