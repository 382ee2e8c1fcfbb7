//! CMCD's JSON form: one report as one object, `{"v":2,"e":"t","sid":"…","br":[3200]}`.
//! Players may POST one object or an array of them; the `cmcd` stream stores each
//! report as one such object, with the server's `ip`, `recv` and `srv` added
//! (DESIGN §3's layout, like `feedback`).
//!
//! Strings and tokens are both JSON strings; an inner list is an array; an item with
//! parameters is `{"value": V, "params": {"ot": "v"}}`, so nothing the text form can
//! say is lost in the log. A `null` member is read as absent.

use serde_json::{Map, Number, Value as Json};

use super::{Bare, Item, Report, Value};
use crate::engine::record::{Reason, RecordError};

/// The members the server sets on a stored report; a player's own are dropped.
pub const SERVER_KEYS: [&str; 3] = ["ip", "recv", "srv"];

fn refuse(reason: Reason, detail: String) -> RecordError {
    RecordError {
        reason,
        field: None,
        detail,
    }
}

/// One report from a JSON object, as a player sent it: unchecked (see
/// [`Report::checked`]), without any `ip`/`recv`/`srv` member. The object is taken, so
/// that its keys and strings move into the report.
pub fn report_from_object(object: Map<String, Json>) -> Result<Report, RecordError> {
    report_and_stamps(object).map(|(report, _)| report)
}

/// The server's members of a stored object.
#[derive(Default)]
struct Stamps {
    ip: Option<Json>,
    recv: Option<Json>,
    srv: Option<Json>,
}

fn report_and_stamps(object: Map<String, Json>) -> Result<(Report, Stamps), RecordError> {
    if object.len() > super::MAX_KEYS + SERVER_KEYS.len() {
        return Err(refuse(
            Reason::TooLong,
            format!(
                "{} keys, at most {} allowed in one report",
                object.len(),
                super::MAX_KEYS
            ),
        ));
    }
    let mut members = Members::default();
    members.report.members.reserve(object.len());
    for (key, value) in object {
        members.take(key.into(), value)?;
    }
    Ok((members.report, members.stamps))
}

/// A stored or posted object's members, taken one at a time: the report's, and the
/// server's stamps apart.
#[derive(Default)]
struct Members {
    report: Report,
    stamps: Stamps,
}

impl Members {
    fn take(&mut self, key: std::borrow::Cow<'_, str>, value: Json) -> Result<(), RecordError> {
        match key.as_ref() {
            "ip" => self.stamps.ip = Some(value),
            "recv" => self.stamps.recv = Some(value),
            "srv" => self.stamps.srv = Some(value),
            // A key given twice keeps its last value, as a JSON map does.
            _ if value.is_null() => self.report.members.retain(|(k, _)| *k != key),
            _ => {
                check_key(&key)?;
                let value = member(&key, value)?;
                self.report.set(super::key(key), value);
            }
        }
        Ok(())
    }
}

/// Keys of the JSON form follow the text form's rules, so that every stored report can
/// be written as text.
fn check_key(key: &str) -> Result<(), RecordError> {
    let bytes = key.as_bytes();
    let good = bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'*')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.*".contains(b))
        && bytes.len() <= super::MAX_KEY_CHARS;
    if good {
        Ok(())
    } else {
        let cut: String = key.chars().take(40).collect();
        Err(refuse(
            Reason::InvalidCmcd,
            format!("{cut:?} is not a CMCD key (a letter, then letters, digits, _ - . *)"),
        ))
    }
}

fn member(key: &str, value: Json) -> Result<Value, RecordError> {
    match value {
        Json::Array(items) => {
            if items.len() > super::MAX_LIST {
                return Err(refuse(
                    Reason::TooLong,
                    format!(
                        "key `{key}`: an inner list of more than {} items",
                        super::MAX_LIST
                    ),
                ));
            }
            items
                .into_iter()
                .map(|v| item(key, v))
                .collect::<Result<_, _>>()
                .map(Value::List)
        }
        other => item(key, other).map(Value::Item),
    }
}

fn item(key: &str, value: Json) -> Result<Item, RecordError> {
    let Json::Object(mut o) = value else {
        return bare(key, value).map(Item::plain);
    };
    // Taken in place: `Map::remove` would move the last member into the gap.
    let params = o.get_mut("params").map(Json::take);
    let Some(v) = o.get_mut("value").map(Json::take) else {
        return Err(refuse(
            Reason::WrongType,
            format!("key `{key}`: an object must be {{\"value\": …, \"params\": {{…}}}}"),
        ));
    };
    let mut list = Vec::new();
    match params {
        None => {}
        Some(Json::Object(p)) => {
            for (name, v) in p {
                check_key(&name)?;
                list.push((name, bare(key, v)?));
            }
        }
        Some(_) => {
            return Err(refuse(
                Reason::WrongType,
                format!("key `{key}`: `params` must be an object"),
            ));
        }
    }
    Ok(Item {
        value: bare(key, v)?,
        params: list,
    })
}

fn bare(key: &str, value: Json) -> Result<Bare, RecordError> {
    match value {
        Json::Bool(b) => Ok(Bare::Bool(b)),
        Json::String(s) => Ok(Bare::Text(s)),
        Json::Number(n) => number(key, &n),
        _ => Err(refuse(
            Reason::WrongType,
            format!("key `{key}`: expected a number, a string or a boolean"),
        )),
    }
}

fn number(key: &str, n: &Number) -> Result<Bare, RecordError> {
    if let Some(i) = n.as_i64() {
        return Ok(Bare::Int(i));
    }
    if n.is_u64() {
        return Err(refuse(
            Reason::OutOfRange,
            format!("key `{key}`: {n} is too large"),
        ));
    }
    match n.as_f64() {
        Some(x) if x.is_finite() => Ok(Bare::Dec(x)),
        _ => Err(refuse(
            Reason::OutOfRange,
            format!("key `{key}`: {n} is not a finite number"),
        )),
    }
}

/// The log line of one checked report: its members, then `ip`, `recv` and `srv` (a
/// member of the report by one of those names, which the text form can carry, is not
/// the player's to set and is left out). Written straight out, as on the ingest path it
/// runs once per report: keys need no escaping (they are checked: letters, digits,
/// `_-.*`), numbers are written as serde_json writes them, strings escaped by it.
pub fn log_line(report: &Report, ip: &str, recv: i64, srv: &str, out: &mut Vec<u8>) {
    out.push(b'{');
    for (key, value) in &report.members {
        if SERVER_KEYS.contains(&key.as_ref()) {
            continue;
        }
        push_key(out, key);
        match value {
            Value::Item(i) => push_item(out, i),
            Value::List(items) => {
                out.push(b'[');
                for (n, i) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    push_item(out, i);
                }
                out.push(b']');
            }
        }
    }
    push_key(out, "ip");
    push_string(out, ip);
    push_key(out, "recv");
    out.extend_from_slice(itoa::Buffer::new().format(recv).as_bytes());
    push_key(out, "srv");
    push_string(out, srv);
    out.push(b'}');
}

/// `"key":`, after a comma unless it is the object's first member.
fn push_key(out: &mut Vec<u8>, key: &str) {
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn push_item(out: &mut Vec<u8>, item: &Item) {
    if item.params.is_empty() {
        return push_bare(out, &item.value);
    }
    out.extend_from_slice(b"{\"value\":");
    push_bare(out, &item.value);
    out.extend_from_slice(b",\"params\":{");
    for (n, (name, value)) in item.params.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        push_string(out, name);
        out.push(b':');
        push_bare(out, value);
    }
    out.extend_from_slice(b"}}");
}

fn push_bare(out: &mut Vec<u8>, value: &Bare) {
    match value {
        Bare::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        // Non-finite decimals are refused by the readers; `null` keeps the line valid.
        Bare::Dec(x) if !x.is_finite() => out.extend_from_slice(b"null"),
        Bare::Dec(x) => {
            let _ = serde_json::to_writer(&mut *out, x);
        }
        Bare::Text(s) => push_string(out, s),
        Bare::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
}

fn push_string(out: &mut Vec<u8>, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// A key of a log line, borrowed from it when it holds no escape.
struct KeyText<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyText(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyText(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(Text)
    }
}

/// A log line's object, member by member, as [`report_and_stamps`] reads a map of it
/// ([`Members`]):
/// what is wrong with the report is the inner error, what is wrong with the JSON the
/// outer one.
struct LineVisitor;

impl<'de> serde::de::Visitor<'de> for LineVisitor {
    type Value = Result<(Report, Stamps), RecordError>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("one object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Members::default();
        let mut keys = 0usize;
        let mut failure = None;
        while let Some(KeyText(key)) = map.next_key()? {
            // Read on after a refusal: broken JSON further on is still the line's error.
            let value: Json = map.next_value()?;
            if failure.is_some() {
                continue;
            }
            keys += 1;
            if keys > super::MAX_KEYS + SERVER_KEYS.len() {
                failure = Some(refuse(
                    Reason::TooLong,
                    format!("more than {} keys in one report", super::MAX_KEYS),
                ));
                continue;
            }
            if let Err(e) = members.take(key, value) {
                failure = Some(e);
            }
        }
        Ok(failure.map_or(Ok((members.report, members.stamps)), Err))
    }
}

/// One stored report, read back from a `cmcd` log line.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub report: Report,
    pub recv: i64,
    pub ip: String,
    pub srv: Option<String>,
}

/// Reads one `cmcd` log line: a checked report with the server's `recv` (required),
/// `ip` and `srv`. The object's keys are read in place and each value goes straight
/// into the report: no map of the whole line is built (reading stored reports is what
/// `report` and `replay` spend their time on over a CMCD recording).
pub fn parse_log_line(line: &[u8]) -> Result<Logged, RecordError> {
    use serde::de::Deserializer as _;
    let mut de = serde_json::Deserializer::from_slice(line);
    let read = de
        .deserialize_map(LineVisitor)
        .and_then(|read| de.end().map(|()| read))
        .map_err(|e| {
            refuse(
                if e.is_data() {
                    Reason::NotAnObject
                } else {
                    Reason::InvalidJson
                },
                format!("invalid JSON: {e}"),
            )
        })?;
    let (report, stamps) = read?;
    let recv = match stamps.recv {
        Some(Json::Number(n)) if n.is_i64() => n.as_i64().unwrap_or(0),
        Some(_) => {
            return Err(RecordError {
                reason: Reason::WrongType,
                field: Some("recv"),
                detail: "expected an integer".into(),
            });
        }
        None => {
            return Err(RecordError {
                reason: Reason::MissingField,
                field: Some("recv"),
                detail: "missing".into(),
            });
        }
    };
    let text = |v: Option<Json>| match v {
        Some(Json::String(s)) => Some(s),
        _ => None,
    };
    Ok(Logged {
        recv,
        ip: text(stamps.ip).unwrap_or_default(),
        srv: text(stamps.srv),
        report: report.checked()?,
    })
}
