//! Feedback and probe records (DESIGN §2): one schema, three readers.
//!
//! [`fields`] holds the schemas as tables (name, type, range, longest value, for which
//! origin a field is required); everything here and in the readers reads them. A line
//! is read by the first of these that takes it:
//! - [`fast`]'s canonical reader: the fields in the table's order with no spaces, as
//!   `serve` and `simulate` write logs, each key matched as a literal (logs only);
//! - [`fast`]'s any-order reader: a flat object of valid fields in any order, the shape
//!   of a peer's POST;
//! - the general reader: serde decodes the line into one borrowed [`Scalar`] per field,
//!   then each field is checked in plain code, so that every rejection names its field
//!   and quotes the bad value.
//!
//! The fast readers only ever accept; a line they do not take goes to the general
//! reader, so errors come from one code path. A differential test and the `record` fuzz
//! target hold the three to the same verdicts, for logs and for peers. Rejections carry
//! a [`Reason`] so that skipped lines can be counted by cause, which the TUI and
//! `report` show.

pub mod fast;
pub mod fields;
mod flat;
pub mod payload;
mod scalar;

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use fields::{F, FEEDBACK, Field, Kind, Need, P, PROBE};
pub use payload::{FeedbackCore, Payload};
use scalar::{Scalar, not_an_object, visit_object};

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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Reason {
    InvalidJson,
    NotAnObject,
    MissingField,
    WrongType,
    OutOfRange,
    TooLong,
    UnknownValue,
    /// A CMCD report that is not an RFC 8941 dictionary (the text form).
    InvalidCmcd,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::InvalidJson,
        Reason::NotAnObject,
        Reason::MissingField,
        Reason::WrongType,
        Reason::OutOfRange,
        Reason::TooLong,
        Reason::UnknownValue,
        Reason::InvalidCmcd,
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
            Reason::InvalidCmcd => "invalid_cmcd",
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

impl Event {
    /// In the order of [`fields::EVENTS`].
    pub const ALL: [Event; 3] = [Event::Join, Event::Report, Event::Leave];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nat {
    Open,
    Cone,
    Symmetric,
    Unknown,
}

impl Nat {
    /// In the order of [`fields::NATS`].
    pub const ALL: [Nat; 4] = [Nat::Open, Nat::Cone, Nat::Symmetric, Nat::Unknown];
}

/// Whether the record comes from a log (server-stamped) or straight from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A log line: `recv` is required, `srv` optional but checked.
    Log,
    /// A peer's POST: `recv` and `srv` are the server's to add; `ip` may be absent.
    Peer,
}

/// One feedback message (DESIGN §2.1), borrowing its strings from the line: what the
/// engine computes with is its [`Payload`], the rest is checked and kept for views.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback<'a> {
    pub peer: Cow<'a, str>,
    pub session: Cow<'a, str>,
    pub ts: i64,
    pub channel: Cow<'a, str>,
    pub payload: Payload,
    pub buffer_s: f64,
    pub partners: u64,
    pub nat: Nat,
    pub player: Cow<'a, str>,
    pub os: Cow<'a, str>,
    pub rtt_ms: f64,
    pub ip: Option<Cow<'a, str>>,
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

/// The raw fields of one object, by position in a schema table.
struct Slots<'a, const N: usize> {
    table: &'static [Field],
    values: [Option<Scalar<'a>>; N],
}

impl<'a, const N: usize> Slots<'a, N> {
    fn take(&mut self, i: usize) -> Option<Scalar<'a>> {
        self.values[i].take()
    }

    fn name(&self, i: usize) -> &'static str {
        self.table[i].name
    }

    fn required(&mut self, i: usize) -> Result<Scalar<'a>, RecordError> {
        let name = self.name(i);
        self.take(i)
            .ok_or_else(|| RecordError::field(Reason::MissingField, name, "missing"))
    }

    /// The field's value if the record must or may carry it from this origin; `None`
    /// for an optional field left out, or one the server sets (a peer's is not read).
    fn needed(&mut self, i: usize, origin: Origin) -> Result<Option<Scalar<'a>>, RecordError> {
        match (self.table[i].need, origin) {
            (Need::Always, _) | (Need::InLogs | Need::ServerOnly, Origin::Log) => {
                self.required(i).map(Some)
            }
            (Need::ServerOnly, Origin::Peer) => Ok(None),
            (Need::InLogs | Need::Optional, _) => Ok(self.take(i)),
        }
    }

    fn int(&mut self, i: usize) -> Result<i64, RecordError> {
        let v = self.required(i)?;
        as_int(self.name(i), &v)
    }

    fn count(&mut self, i: usize) -> Result<u64, RecordError> {
        let name = self.name(i);
        let n = match self.required(i)? {
            Scalar::BigUint(n) => n,
            v => {
                let n = as_int(name, &v)?;
                u64::try_from(n).map_err(|_| {
                    RecordError::field(Reason::OutOfRange, name, format!("must be ≥ 0, got {n}"))
                })?
            }
        };
        if n == 0 && self.table[i].kind == Kind::PositiveCount {
            return Err(RecordError::field(
                Reason::OutOfRange,
                name,
                "must be > 0, got 0",
            ));
        }
        Ok(n)
    }

    fn number(&mut self, i: usize) -> Result<f64, RecordError> {
        let name = self.name(i);
        let v = self.required(i)?;
        let x = as_number(name, &v)?;
        match self.table[i].kind {
            Kind::Number(range) if !range.holds(x) => Err(RecordError::field(
                Reason::OutOfRange,
                name,
                format!("must be {}, got {x}", range.wanted()),
            )),
            _ => Ok(x),
        }
    }

    fn string(&mut self, i: usize) -> Result<Cow<'a, str>, RecordError> {
        let v = self.required(i)?;
        as_string(self.name(i), v, self.table[i].max_chars())
    }

    /// A string field the origin may leave out (or need not send at all).
    fn string_from(
        &mut self,
        i: usize,
        origin: Origin,
    ) -> Result<Option<Cow<'a, str>>, RecordError> {
        match self.needed(i, origin)? {
            None => Ok(None),
            Some(v) => as_string(self.name(i), v, self.table[i].max_chars()).map(Some),
        }
    }

    /// The position of the value among the field's choices.
    fn choice(&mut self, i: usize) -> Result<usize, RecordError> {
        let v = self.required(i)?;
        let Kind::Choice(choices) = self.table[i].kind else {
            unreachable_kind(self.name(i))
        };
        one_of(self.name(i), &v, choices)
    }

    fn version(&mut self) -> Result<(), RecordError> {
        match self.int(0)? {
            1 => Ok(()),
            n => Err(RecordError::field(
                Reason::UnknownValue,
                "v",
                format!("schema version {n} is not supported (expected 1)"),
            )),
        }
    }
}

/// A schema table and its reading code disagree: a bug, caught by the tests.
fn unreachable_kind(name: &str) -> ! {
    panic!("field `{name}` is not of the kind its reader expects")
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

fn one_of(name: &'static str, v: &Scalar, choices: &[&str]) -> Result<usize, RecordError> {
    let Scalar::Str(s) = v else {
        return Err(wrong_type(name, "a string", v));
    };
    choices
        .iter()
        .position(|n| *n == s.as_ref())
        .ok_or_else(|| {
            RecordError::field(
                Reason::UnknownValue,
                name,
                format!("{:?} is not one of {}", truncate(s, 40), choices.join(", ")),
            )
        })
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
        struct $ty<'a>([Option<Scalar<'a>>; $fields.len()]);

        impl<'de> Deserialize<'de> for $ty<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a record object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                        let mut values = std::array::from_fn(|_| None);
                        visit_object(map, $lookup, &mut values)?;
                        Ok($ty(values))
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

fn feedback_position(key: &str) -> Option<usize> {
    F::of(key).map(|p| p as usize)
}

fn probe_position(key: &str) -> Option<usize> {
    P::of(key).map(|p| p as usize)
}

const FEEDBACK_LEN: usize = FEEDBACK.len();
const PROBE_LEN: usize = PROBE.len();

slots_deserialize!(FeedbackSlots, FEEDBACK, feedback_position);
slots_deserialize!(ProbeSlots, PROBE, probe_position);

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
    match fast::feedback(line, origin) {
        Some(record) => Ok(record),
        None => parse_feedback_general(line, origin),
    }
}

/// The general reader alone: where every rejection comes from, and what the fast
/// readers are held to.
pub fn parse_feedback_general(line: &[u8], origin: Origin) -> Result<Feedback<'_>, RecordError> {
    // Only here: the fast readers take nothing but UTF-8 already.
    peer_sends_utf8(line, origin)?;
    let mut s: Slots<'_, FEEDBACK_LEN> = Slots {
        table: FEEDBACK,
        values: decode::<FeedbackSlots>(line)?.0,
    };
    // The order of the checks decides which error a line with several is reported by.
    s.version()?;
    let startup_ms = match s.needed(F::StartupMs as usize, origin)? {
        // Absent is read as null: the value is only sent once per session.
        None | Some(Scalar::Null) => None,
        Some(v) => Some(as_int(F::StartupMs.field().name, &v)?),
    };
    let event = Event::ALL[s.choice(F::Event as usize)?];
    let nat = Nat::ALL[s.choice(F::Nat as usize)?];
    // Fields in the order they were checked before the schema was a table.
    let peer = s.string(F::Peer as usize)?;
    let session = s.string(F::Session as usize)?;
    let seq = s.count(F::Seq as usize)?;
    let ts = s.int(F::Ts as usize)?;
    let channel = s.string(F::Channel as usize)?;
    let payload = Payload {
        seq,
        recv: 0,
        event,
        period_s: s.number(F::PeriodS as usize)?,
        up_kbps: s.number(F::UpKbps as usize)?,
        down_kbps: s.number(F::DownKbps as usize)?,
        server_kbps: s.number(F::ServerKbps as usize)?,
        bitrate_kbps: s.number(F::BitrateKbps as usize)?,
        play_s: s.number(F::PlayS as usize)?,
        stall_s: s.number(F::StallS as usize)?,
        startup_ms,
    };
    let buffer_s = s.number(F::BufferS as usize)?;
    let partners = s.count(F::Partners as usize)?;
    let player = s.string(F::Player as usize)?;
    let os = s.string(F::Os as usize)?;
    let rtt_ms = s.number(F::RttMs as usize)?;
    let ip = s.string_from(F::Ip as usize, origin)?;
    let recv = match s.needed(F::Recv as usize, origin)? {
        Some(v) => as_int(F::Recv.field().name, &v)?,
        None => 0,
    };
    Ok(Feedback {
        peer,
        session,
        ts,
        channel,
        payload: Payload { recv, ..payload },
        buffer_s,
        partners,
        nat,
        player,
        os,
        rtt_ms,
        ip,
        srv: s.string_from(F::Srv as usize, origin)?,
    })
}

/// Parses and validates one probe line (no trailing newline). Probe records are few (a
/// round every few minutes per path), so they take the general reader only.
pub fn parse_probe(line: &[u8], origin: Origin) -> Result<ProbeRecord<'_>, RecordError> {
    peer_sends_utf8(line, origin)?;
    let mut s: Slots<'_, PROBE_LEN> = Slots {
        table: PROBE,
        values: decode::<ProbeSlots>(line)?.0,
    };
    s.version()?;
    let hops = match s.needed(P::Hops as usize, origin)? {
        None | Some(Scalar::Null) => None,
        Some(_) => Some(parse_hops(line)?),
    };
    Ok(ProbeRecord {
        probe: s.string(P::Probe as usize)?,
        dest: s.string(P::Dest as usize)?,
        group: s.string(P::Group as usize)?,
        ts: s.int(P::Ts as usize)?,
        rtt_ms: s.number(P::RttMs as usize)?,
        loss_fwd: s.number(P::LossFwd as usize)?,
        loss_rev: s.number(P::LossRev as usize)?,
        reorder_fwd: s.number(P::ReorderFwd as usize)?,
        reorder_rev: s.number(P::ReorderRev as usize)?,
        samples: s.count(P::Samples as usize)?,
        hops,
        recv: match s.needed(P::Recv as usize, origin)? {
            Some(v) => as_int(P::Recv.field().name, &v)?,
            None => 0,
        },
        srv: s.string_from(P::Srv as usize, origin)?,
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
mod tests;
