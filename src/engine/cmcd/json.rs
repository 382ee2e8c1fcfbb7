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
/// [`Report::checked`]), without any `ip`/`recv`/`srv` member.
pub fn report_from_object(object: &Map<String, Json>) -> Result<Report, RecordError> {
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
    let mut report = Report::default();
    for (key, value) in object {
        if SERVER_KEYS.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        check_key(key)?;
        report.members.push((key.clone(), member(key, value)?));
    }
    Ok(report)
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

fn member(key: &str, value: &Json) -> Result<Value, RecordError> {
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
                .iter()
                .map(|v| item(key, v))
                .collect::<Result<_, _>>()
                .map(Value::List)
        }
        other => item(key, other).map(Value::Item),
    }
}

fn item(key: &str, value: &Json) -> Result<Item, RecordError> {
    if let Json::Object(o) = value {
        let Some(v) = o.get("value") else {
            return Err(refuse(
                Reason::WrongType,
                format!("key `{key}`: an object must be {{\"value\": …, \"params\": {{…}}}}"),
            ));
        };
        let mut params = Vec::new();
        if let Some(p) = o.get("params") {
            let Json::Object(p) = p else {
                return Err(refuse(
                    Reason::WrongType,
                    format!("key `{key}`: `params` must be an object"),
                ));
            };
            for (name, v) in p {
                check_key(name)?;
                params.push((name.clone(), bare(key, v)?));
            }
        }
        return Ok(Item {
            value: bare(key, v)?,
            params,
        });
    }
    bare(key, value).map(Item::plain)
}

fn bare(key: &str, value: &Json) -> Result<Bare, RecordError> {
    match value {
        Json::Bool(b) => Ok(Bare::Bool(*b)),
        Json::String(s) => Ok(Bare::Text(s.clone())),
        Json::Number(n) => number(key, n),
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
/// the player's to set and is left out).
pub fn log_line(report: &Report, ip: &str, recv: i64, srv: &str, out: &mut Vec<u8>) {
    let mut map = Map::with_capacity(report.members.len() + SERVER_KEYS.len());
    for (key, value) in &report.members {
        if !SERVER_KEYS.contains(&key.as_str()) {
            map.insert(key.clone(), json_value(value));
        }
    }
    map.insert("ip".into(), Json::from(ip));
    map.insert("recv".into(), Json::from(recv));
    map.insert("srv".into(), Json::from(srv));
    // Writing a map of plain values into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &Json::Object(map));
}

fn json_value(value: &Value) -> Json {
    match value {
        Value::Item(i) => json_item(i),
        Value::List(items) => Json::Array(items.iter().map(json_item).collect()),
    }
}

fn json_item(item: &Item) -> Json {
    if item.params.is_empty() {
        return json_bare(&item.value);
    }
    let params: Map<String, Json> = item
        .params
        .iter()
        .map(|(k, v)| (k.clone(), json_bare(v)))
        .collect();
    let mut o = Map::new();
    o.insert("value".into(), json_bare(&item.value));
    o.insert("params".into(), Json::Object(params));
    Json::Object(o)
}

fn json_bare(value: &Bare) -> Json {
    match value {
        Bare::Int(n) => Json::from(*n),
        Bare::Dec(x) => Number::from_f64(*x).map_or(Json::Null, Json::Number),
        Bare::Text(s) => Json::from(s.as_str()),
        Bare::Bool(b) => Json::Bool(*b),
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
/// `ip` and `srv`.
pub fn parse_log_line(line: &[u8]) -> Result<Logged, RecordError> {
    let json: Json = serde_json::from_slice(line).map_err(|e| {
        refuse(
            if e.is_data() {
                Reason::NotAnObject
            } else {
                Reason::InvalidJson
            },
            format!("invalid JSON: {e}"),
        )
    })?;
    let Json::Object(object) = json else {
        return Err(refuse(
            Reason::NotAnObject,
            "a log line is one object".into(),
        ));
    };
    let recv = match object.get("recv") {
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
    let text = |k: &str| object.get(k).and_then(Json::as_str).map(str::to_owned);
    Ok(Logged {
        recv,
        ip: text("ip").unwrap_or_default(),
        srv: text("srv"),
        report: report_from_object(&object)?.checked()?,
    })
}
