//! The CMCD keys peerscope checks, as a table: v1's (CTA-5004) and v2's (CTA-5004-B).
//! A key not in the table — a custom `com.example-x` key, or one from a later revision —
//! is kept as it came and checked only for syntax; a known key with a value of the
//! wrong type or range refuses the report, naming the key.

use super::{Bare, Value};
use crate::engine::record::{Reason, RecordError};

/// What a known key holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A non-negative integer (milliseconds, kbps, counts).
    Int,
    /// A non-negative integer, or (v2) an inner list of them, one per object type.
    IntOrList,
    /// A bitrate in kbps: as [`Kind::IntOrList`], decimals accepted (read rounded):
    /// hls.js 1.7.4 sends `lb=(400.4)` and `tpb=(400.4)`.
    Kbps,
    /// A non-negative decimal or integer.
    Decimal,
    /// A boolean (the bare key means true).
    Flag,
    /// A non-empty string of at most this many characters.
    Text(usize),
    /// A string or an inner list of strings.
    TextOrList(usize),
    /// One of these tokens (a string in the JSON form).
    Token(&'static [&'static str]),
    /// Any token: the set grows with the standard (event types).
    AnyToken,
    /// The CMCD version: 1 or 2.
    Version,
}

pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub meaning: &'static str,
}

const fn key(name: &'static str, kind: Kind, meaning: &'static str) -> Key {
    Key {
        name,
        kind,
        meaning,
    }
}

/// Player states (`sta`), in CTA-5004-B's order.
pub const STATES: &[&str] = &["s", "p", "k", "r", "a", "w", "e", "f", "q", "d"];

/// The keys, alphabetically.
pub const KEYS: &[Key] = &[
    key("ab", Kind::Kbps, "aggregate encoded bitrate, kbps"),
    key("bg", Kind::Flag, "backgrounded"),
    key("bl", Kind::IntOrList, "buffer length, ms"),
    key("br", Kind::Kbps, "encoded bitrate, kbps"),
    key("bs", Kind::Flag, "buffer starvation since the last report"),
    key("bsa", Kind::IntOrList, "buffer starvation count"),
    key("bsd", Kind::IntOrList, "buffer starvation duration, ms"),
    key(
        "bsda",
        Kind::IntOrList,
        "buffer starvation duration, all, ms",
    ),
    key("cdn", Kind::Text(128), "delivery network"),
    key("cen", Kind::Text(64), "custom event name"),
    key("cid", Kind::Text(128), "content id"),
    key("d", Kind::Int, "object duration, ms"),
    key("df", Kind::Int, "dropped frames"),
    key("dfa", Kind::Int, "dropped frames, all"),
    key("dl", Kind::Int, "deadline, ms"),
    key("e", Kind::AnyToken, "event type"),
    key("ec", Kind::TextOrList(256), "error codes"),
    key("h", Kind::Text(256), "host"),
    key("lab", Kind::Kbps, "lowest aggregate bitrate, kbps"),
    key("lb", Kind::Kbps, "lowest encoded bitrate, kbps"),
    key("ltc", Kind::Int, "live latency, ms"),
    key("msd", Kind::Int, "media start delay, ms"),
    key("mtp", Kind::Kbps, "measured throughput, kbps"),
    key("nor", Kind::TextOrList(1024), "next object request"),
    key("nr", Kind::Int, "non-rendered"),
    key("nrr", Kind::Text(100), "next range request"),
    key(
        "ot",
        Kind::Token(&["m", "a", "v", "av", "i", "c", "tt", "k", "o"]),
        "object type",
    ),
    key("pb", Kind::Kbps, "playhead bitrate, kbps"),
    key("pr", Kind::Decimal, "playback rate"),
    key("pt", Kind::Int, "playhead time, ms"),
    key("rc", Kind::Int, "response code"),
    key("rtp", Kind::Int, "requested maximum throughput, kbps"),
    key(
        "sf",
        Kind::Token(&["d", "h", "e", "ld", "l3", "lh", "s", "o"]),
        "streaming format",
    ),
    key("sid", Kind::Text(64), "session id"),
    key("sn", Kind::Int, "sequence number"),
    key("st", Kind::Token(&["v", "l"]), "stream type"),
    key("sta", Kind::Token(STATES), "player state"),
    key("su", Kind::Flag, "startup"),
    key("tab", Kind::Kbps, "top aggregate bitrate, kbps"),
    key("tb", Kind::Kbps, "top encoded bitrate, kbps"),
    key("tbl", Kind::IntOrList, "target buffer length, ms"),
    key("tpb", Kind::Kbps, "top playable bitrate, kbps"),
    key("ts", Kind::Int, "timestamp, ms since epoch"),
    key("ttfb", Kind::Int, "time to first byte, ms"),
    key("ttfbb", Kind::Int, "time to first body byte, ms"),
    key("ttlb", Kind::Int, "time to last byte, ms"),
    key("url", Kind::Text(2048), "object URL"),
    key("v", Kind::Version, "CMCD version"),
];

/// The longest name in [`KEYS`].
const LONGEST: usize = 5;

/// Every report's every key is looked up, on the ingest path: a hash of a few bytes
/// costs less than a binary search of string comparisons (half the time it took).
static BY_NAME: std::sync::LazyLock<rustc_hash::FxHashMap<&'static str, &'static Key>> =
    std::sync::LazyLock::new(|| KEYS.iter().map(|k| (k.name, k)).collect());

pub fn find(name: &str) -> Option<&'static Key> {
    if name.len() > LONGEST {
        return None;
    }
    BY_NAME.get(name).copied()
}

fn refuse(key: &'static str, reason: Reason, detail: String) -> RecordError {
    RecordError {
        reason,
        field: Some(key),
        detail,
    }
}

fn shown(value: &Bare) -> String {
    match value {
        Bare::Int(n) => format!("integer {n}"),
        Bare::Dec(x) => format!("decimal {x}"),
        Bare::Text(s) => {
            let cut: String = s.chars().take(40).collect();
            let more = if cut.len() < s.len() { "…" } else { "" };
            format!("string {cut:?}{more}")
        }
        Bare::Bool(b) => format!("boolean {b}"),
    }
}

/// Checks one member against the table; unknown keys pass.
pub fn check(name: &str, value: &Value) -> Result<(), RecordError> {
    let Some(known) = find(name) else {
        return Ok(());
    };
    let key = known.name;
    let items = value.items();
    let single = match (known.kind, value) {
        (Kind::IntOrList | Kind::Kbps | Kind::TextOrList(_), _) => false,
        (_, Value::List(_)) => {
            return Err(refuse(
                key,
                Reason::WrongType,
                "expected one value, got an inner list".into(),
            ));
        }
        _ => true,
    };
    debug_assert!(!single || items.len() == 1);
    for item in items {
        check_bare(key, known.kind, &item.value)?;
    }
    Ok(())
}

fn check_bare(key: &'static str, kind: Kind, value: &Bare) -> Result<(), RecordError> {
    let wrong = |want: &str| {
        Err(refuse(
            key,
            Reason::WrongType,
            format!("expected {want}, got {}", shown(value)),
        ))
    };
    match (kind, value) {
        (Kind::Version, Bare::Int(n)) if !matches!(n, 1 | 2) => Err(refuse(
            key,
            Reason::UnknownValue,
            format!("CMCD version {n} is not supported (expected 1 or 2)"),
        )),
        (Kind::Flag, Bare::Bool(_)) | (Kind::Version, Bare::Int(_)) => Ok(()),
        (Kind::Int | Kind::IntOrList | Kind::Kbps | Kind::Decimal, Bare::Int(n)) => {
            non_negative(key, *n as f64)
        }
        (Kind::Decimal | Kind::Kbps, Bare::Dec(x)) => non_negative(key, *x),
        (Kind::Int | Kind::IntOrList | Kind::Version, _) => wrong("an integer"),
        (Kind::Decimal | Kind::Kbps, _) => wrong("a number"),
        (Kind::Flag, _) => wrong("a boolean"),
        (Kind::Text(max) | Kind::TextOrList(max), Bare::Text(s)) => {
            let chars = s.chars().count();
            if s.is_empty() {
                Err(refuse(key, Reason::OutOfRange, "must not be empty".into()))
            } else if chars > max {
                Err(refuse(
                    key,
                    Reason::TooLong,
                    format!("{chars} characters, at most {max} allowed"),
                ))
            } else {
                Ok(())
            }
        }
        (Kind::Text(_) | Kind::TextOrList(_), _) => wrong("a string"),
        (Kind::Token(choices), Bare::Text(t)) => {
            if choices.contains(&t.as_str()) {
                Ok(())
            } else {
                Err(refuse(
                    key,
                    Reason::UnknownValue,
                    format!("{} is not one of {}", shown(value), choices.join(", ")),
                ))
            }
        }
        (Kind::AnyToken, Bare::Text(t)) if !t.is_empty() => Ok(()),
        (Kind::Token(_) | Kind::AnyToken, _) => wrong("a token"),
    }
}

fn non_negative(key: &'static str, x: f64) -> Result<(), RecordError> {
    if x >= 0.0 && x.is_finite() {
        Ok(())
    } else {
        Err(refuse(
            key,
            Reason::OutOfRange,
            format!("must be ≥ 0, got {x}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_the_table_is_found_by_name() {
        assert!(KEYS.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(KEYS.iter().map(|k| k.name.len()).max(), Some(LONGEST));
        for k in KEYS {
            assert_eq!(find(k.name).map(|f| f.name), Some(k.name));
        }
        assert!(find("com.example-x").is_none());
    }
}
