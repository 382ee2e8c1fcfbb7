//! CDN nodes' access logs: one line per request a node answered, in the JSON
//! `log_format` that `deploy/nginx-cdn.conf` ships (`peerscope_cdn`). A line gives two
//! things: the node's own figures ([`figures`]: requests, cache hits, origin time to
//! first byte, errors, bytes), and, when the player sent CMCD in request mode (the
//! `CMCD=` query value, or the `CMCD-*` headers), one CMCD report for the session
//! tracker, as if the player had posted it when the request ended.
//!
//! The README's "CDN access logs" section is the contract: every field, its unit, and
//! what an absent or unusual value means.

pub mod figures;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::cmcd::Report;
use super::cmcd::text::parse_parts;
use super::record::{Reason, RecordError};

/// What the node's cache did for the request (nginx's `$upstream_cache_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Answered from the cache: `HIT`, `STALE`, `UPDATING`, `REVALIDATED`.
    Hit,
    /// Fetched from the origin: `MISS`, `EXPIRED`, `BYPASS`.
    Miss,
    /// Not a cached location (an empty value or `-`): out of the hit ratio.
    NotCached,
}

impl CacheStatus {
    fn of(text: &str) -> Option<CacheStatus> {
        Some(match text {
            "HIT" | "STALE" | "UPDATING" | "REVALIDATED" => CacheStatus::Hit,
            "MISS" | "EXPIRED" | "BYPASS" => CacheStatus::Miss,
            "" | "-" => CacheStatus::NotCached,
            _ => return None,
        })
    }
}

/// One request a node answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// When the node logged it (the request's end), ms since the epoch.
    pub at_ms: i64,
    pub node: String,
    /// The client's address as the node saw it.
    pub client: String,
    pub status: u16,
    /// Bytes sent to the client, headers included.
    pub bytes: u64,
    /// From the first byte read from the client to the last byte sent, ms.
    pub time_ms: u32,
    /// From the request to the origin to its response header, ms, summed over the
    /// origins tried; `None` when the node did not ask one (a cache hit).
    pub origin_ms: Option<u32>,
    pub cache: CacheStatus,
    /// The CMCD the request carried, if any: a checked report, or why it was refused.
    pub cmcd: Option<Result<Report, RecordError>>,
}

/// The fields as they stand in the line, each read on its own so that an error names it.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    msec: Option<&'a RawValue>,
    #[serde(borrow)]
    node: Option<&'a RawValue>,
    #[serde(borrow)]
    addr: Option<&'a RawValue>,
    #[serde(borrow)]
    uri: Option<&'a RawValue>,
    #[serde(borrow)]
    status: Option<&'a RawValue>,
    #[serde(borrow)]
    bytes: Option<&'a RawValue>,
    #[serde(borrow)]
    request_time: Option<&'a RawValue>,
    #[serde(borrow)]
    upstream_header_time: Option<&'a RawValue>,
    #[serde(borrow)]
    cache: Option<&'a RawValue>,
    #[serde(borrow)]
    cmcd_request: Option<&'a RawValue>,
    #[serde(borrow)]
    cmcd_object: Option<&'a RawValue>,
    #[serde(borrow)]
    cmcd_status: Option<&'a RawValue>,
    #[serde(borrow)]
    cmcd_session: Option<&'a RawValue>,
}

/// Longest request time or origin time taken as given (ten minutes): nginx's own
/// timeouts end a request long before; a larger value is a broken line.
const MAX_TIME_S: f64 = 600.0;

/// Reads one access-log line.
pub fn parse_request(line: &[u8]) -> Result<Request, RecordError> {
    let fields: Fields<'_> = serde_json::from_slice(line).map_err(|e| RecordError {
        reason: if e.is_data() {
            Reason::NotAnObject
        } else {
            Reason::InvalidJson
        },
        field: None,
        detail: e.to_string(),
    })?;
    let msec: f64 = number(required(fields.msec, "msec")?, "msec")?;
    if !(0.0..=32_503_680_000.0).contains(&msec) {
        return Err(out_of_range("msec", &format!("{msec} is not a time")));
    }
    let status: u16 = number(required(fields.status, "status")?, "status")?;
    if !(100..=999).contains(&status) {
        return Err(out_of_range(
            "status",
            &format!("{status} is not an HTTP status"),
        ));
    }
    let time_s: f64 = number(
        required(fields.request_time, "request_time")?,
        "request_time",
    )?;
    let origin = match fields.upstream_header_time {
        None => None,
        Some(raw) => origin_seconds(raw)?,
    };
    let cache_text: String = match fields.cache {
        None => String::new(),
        Some(raw) => text(raw, "cache")?,
    };
    let cache = CacheStatus::of(&cache_text).ok_or_else(|| RecordError {
        reason: Reason::UnknownValue,
        field: Some("cache"),
        detail: format!("{cache_text:?} is not an nginx cache status"),
    })?;
    let uri: String = text(required(fields.uri, "uri")?, "uri")?;
    let mut parts: Vec<String> = query_values(&uri, "CMCD");
    for (raw, name) in [
        (fields.cmcd_request, "cmcd_request"),
        (fields.cmcd_object, "cmcd_object"),
        (fields.cmcd_status, "cmcd_status"),
        (fields.cmcd_session, "cmcd_session"),
    ] {
        if let Some(raw) = raw {
            let header: String = text(raw, name)?;
            if !header.is_empty() && header != "-" {
                parts.push(header);
            }
        }
    }
    let cmcd = (!parts.is_empty())
        .then(|| parse_parts(parts.iter().map(String::as_str)).and_then(Report::checked));
    Ok(Request {
        at_ms: (msec * 1000.0).round() as i64,
        node: text(required(fields.node, "node")?, "node")?,
        client: text(required(fields.addr, "addr")?, "addr")?,
        status,
        bytes: number(required(fields.bytes, "bytes")?, "bytes")?,
        time_ms: millis(time_s, "request_time")?,
        origin_ms: origin
            .map(|s| millis(s, "upstream_header_time"))
            .transpose()?,
        cache,
        cmcd,
    })
}

fn required<'a>(
    raw: Option<&'a RawValue>,
    field: &'static str,
) -> Result<&'a RawValue, RecordError> {
    raw.ok_or(RecordError {
        reason: Reason::MissingField,
        field: Some(field),
        detail: "missing: see deploy/nginx-cdn.conf for the log format".into(),
    })
}

fn number<T: serde::de::DeserializeOwned>(
    raw: &RawValue,
    field: &'static str,
) -> Result<T, RecordError> {
    serde_json::from_str(raw.get()).map_err(|_| RecordError {
        reason: Reason::WrongType,
        field: Some(field),
        detail: format!("{} is not a number of the expected range", raw.get()),
    })
}

fn text(raw: &RawValue, field: &'static str) -> Result<String, RecordError> {
    serde_json::from_str(raw.get()).map_err(|_| RecordError {
        reason: Reason::WrongType,
        field: Some(field),
        detail: format!("{} is not a string", raw.get()),
    })
}

fn out_of_range(field: &'static str, detail: &str) -> RecordError {
    RecordError {
        reason: Reason::OutOfRange,
        field: Some(field),
        detail: detail.to_owned(),
    }
}

fn millis(seconds: f64, field: &'static str) -> Result<u32, RecordError> {
    if !(0.0..=MAX_TIME_S).contains(&seconds) {
        return Err(out_of_range(
            field,
            &format!("{seconds} s, expected 0 to {MAX_TIME_S} s"),
        ));
    }
    Ok((seconds * 1000.0).round() as u32)
}

/// `$upstream_header_time`: empty or `-` when no origin was asked; one time per origin
/// tried, separated by `, ` (the next server of an upstream group) or ` : ` (an
/// internal redirect), `-` for one that never answered. The client waited for all of
/// them: their sum.
fn origin_seconds(raw: &RawValue) -> Result<Option<f64>, RecordError> {
    const FIELD: &str = "upstream_header_time";
    if let Ok(n) = serde_json::from_str::<f64>(raw.get()) {
        return Ok(Some(n));
    }
    let list: String = text(raw, FIELD)?;
    let mut sum = None;
    for part in list.split([',', ':']).map(str::trim) {
        if part.is_empty() || part == "-" {
            continue;
        }
        let s: f64 = part.parse().map_err(|_| RecordError {
            reason: Reason::WrongType,
            field: Some(FIELD),
            detail: format!("{list:?}: {part:?} is not a time in seconds"),
        })?;
        *sum.get_or_insert(0.0) += s;
    }
    Ok(sum)
}

/// The values of query parameter `name` in a request URI, percent-decoded.
fn query_values(uri: &str, name: &str) -> Vec<String> {
    let Some((_, query)) = uri.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}

#[cfg(test)]
mod tests;
