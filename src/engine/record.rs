//! Feedback and probe records (DESIGN §2): decoding and validation.
//!
//! A record is decoded in one pass over the line with borrowed strings, then each
//! field is checked in plain code so that every rejection names its field and quotes
//! the bad value. Rejections carry a [`Reason`] so that skipped lines can be counted
//! by cause, which the TUI and `report` show.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::fastpath::scan_flat;
use super::scalar::{Scalar, not_an_object, visit_object};

/// Longest accepted identifiers, in characters (DESIGN §2.1).
const PEER_MAX: usize = 64;
const SESSION_MAX: usize = 64;
const CHANNEL_MAX: usize = 32;
const LABEL_MAX: usize = 32;
/// Longest accepted free-form strings elsewhere (IP text, server name, probe names).
const TEXT_MAX: usize = 256;

/// The longest line any part of peerscope reads or accepts as one record, in bytes:
/// readers of logs and recordings skip (and count) longer lines without holding them,
/// and `serve --max-record` (64 KiB by default) may not be set above it.
pub const MAX_LINE: usize = 1 << 20;

impl RecordError {
    /// A line longer than [`MAX_LINE`], skipped unread.
    pub fn line_too_long() -> Self {
        RecordError {
            reason: Reason::TooLong,
            field: None,
            detail: format!("line over the limit of {MAX_LINE} bytes, skipped unread"),
        }
    }
}

/// Why a line was skipped. The names are stable: they appear in `report`'s JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    InvalidJson,
    NotAnObject,
    MissingField,
    WrongType,
    OutOfRange,
    TooLong,
    UnknownValue,
}

impl Reason {
    pub const ALL: [Reason; 7] = [
        Reason::InvalidJson,
        Reason::NotAnObject,
        Reason::MissingField,
        Reason::WrongType,
        Reason::OutOfRange,
        Reason::TooLong,
        Reason::UnknownValue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reason::InvalidJson => "invalid_json",
            Reason::NotAnObject => "not_an_object",
            Reason::MissingField => "missing_field",
            Reason::WrongType => "wrong_type",
            Reason::OutOfRange => "out_of_range",
            Reason::TooLong => "too_long",
            Reason::UnknownValue => "unknown_value",
        }
    }
}

/// A rejected record: the reason, the field when one is to blame, and a message
/// that quotes the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct RecordError {
    pub reason: Reason,
    pub field: Option<&'static str>,
    pub detail: String,
}

impl RecordError {
    fn field(reason: Reason, field: &'static str, detail: impl Into<String>) -> Self {
        RecordError {
            reason,
            field: Some(field),
            detail: detail.into(),
        }
    }

    fn describe(&self) -> String {
        match self.field {
            Some(field) => format!("field `{field}`: {}", self.detail),
            None => self.detail.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Join,
    Report,
    Leave,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nat {
    Open,
    Cone,
    Symmetric,
    Unknown,
}

/// Whether the record comes from a log (server-stamped) or straight from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A log line: `recv` is required, `srv` optional but checked.
    Log,
    /// A peer's POST: `recv` and `srv` are the server's to add; `ip` may be absent.
    Peer,
}

/// One feedback message (DESIGN §2.1), borrowing its strings from the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback<'a> {
    pub peer: Cow<'a, str>,
    pub session: Cow<'a, str>,
    pub seq: u64,
    pub ts: i64,
    pub event: Event,
    pub channel: Cow<'a, str>,
    pub period_s: f64,
    pub up_kbps: f64,
    pub down_kbps: f64,
    pub server_kbps: f64,
    pub bitrate_kbps: f64,
    pub play_s: f64,
    pub stall_s: f64,
    pub startup_ms: Option<i64>,
    pub buffer_s: f64,
    pub partners: u64,
    pub nat: Nat,
    pub player: Cow<'a, str>,
    pub os: Cow<'a, str>,
    pub rtt_ms: f64,
    pub ip: Option<Cow<'a, str>>,
    /// Server clock at acceptance, ms since epoch; 0 for a record straight from a peer.
    pub recv: i64,
    pub srv: Option<Cow<'a, str>>,
}

/// One hop of a probe's forward path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub ip: String,
    pub asn: Option<u32>,
}

/// One probe × destination × round measurement (DESIGN §2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRecord<'a> {
    pub probe: Cow<'a, str>,
    pub dest: Cow<'a, str>,
    pub group: Cow<'a, str>,
    pub ts: i64,
    pub rtt_ms: f64,
    pub loss_fwd: f64,
    pub loss_rev: f64,
    pub reorder_fwd: f64,
    pub reorder_rev: f64,
    pub samples: u64,
    pub hops: Option<Vec<Hop>>,
    pub recv: i64,
    pub srv: Option<Cow<'a, str>>,
}

impl ProbeRecord<'_> {
    /// The record with every string owned, to keep past the line it came from.
    pub fn into_owned(self) -> ProbeRecord<'static> {
        ProbeRecord {
            probe: Cow::Owned(self.probe.into_owned()),
            dest: Cow::Owned(self.dest.into_owned()),
            group: Cow::Owned(self.group.into_owned()),
            ts: self.ts,
            rtt_ms: self.rtt_ms,
            loss_fwd: self.loss_fwd,
            loss_rev: self.loss_rev,
            reorder_fwd: self.reorder_fwd,
            reorder_rev: self.reorder_rev,
            samples: self.samples,
            hops: self.hops,
            recv: self.recv,
            srv: self.srv.map(|s| Cow::Owned(s.into_owned())),
        }
    }
}

const FEEDBACK_FIELDS: [&str; 24] = [
    "v",
    "peer",
    "session",
    "seq",
    "ts",
    "event",
    "channel",
    "period_s",
    "up_kbps",
    "down_kbps",
    "server_kbps",
    "bitrate_kbps",
    "play_s",
    "stall_s",
    "startup_ms",
    "buffer_s",
    "partners",
    "nat",
    "player",
    "os",
    "rtt_ms",
    "ip",
    "recv",
    "srv",
];

/// Position of a field in [`FEEDBACK_FIELDS`]; a `match` compiles to a length switch and one
/// comparison, and every key of every line goes through here.
fn feedback_field(key: &str) -> Option<usize> {
    match key {
        "v" => Some(0),
        "peer" => Some(1),
        "session" => Some(2),
        "seq" => Some(3),
        "ts" => Some(4),
        "event" => Some(5),
        "channel" => Some(6),
        "period_s" => Some(7),
        "up_kbps" => Some(8),
        "down_kbps" => Some(9),
        "server_kbps" => Some(10),
        "bitrate_kbps" => Some(11),
        "play_s" => Some(12),
        "stall_s" => Some(13),
        "startup_ms" => Some(14),
        "buffer_s" => Some(15),
        "partners" => Some(16),
        "nat" => Some(17),
        "player" => Some(18),
        "os" => Some(19),
        "rtt_ms" => Some(20),
        "ip" => Some(21),
        "recv" => Some(22),
        "srv" => Some(23),
        _ => None,
    }
}

const PROBE_FIELDS: [&str; 14] = [
    "v",
    "probe",
    "dest",
    "group",
    "ts",
    "rtt_ms",
    "loss_fwd",
    "loss_rev",
    "reorder_fwd",
    "reorder_rev",
    "samples",
    "hops",
    "recv",
    "srv",
];

/// Position of a field in [`PROBE_FIELDS`]; a `match` compiles to a length switch and one
/// comparison, and every key of every line goes through here.
fn probe_field(key: &str) -> Option<usize> {
    match key {
        "v" => Some(0),
        "probe" => Some(1),
        "dest" => Some(2),
        "group" => Some(3),
        "ts" => Some(4),
        "rtt_ms" => Some(5),
        "loss_fwd" => Some(6),
        "loss_rev" => Some(7),
        "reorder_fwd" => Some(8),
        "reorder_rev" => Some(9),
        "samples" => Some(10),
        "hops" => Some(11),
        "recv" => Some(12),
        "srv" => Some(13),
        _ => None,
    }
}

/// The raw fields of one object, in the order of a field table.
struct Slots<'a, const N: usize> {
    lookup: fn(&str) -> Option<usize>,
    values: [Option<Scalar<'a>>; N],
}

impl<'a, const N: usize> Slots<'a, N> {
    fn take(&mut self, name: &'static str) -> Option<Scalar<'a>> {
        let i = (self.lookup)(name)?;
        self.values[i].take()
    }

    fn required(&mut self, name: &'static str) -> Result<Scalar<'a>, RecordError> {
        match self.take(name) {
            Some(v) => Ok(v),
            None => Err(RecordError::field(Reason::MissingField, name, "missing")),
        }
    }

    fn int(&mut self, name: &'static str) -> Result<i64, RecordError> {
        let v = self.required(name)?;
        as_int(name, &v)
    }

    fn uint(&mut self, name: &'static str) -> Result<u64, RecordError> {
        match self.required(name)? {
            Scalar::BigUint(n) => Ok(n),
            v => {
                let n = as_int(name, &v)?;
                u64::try_from(n).map_err(|_| {
                    RecordError::field(Reason::OutOfRange, name, format!("must be ≥ 0, got {n}"))
                })
            }
        }
    }

    fn number(&mut self, name: &'static str, check: Range) -> Result<f64, RecordError> {
        let v = self.required(name)?;
        let x = as_number(name, &v)?;
        check.test(name, x)
    }

    fn string(&mut self, name: &'static str, max: usize) -> Result<Cow<'a, str>, RecordError> {
        let v = self.required(name)?;
        as_string(name, v, max)
    }

    fn optional_string(
        &mut self,
        name: &'static str,
        max: usize,
    ) -> Result<Option<Cow<'a, str>>, RecordError> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => as_string(name, v, max).map(Some),
        }
    }

    fn version(&mut self) -> Result<(), RecordError> {
        match self.int("v")? {
            1 => Ok(()),
            n => Err(RecordError::field(
                Reason::UnknownValue,
                "v",
                format!("schema version {n} is not supported (expected 1)"),
            )),
        }
    }
}

#[derive(Clone, Copy)]
enum Range {
    NonNegative,
    Positive,
    Fraction,
}

impl Range {
    fn test(self, name: &'static str, x: f64) -> Result<f64, RecordError> {
        let ok = match self {
            Range::NonNegative => x >= 0.0,
            Range::Positive => x > 0.0,
            Range::Fraction => (0.0..=1.0).contains(&x),
        };
        if ok {
            return Ok(x);
        }
        let want = match self {
            Range::NonNegative => "≥ 0",
            Range::Positive => "> 0",
            Range::Fraction => "between 0 and 1",
        };
        Err(RecordError::field(
            Reason::OutOfRange,
            name,
            format!("must be {want}, got {x}"),
        ))
    }
}

fn wrong_type(name: &'static str, want: &str, got: &Scalar) -> RecordError {
    let shown = match got {
        Scalar::Str(s) => format!("{} {:?}", got.kind(), truncate(s, 40)),
        Scalar::Float(x) => format!("{} {x}", got.kind()),
        Scalar::Bool(b) => format!("{} {b}", got.kind()),
        _ => got.kind().to_owned(),
    };
    RecordError::field(
        Reason::WrongType,
        name,
        format!("expected {want}, got {shown}"),
    )
}

fn as_int(name: &'static str, v: &Scalar) -> Result<i64, RecordError> {
    match v {
        Scalar::Int(n) => Ok(*n),
        Scalar::BigUint(n) => Err(RecordError::field(
            Reason::OutOfRange,
            name,
            format!("{n} is too large"),
        )),
        other => Err(wrong_type(name, "an integer", other)),
    }
}

fn as_number(name: &'static str, v: &Scalar) -> Result<f64, RecordError> {
    #[allow(clippy::cast_precision_loss)] // kbps and seconds: f64 is exact far beyond real values
    match v {
        Scalar::Int(n) => Ok(*n as f64),
        Scalar::BigUint(n) => Ok(*n as f64),
        Scalar::Float(x) => Ok(*x),
        other => Err(wrong_type(name, "a number", other)),
    }
}

fn as_string<'a>(
    name: &'static str,
    v: Scalar<'a>,
    max: usize,
) -> Result<Cow<'a, str>, RecordError> {
    match v {
        Scalar::Str(s) => {
            let chars = s.chars().count();
            if chars > max {
                Err(RecordError::field(
                    Reason::TooLong,
                    name,
                    format!(
                        "{chars} characters, at most {max} allowed: {:?}",
                        truncate(&s, 40)
                    ),
                ))
            } else if s.is_empty() {
                Err(RecordError::field(
                    Reason::OutOfRange,
                    name,
                    "must not be empty",
                ))
            } else {
                Ok(s)
            }
        }
        other => Err(wrong_type(name, "a string", &other)),
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn one_of<T: Copy>(
    name: &'static str,
    v: &Scalar,
    choices: &[(&str, T)],
) -> Result<T, RecordError> {
    let Scalar::Str(s) = v else {
        return Err(wrong_type(name, "a string", v));
    };
    choices
        .iter()
        .find(|(n, _)| *n == s.as_ref())
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            RecordError::field(
                Reason::UnknownValue,
                name,
                format!("{:?} is not one of {}", truncate(s, 40), names.join(", ")),
            )
        })
}

/// The serde decoder of one record type, filling its slots.
type GeneralDecoder<'a, const N: usize> =
    fn(&'a [u8]) -> Result<[Option<Scalar<'a>>; N], RecordError>;

/// Decodes one line into its slots: the fast path for flat records, else serde.
fn decode_slots<'a, const N: usize>(
    line: &'a [u8],
    lookup: fn(&str) -> Option<usize>,
    general: GeneralDecoder<'a, N>,
) -> Result<Slots<'a, N>, RecordError> {
    let mut values = std::array::from_fn(|_| None);
    if FAST_PATH.with(std::cell::Cell::get) && scan_flat(line, lookup, &mut values).is_some() {
        return Ok(Slots { lookup, values });
    }
    Ok(Slots {
        lookup,
        values: general(line)?,
    })
}

thread_local! {
    /// Off only in the differential test that compares the two decoders.
    static FAST_PATH: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

#[cfg(test)]
pub(crate) fn with_general_decoder<T>(f: impl FnOnce() -> T) -> T {
    FAST_PATH.with(|c| c.set(false));
    let out = f();
    FAST_PATH.with(|c| c.set(true));
    out
}

/// Decodes one line with serde, mapping JSON errors to a reason.
fn decode<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, RecordError> {
    serde_json::from_slice::<T>(line).map_err(|e| {
        let reason = if e.is_data() {
            Reason::NotAnObject
        } else {
            Reason::InvalidJson
        };
        let mut detail = e.to_string();
        if reason == Reason::InvalidJson {
            detail = format!("invalid JSON: {detail}");
        }
        RecordError {
            reason,
            field: None,
            detail,
        }
    })
}

macro_rules! slots_deserialize {
    ($ty:ident, $fields:ident, $lookup:ident) => {
        struct $ty<'a>(Slots<'a, { $fields.len() }>);

        impl<'de> Deserialize<'de> for $ty<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a record object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                        let mut slots: Slots<'de, { $fields.len() }> = Slots {
                            lookup: $lookup,
                            values: std::array::from_fn(|_| None),
                        };
                        visit_object(map, $lookup, &mut slots.values)?;
                        Ok($ty(slots))
                    }
                    fn visit_seq<A: serde::de::SeqAccess<'de>>(
                        self,
                        _: A,
                    ) -> Result<Self::Value, A::Error> {
                        Err(not_an_object("an array"))
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

slots_deserialize!(FeedbackSlots, FEEDBACK_FIELDS, feedback_field);
slots_deserialize!(ProbeSlots, PROBE_FIELDS, probe_field);

/// JSON is UTF-8 (RFC 8259), but serde skips over the values of fields it does not
/// know without checking them: a peer's record must not carry such bytes into the log,
/// where no JSON reader would accept the line. (Lines already in logs are read as they
/// are, so old logs read as before.)
fn peer_sends_utf8(line: &[u8], origin: Origin) -> Result<(), RecordError> {
    match std::str::from_utf8(line) {
        Err(e) if origin == Origin::Peer => Err(RecordError {
            reason: Reason::InvalidJson,
            field: None,
            detail: format!("invalid JSON: not UTF-8 at byte {}", e.valid_up_to()),
        }),
        _ => Ok(()),
    }
}

/// Parses and validates one feedback line (no trailing newline).
pub fn parse_feedback(line: &[u8], origin: Origin) -> Result<Feedback<'_>, RecordError> {
    if FAST_PATH.with(std::cell::Cell::get) {
        if let Some(record) = super::fastfeedback::feedback(line, origin) {
            return Ok(record);
        }
    }
    // Only here: the fast paths take nothing but UTF-8 already.
    peer_sends_utf8(line, origin)?;
    let mut s = decode_slots(line, feedback_field, |l| {
        decode::<FeedbackSlots>(l).map(|f| f.0.values)
    })?;
    s.version()?;
    let startup_ms = match s.take("startup_ms") {
        // Absent is read as null: the value is only sent once per session.
        None | Some(Scalar::Null) => None,
        Some(v) => Some(as_int("startup_ms", &v)?),
    };
    let event = one_of(
        "event",
        &s.required("event")?,
        &[
            ("join", Event::Join),
            ("report", Event::Report),
            ("leave", Event::Leave),
        ],
    )?;
    let nat = one_of(
        "nat",
        &s.required("nat")?,
        &[
            ("open", Nat::Open),
            ("cone", Nat::Cone),
            ("symmetric", Nat::Symmetric),
            ("unknown", Nat::Unknown),
        ],
    )?;
    let record = Feedback {
        peer: s.string("peer", PEER_MAX)?,
        session: s.string("session", SESSION_MAX)?,
        seq: s.uint("seq")?,
        ts: s.int("ts")?,
        event,
        channel: s.string("channel", CHANNEL_MAX)?,
        period_s: s.number("period_s", Range::Positive)?,
        up_kbps: s.number("up_kbps", Range::NonNegative)?,
        down_kbps: s.number("down_kbps", Range::NonNegative)?,
        server_kbps: s.number("server_kbps", Range::NonNegative)?,
        bitrate_kbps: s.number("bitrate_kbps", Range::Positive)?,
        play_s: s.number("play_s", Range::NonNegative)?,
        stall_s: s.number("stall_s", Range::NonNegative)?,
        startup_ms,
        buffer_s: s.number("buffer_s", Range::NonNegative)?,
        partners: s.uint("partners")?,
        nat,
        player: s.string("player", LABEL_MAX)?,
        os: s.string("os", LABEL_MAX)?,
        rtt_ms: s.number("rtt_ms", Range::NonNegative)?,
        ip: match origin {
            Origin::Log => Some(s.string("ip", TEXT_MAX)?),
            Origin::Peer => s.optional_string("ip", TEXT_MAX)?,
        },
        recv: match origin {
            Origin::Log => s.int("recv")?,
            Origin::Peer => 0,
        },
        srv: s.optional_string("srv", TEXT_MAX)?,
    };
    Ok(record)
}

/// Parses and validates one probe line (no trailing newline).
pub fn parse_probe(line: &[u8], origin: Origin) -> Result<ProbeRecord<'_>, RecordError> {
    peer_sends_utf8(line, origin)?;
    let mut s = decode_slots(line, probe_field, |l| {
        decode::<ProbeSlots>(l).map(|f| f.0.values)
    })?;
    s.version()?;
    let hops = match s.take("hops") {
        None | Some(Scalar::Null) => None,
        Some(_) => Some(parse_hops(line)?),
    };
    Ok(ProbeRecord {
        probe: s.string("probe", LABEL_MAX)?,
        dest: s.string("dest", TEXT_MAX)?,
        group: s.string("group", TEXT_MAX)?,
        ts: s.int("ts")?,
        rtt_ms: s.number("rtt_ms", Range::NonNegative)?,
        loss_fwd: s.number("loss_fwd", Range::Fraction)?,
        loss_rev: s.number("loss_rev", Range::Fraction)?,
        reorder_fwd: s.number("reorder_fwd", Range::Fraction)?,
        reorder_rev: s.number("reorder_rev", Range::Fraction)?,
        samples: match s.uint("samples")? {
            0 => {
                return Err(RecordError::field(
                    Reason::OutOfRange,
                    "samples",
                    "must be > 0, got 0",
                ));
            }
            n => n,
        },
        hops,
        recv: match origin {
            Origin::Log => s.int("recv")?,
            Origin::Peer => 0,
        },
        srv: s.optional_string("srv", TEXT_MAX)?,
    })
}

/// Hops are rare and small, so they are read with a second, typed pass.
fn parse_hops(line: &[u8]) -> Result<Vec<Hop>, RecordError> {
    #[derive(serde::Deserialize)]
    struct WithHops {
        hops: Vec<RawHop>,
    }
    #[derive(serde::Deserialize)]
    struct RawHop {
        ip: String,
        asn: Option<u32>,
    }
    let parsed: WithHops = serde_json::from_slice(line).map_err(|e| {
        RecordError::field(
            Reason::WrongType,
            "hops",
            format!("expected an array of {{\"ip\": string, \"asn\": int|null}}: {e}"),
        )
    })?;
    Ok(parsed
        .hops
        .into_iter()
        .map(|h| Hop {
            ip: h.ip,
            asn: h.asn,
        })
        .collect())
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
