//! `/v1/cmcd`: the collector for CMCD reports (CTA-5004-B event mode, and v1's request
//! form), stored in the `cmcd` stream under the same limits, rate, durability and
//! answers as `/v1/feedback` (DESIGN §4).
//!
//! One request may carry reports in any of the forms players send:
//! - a body of `application/cmcd` (or `text/cmcd`) lines, one text-form report each —
//!   what dash.js, hls.js and Shaka Player POST in event mode;
//! - a JSON body: one object, an array of them, or NDJSON;
//! - a `CMCD=` query value and/or `CMCD-Object`/`-Request`/`-Session`/`-Status`
//!   headers, which together make one report.
//!
//! A body without a content type is read as JSON when it starts with `{` or `[`, as
//! text lines otherwise (`sendBeacon` sends `text/plain`). A request whose reports are
//! all refused is answered 400 naming the first bad key; some refused, 200 with the
//! list, as for feedback. Players post from web pages of other origins, so every
//! answer allows any origin (the endpoint takes no credentials) and `OPTIONS`
//! answers the preflight.

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::body;
use super::http::error;
use super::ingest::{Rejections, admit, receive, refuse, store};
use super::stamp::{stamp, stamp_cmcd};
use super::state::AppState;
use super::writer::MINUTE_MS;
use crate::engine::cmcd::Report;
use crate::engine::cmcd::text::{parse_dictionary, parse_parts};
use crate::engine::record::{Reason, RecordError};
use crate::recording::layout::Stream;

/// The request headers of CMCD's header form.
pub const CMCD_HEADERS: [&str; 4] = ["cmcd-object", "cmcd-request", "cmcd-session", "cmcd-status"];

pub async fn collect(State(s): State<Arc<AppState>>, request: Request) -> Response {
    let mut response = reports(&s, request).await;
    allow_any_origin(response.headers_mut());
    response
}

/// The CORS preflight of a cross-origin POST (`application/cmcd` is not a type a page
/// may send without asking, nor are the `CMCD-*` headers).
pub async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    allow_any_origin(h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "content-type, content-encoding, cmcd-object, cmcd-request, cmcd-session, cmcd-status",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

fn allow_any_origin(h: &mut HeaderMap) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

/// How the body holds its reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyForm {
    Text,
    Json,
}

fn body_form(headers: &HeaderMap, body: &[u8]) -> BodyForm {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match media.as_deref() {
        Some("application/cmcd" | "text/cmcd") => BodyForm::Text,
        Some("application/json" | "application/x-ndjson") => BodyForm::Json,
        _ => match body.trim_ascii_start().first() {
            Some(b'{' | b'[') => BodyForm::Json,
            _ => BodyForm::Text,
        },
    }
}

/// The one report of the query and header forms, if the request has either.
fn query_and_headers(request: &Request) -> Option<Result<Report, RecordError>> {
    let mut texts: Vec<String> = Vec::new();
    for name in CMCD_HEADERS {
        for v in request.headers().get_all(name) {
            texts.push(String::from_utf8_lossy(v.as_bytes()).into_owned());
        }
    }
    match Query::<Vec<(String, String)>>::try_from_uri(request.uri()) {
        Ok(Query(pairs)) => texts.extend(
            pairs
                .into_iter()
                .filter(|(k, _)| k == "CMCD")
                .map(|(_, v)| v),
        ),
        // A query that cannot be read may hold the report: refused, never skipped.
        Err(e) if request.uri().query().is_some_and(|q| q.contains("CMCD")) => {
            return Some(Err(RecordError {
                reason: Reason::InvalidCmcd,
                field: None,
                detail: format!("the query cannot be decoded: {e}"),
            }));
        }
        Err(_) => {}
    }
    if texts.is_empty() {
        return None;
    }
    Some(parse_parts(texts.iter().map(String::as_str)))
}

async fn reports(s: &AppState, request: Request) -> Response {
    let client = match admit(s, &request) {
        Ok(ip) => ip,
        Err(refusal) => return *refusal,
    };
    let from_url = query_and_headers(&request);
    let headers = request.headers().clone();
    let (raw, gzip) = match receive(s, request).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let decoded = match body::decode(&raw, gzip, &s.limits) {
        Ok(d) => d,
        Err(e) => return refuse(s, &e),
    };
    let recv = s.clock.now_ms();
    let minute = recv.div_euclid(MINUTE_MS) * MINUTE_MS;
    let ip = client.to_string();
    let mut lines = Vec::new();
    let mut accepted = 0u64;
    let mut rejected = Rejections::default();
    let mut index = 0usize;
    let mut take = |outcome: Result<(), RecordError>, lines: &mut Vec<u8>| {
        match outcome {
            Ok(()) => {
                lines.push(b'\n');
                accepted += 1;
            }
            Err(e) => rejected.add(index, e.reason, &e.to_string()),
        }
        index += 1;
    };
    if let Some(report) = from_url {
        let outcome = report.and_then(|r| stamp_cmcd(r, recv, &s.name, &ip, &mut lines));
        take(outcome, &mut lines);
    }
    if !decoded.trim_ascii().is_empty() {
        match body_form(&headers, &decoded) {
            BodyForm::Text => {
                for line in decoded.split(|&b| b == b'\n') {
                    let line = line.trim_ascii();
                    if line.is_empty() {
                        continue;
                    }
                    let outcome = text_line(line, s.limits.max_record)
                        .and_then(|r| stamp_cmcd(r, recv, &s.name, &ip, &mut lines));
                    take(outcome, &mut lines);
                }
            }
            BodyForm::Json => {
                let walked = body::each_record(&decoded, &s.limits, |_, item| {
                    let outcome = item
                        .map_err(|m| RecordError {
                            reason: Reason::TooLong,
                            field: None,
                            detail: m,
                        })
                        .and_then(|text| stamp(Stream::Cmcd, text, recv, &s.name, &ip, &mut lines));
                    take(outcome, &mut lines);
                });
                if let Err(e) = walked {
                    return refuse(s, &e);
                }
            }
        }
    }
    if index == 0 {
        s.counters.refuse("no_report");
        return error(
            StatusCode::BAD_REQUEST,
            "no CMCD report: send application/cmcd lines, a JSON body, ?CMCD= or CMCD-* headers",
        );
    }
    s.counters.reject(Stream::Cmcd, &rejected.by_reason());
    if accepted > 0 {
        if let Some(refusal) = store(s, Stream::Cmcd, lines, accepted, minute).await {
            return refusal;
        }
    }
    if rejected.total == 0 {
        return StatusCode::NO_CONTENT.into_response();
    }
    let first = rejected
        .listed
        .first()
        .and_then(|r| r.get("error"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("refused")
        .to_owned();
    let status = if accepted == 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut answer = json!({
        "accepted": accepted,
        "rejected": rejected.listed,
        "rejected_total": rejected.total,
    });
    if accepted == 0 {
        answer["error"] = json!(first);
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}

/// One line of an `application/cmcd` body.
fn text_line(line: &[u8], max_record: usize) -> Result<Report, RecordError> {
    if line.len() > max_record {
        return Err(RecordError {
            reason: Reason::TooLong,
            field: None,
            detail: format!("a report of {} bytes, at most {max_record}", line.len()),
        });
    }
    let text = std::str::from_utf8(line).map_err(|e| RecordError {
        reason: Reason::InvalidCmcd,
        field: None,
        detail: format!("not UTF-8 at byte {}", e.valid_up_to()),
    })?;
    parse_dictionary(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_text_bodies_are_told_apart_by_type_then_by_their_first_byte() {
        let mut h = HeaderMap::new();
        assert_eq!(body_form(&h, b" [{\"sid\":\"a\"}]"), BodyForm::Json);
        assert_eq!(body_form(&h, b"sid=\"a\""), BodyForm::Text);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/cmcd; charset=utf-8"),
        );
        assert_eq!(body_form(&h, b"{"), BodyForm::Text);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert_eq!(body_form(&h, b"sid"), BodyForm::Json);
    }

    #[test]
    fn an_oversized_or_non_utf8_line_is_refused_before_it_is_parsed() {
        assert_eq!(
            text_line(&[b'a'; 70], 64).expect_err("long").reason,
            Reason::TooLong
        );
        assert_eq!(
            text_line(b"sid=\"\xff\"", 64).expect_err("bytes").reason,
            Reason::InvalidCmcd
        );
        assert!(text_line(b"sid=\"a\"", 64).is_ok());
    }
}
