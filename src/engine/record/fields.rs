//! The record schemas of DESIGN §2 as data: one table per record type, each field with
//! its name, its key as it appears after the first field of a line, its type and range,
//! its longest value, and for which origin it is required. The validator, the fast
//! readers' key literals and dispatch, and the simulator's writer all read these tables;
//! nothing else spells a field.

/// What a field holds, with its range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// The schema version: the integer 1.
    Version,
    /// A non-empty string of at most this many characters.
    Text(usize),
    /// An integer.
    Int,
    /// A non-negative integer.
    Count,
    /// A positive integer (probe `samples`).
    PositiveCount,
    /// A number in a range.
    Number(Range),
    /// One of these strings.
    Choice(&'static [&'static str]),
    /// `null` or an integer (a session's startup delay, sent once).
    NullOrInt,
    /// A probe's traceroute: an array of `{"ip", "asn"}`.
    Hops,
}

/// The range of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    NonNegative,
    Positive,
    Fraction,
}

impl Range {
    pub fn holds(self, x: f64) -> bool {
        match self {
            Range::NonNegative => x >= 0.0,
            Range::Positive => x > 0.0,
            Range::Fraction => (0.0..=1.0).contains(&x),
        }
    }

    /// "≥ 0", as an error message says what was wanted.
    pub fn wanted(self) -> &'static str {
        match self {
            Range::NonNegative => "≥ 0",
            Range::Positive => "> 0",
            Range::Fraction => "between 0 and 1",
        }
    }
}

/// For which origin a field must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Always,
    /// Required in a log line, optional from a peer (`ip`: the server sets it).
    InLogs,
    /// Required in a log line, not read from a peer (`recv`: the server's clock).
    ServerOnly,
    /// Optional (`srv`, `startup_ms`, `hops`).
    Optional,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    /// `,"name":` — the field as it follows another in a line without spaces.
    pub key: &'static str,
    pub kind: Kind,
    pub need: Need,
}

impl Field {
    /// The longest string the field takes.
    pub const fn max_chars(&self) -> usize {
        match self.kind {
            Kind::Text(max) => max,
            _ => 0,
        }
    }
}

/// Declares a table, an enum naming its positions, and the name → position lookup every
/// reader dispatches keys with.
macro_rules! record_schema {
    ($(#[$doc:meta])* $table:ident, $position:ident { $($name:ident => $konst:ident: $kind:expr, $need:expr;)* }) => {
        $(#[$doc])*
        pub const $table: &[Field] = &[
            $(Field {
                name: stringify!($name),
                key: concat!(",\"", stringify!($name), "\":"),
                kind: $kind,
                need: $need,
            }),*
        ];

        /// Positions in the table, in its (the canonical) order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(usize)]
        pub enum $position {
            $($konst),*
        }

        impl $position {
            /// The position of `key`; a `match` compiles to a length switch and one
            /// comparison, and every key of every line goes through here.
            pub fn of(key: &str) -> Option<$position> {
                match key {
                    $(stringify!($name) => Some($position::$konst),)*
                    _ => None,
                }
            }

            pub const fn field(self) -> &'static Field {
                &$table[self as usize]
            }
        }
    };
}

/// Longest identifiers (DESIGN §2.1), in characters.
const ID_MAX: usize = 64;
const CHANNEL_MAX: usize = 32;
const LABEL_MAX: usize = 32;
/// Longest free-form strings elsewhere (IP text, server name, destination names).
const TEXT_MAX: usize = 256;

pub const EVENTS: &[&str] = &["join", "report", "leave"];
pub const NATS: &[&str] = &["open", "cone", "symmetric", "unknown"];

record_schema! {
    /// The feedback message (DESIGN §2.1), in the canonical order `serve` and `simulate`
    /// write.
    FEEDBACK, F {
        v => V: Kind::Version, Need::Always;
        peer => Peer: Kind::Text(ID_MAX), Need::Always;
        session => Session: Kind::Text(ID_MAX), Need::Always;
        seq => Seq: Kind::Count, Need::Always;
        ts => Ts: Kind::Int, Need::Always;
        event => Event: Kind::Choice(EVENTS), Need::Always;
        channel => Channel: Kind::Text(CHANNEL_MAX), Need::Always;
        period_s => PeriodS: Kind::Number(Range::Positive), Need::Always;
        up_kbps => UpKbps: Kind::Number(Range::NonNegative), Need::Always;
        down_kbps => DownKbps: Kind::Number(Range::NonNegative), Need::Always;
        server_kbps => ServerKbps: Kind::Number(Range::NonNegative), Need::Always;
        bitrate_kbps => BitrateKbps: Kind::Number(Range::Positive), Need::Always;
        play_s => PlayS: Kind::Number(Range::NonNegative), Need::Always;
        stall_s => StallS: Kind::Number(Range::NonNegative), Need::Always;
        startup_ms => StartupMs: Kind::NullOrInt, Need::Optional;
        buffer_s => BufferS: Kind::Number(Range::NonNegative), Need::Always;
        partners => Partners: Kind::Count, Need::Always;
        nat => Nat: Kind::Choice(NATS), Need::Always;
        player => Player: Kind::Text(LABEL_MAX), Need::Always;
        os => Os: Kind::Text(LABEL_MAX), Need::Always;
        rtt_ms => RttMs: Kind::Number(Range::NonNegative), Need::Always;
        ip => Ip: Kind::Text(TEXT_MAX), Need::InLogs;
        recv => Recv: Kind::Int, Need::ServerOnly;
        srv => Srv: Kind::Text(TEXT_MAX), Need::Optional;
    }
}

record_schema! {
    /// The probe record (DESIGN §2.2).
    PROBE, P {
        v => V: Kind::Version, Need::Always;
        probe => Probe: Kind::Text(LABEL_MAX), Need::Always;
        dest => Dest: Kind::Text(TEXT_MAX), Need::Always;
        group => Group: Kind::Text(TEXT_MAX), Need::Always;
        ts => Ts: Kind::Int, Need::Always;
        rtt_ms => RttMs: Kind::Number(Range::NonNegative), Need::Always;
        loss_fwd => LossFwd: Kind::Number(Range::Fraction), Need::Always;
        loss_rev => LossRev: Kind::Number(Range::Fraction), Need::Always;
        reorder_fwd => ReorderFwd: Kind::Number(Range::Fraction), Need::Always;
        reorder_rev => ReorderRev: Kind::Number(Range::Fraction), Need::Always;
        samples => Samples: Kind::PositiveCount, Need::Always;
        hops => Hops: Kind::Hops, Need::Optional;
        recv => Recv: Kind::Int, Need::ServerOnly;
        srv => Srv: Kind::Text(TEXT_MAX), Need::Optional;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_keys_follow_the_tables() {
        for (i, f) in FEEDBACK.iter().enumerate() {
            assert_eq!(F::of(f.name).map(|p| p as usize), Some(i), "{}", f.name);
            assert_eq!(f.key, format!(",\"{}\":", f.name));
        }
        for (i, f) in PROBE.iter().enumerate() {
            assert_eq!(P::of(f.name).map(|p| p as usize), Some(i), "{}", f.name);
        }
        assert_eq!(F::Peer.field().max_chars(), 64);
        assert_eq!(F::of("nope"), None);
        assert_eq!(FEEDBACK.len(), 24);
    }
}
