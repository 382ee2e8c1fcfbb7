//! `POST /v1/feedback` and `POST /v1/probes` (DESIGN §4): decode the body, stamp each
//! record, hand the accepted lines to the stream's writer, answer once they are stored.
//!
//! Work per request is bounded by the body limits: records are stamped as the body is
//! walked (nothing is collected per record), and the answer lists the first
//! [`REJECTIONS_LISTED`] refused records with a count of all of them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::body::{self, BodyError};
use super::http::{client_ip, error, quoted};
use super::stamp::stamp;
use super::state::AppState;
use super::writer::MINUTE_MS;
use crate::engine::record::Reason;
use crate::recording::layout::Stream;

/// Refused records listed one by one in a 200 answer; the rest are only counted.
pub const REJECTIONS_LISTED: usize = 100;

// The request is taken whole: the `HeaderMap` extractor would clone every header of every
// POST, and ingest is the hot path.
pub async fn feedback(State(s): State<Arc<AppState>>, request: Request) -> Response {
    ingest(s, Stream::Feedback, request).await
}

pub async fn probes(State(s): State<Arc<AppState>>, request: Request) -> Response {
    ingest(s, Stream::Probes, request).await
}

pub(super) fn refuse(s: &AppState, e: &BodyError) -> Response {
    s.counters.refuse(e.reason());
    error(
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
        e,
    )
}

/// The body's bytes, within the limits, or the refusal to answer with.
pub(super) async fn receive(
    s: &AppState,
    request: Request,
) -> Result<(axum::body::Bytes, bool), Response> {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim();
    let is = |name: &str| encoding.eq_ignore_ascii_case(name);
    let gzip = match encoding {
        "" => false,
        _ if is("identity") => false,
        _ if is("gzip") || is("x-gzip") => true,
        other => {
            s.counters.refuse("unsupported_encoding");
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Content-Encoding {} is not accepted (use gzip)",
                    quoted(other)
                ),
            ));
        }
    };
    // A declared length over the limit is refused without waiting for the body: what
    // arrives within a moment is read and dropped (a client still sending would see
    // its connection reset, and lose the answer, if the server closed on unread data).
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(size) = declared.filter(|&n| n > s.limits.max_body as u64) {
        drain(body, 4 * s.limits.max_body.max(1 << 20)).await;
        return Err(refuse(
            s,
            &BodyError::TooLarge {
                size: usize::try_from(size).unwrap_or(usize::MAX),
                limit: s.limits.max_body,
            },
        ));
    }
    // A client trickling its body would hold a connection for ever (slowloris on the body).
    let Ok(raw) = tokio::time::timeout(
        s.body_timeout,
        axum::body::to_bytes(body, s.limits.max_body),
    )
    .await
    else {
        s.counters.refuse("body_timeout");
        return Err(error(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body took longer than {:?}", s.body_timeout),
        ));
    };
    match raw {
        Ok(raw) => Ok((raw, gzip)),
        Err(e) if over_limit(&e) => Err(refuse(
            s,
            &BodyError::TooLarge {
                size: s.limits.max_body + 1,
                limit: s.limits.max_body,
            },
        )),
        // Bad chunked framing, or the client went away mid-body: nothing is stored.
        Err(e) => Err(refuse(s, &BodyError::Malformed(e.to_string()))),
    }
}

/// Reads and drops up to `limit` bytes of a body refused whole, for at most half a
/// second: enough for an honest client to finish sending what it declared and read the
/// answer, too little for a client that sends nothing to hold the connection.
async fn drain(body: axum::body::Body, limit: usize) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut read = 0usize;
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), async {
        while read < limit {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, axum::body::Bytes::len),
                _ => break,
            }
        }
    })
    .await;
}

/// Whether reading a body failed because it went over the limit (not because its
/// framing was bad or the client left).
fn over_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// The client's address, if its request may go on: not over its rate.
pub(super) fn admit(s: &AppState, request: &Request) -> Result<IpAddr, Box<Response>> {
    let Some(&ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return Err(Box::new(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no peer address",
        )));
    };
    let client = client_ip(peer, request.headers(), &s.trusted_proxies);
    if let Some(limit) = &s.rate_limit {
        if !limit.allow(client, std::time::Instant::now()) {
            s.counters.refuse("over_rate");
            let mut resp = error(
                StatusCode::TOO_MANY_REQUESTS,
                "over the request rate for this client; retry later",
            );
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(limit.retry_after_s()),
            );
            return Err(Box::new(resp));
        }
    }
    Ok(client)
}

async fn ingest(s: Arc<AppState>, stream: Stream, request: Request) -> Response {
    let client = match admit(&s, &request) {
        Ok(ip) => ip,
        Err(refusal) => return *refusal,
    };
    let (raw, gzip) = match receive(&s, request).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let decoded = match body::decode(&raw, gzip, &s.limits) {
        Ok(d) => d,
        Err(e) => return refuse(&s, &e),
    };
    let recv = s.clock.now_ms();
    let minute = recv.div_euclid(MINUTE_MS) * MINUTE_MS;
    let ip = client.to_string();
    let mut lines = Vec::with_capacity(decoded.len() + 64);
    // The common body is one record on one line. The record parser checks it completely,
    // so the body-level JSON check only runs when it refuses (and then decides, exactly as
    // for any body, between refusing the body and rejecting the record).
    if let Some(text) = body::single_line(&decoded, &s.limits) {
        if stamp(stream, text, recv, &s.name, &ip, &mut lines).is_ok() {
            lines.push(b'\n');
            return store(&s, stream, lines, 1, minute)
                .await
                .unwrap_or_else(|| StatusCode::NO_CONTENT.into_response());
        }
    }
    let mut accepted = 0u64;
    let mut rejected = Rejections::default();
    let walked = body::each_record(&decoded, &s.limits, |index, item| {
        let outcome = item.map_err(|m| (Reason::TooLong, m)).and_then(|text| {
            stamp(stream, text, recv, &s.name, &ip, &mut lines)
                .map_err(|e| (e.reason, e.to_string()))
        });
        match outcome {
            Ok(()) => {
                lines.push(b'\n');
                accepted += 1;
            }
            Err((reason, message)) => rejected.add(index, reason, &message),
        }
    });
    if let Err(e) = walked {
        return refuse(&s, &e);
    }
    s.counters.reject(stream, &rejected.by_reason());
    if accepted > 0 {
        if let Some(refusal) = store(&s, stream, lines, accepted, minute).await {
            return refusal;
        }
    }
    if rejected.total == 0 {
        return StatusCode::NO_CONTENT.into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "accepted": accepted,
            "rejected": rejected.listed,
            "rejected_total": rejected.total,
        })
        .to_string(),
    )
        .into_response()
}

/// The refused records of one request: the first few with their messages, and counts.
#[derive(Default)]
pub(super) struct Rejections {
    pub(super) listed: Vec<serde_json::Value>,
    pub(super) total: u64,
    by_reason: [u64; Reason::ALL.len()],
}

impl Rejections {
    pub(super) fn add(&mut self, index: usize, reason: Reason, message: &str) {
        self.total += 1;
        if let Some(i) = Reason::ALL.iter().position(|r| *r == reason) {
            self.by_reason[i] += 1;
        }
        if self.listed.len() < REJECTIONS_LISTED {
            self.listed.push(json!({"index": index, "error": message}));
        }
    }

    pub(super) fn by_reason(&self) -> Vec<(Reason, u64)> {
        Reason::ALL
            .into_iter()
            .zip(self.by_reason)
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Hands accepted lines to the stream's writer; `Some(503)` when they could not be stored.
pub(super) async fn store(
    s: &AppState,
    stream: Stream,
    lines: Vec<u8>,
    accepted: u64,
    minute: i64,
) -> Option<Response> {
    if let Err(e) = s.writer(stream).store(lines, accepted, minute).await {
        s.counters.store_errors.fetch_add(1, Ordering::Relaxed);
        return Some(error(StatusCode::SERVICE_UNAVAILABLE, e));
    }
    s.counters
        .accepted(stream)
        .fetch_add(accepted, Ordering::Relaxed);
    None
}
