//! The HTTP API of a feedback server (DESIGN §4), on axum.
//!
//! Handlers are thin: bodies are decoded by [`body`](super::body), records stamped by
//! [`stamp`](super::stamp), stored by the group-commit [`writer`](super::writer), and
//! read back through [`files`](super::files). Every refusal has its status code, a JSON
//! error body and a counter in `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::body::{self, Limits};
use super::files::{self, Cursor, Tail};
use super::stamp::{Kind, stamp};
use super::writer::{Clock, LogWriter, MINUTE_MS, WriterStats};

/// The response header carrying the next tail cursor.
pub const CURSOR_HEADER: &str = "x-peerscope-cursor";

#[derive(Default)]
pub struct Counters {
    accepted: [AtomicU64; 2],
    rejected: Mutex<BTreeMap<(&'static str, String), u64>>,
    refused: Mutex<BTreeMap<&'static str, u64>>,
    unauthorized: AtomicU64,
    bad_names: AtomicU64,
    expired_cursors: AtomicU64,
    store_errors: AtomicU64,
}

pub struct AppState {
    pub root: PathBuf,
    pub name: String,
    pub limits: Limits,
    pub token: Option<Vec<u8>>,
    pub trusted_proxies: Vec<IpAddr>,
    pub clock: Arc<dyn Clock>,
    pub feedback: LogWriter,
    pub probes: LogWriter,
    pub max_wait: Duration,
    pub counters: Counters,
    pub rate_limit: Option<super::limit::RateLimit>,
    /// Longest time to receive a request body once its headers are in.
    pub body_timeout: Duration,
    /// Tail requests allowed to wait at once; more get 503 at once.
    pub tail_waiters: tokio::sync::Semaphore,
    pub max_tail_waiters: usize,
    pub connections: Arc<super::accept::ConnectionStats>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/feedback", post(ingest_feedback))
        .route("/v1/probes", post(ingest_probes))
        .route("/v1/logs", get(list_logs))
        .route("/v1/logs/latest", get(latest_log))
        .route("/v1/logs/{stream}/{name}", get(download))
        .route("/v1/tail", get(tail))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(state)
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": message.to_string()}).to_string(),
    )
        .into_response()
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    if let Ok(mut m) = map.lock() {
        *m.entry(key).or_default() += 1;
    }
}

/// The peer's address: the connection's, or the proxy's header when the connection comes
/// from a trusted proxy.
fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if trusted.contains(&peer.ip()) {
        let from_header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
        };
        if let Some(ip) = from_header("x-real-ip").or_else(|| from_header("x-forwarded-for")) {
            return ip;
        }
    }
    peer.ip()
}

/// Compares the bearer token in constant time.
fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = &state.token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .as_bytes();
    let mut diff = u8::from(given.len() != token.len());
    for (i, t) in token.iter().enumerate() {
        diff |= t ^ given.get(i).copied().unwrap_or(0);
    }
    let ok = diff == 0;
    if !ok {
        state.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    }
    ok
}

// The request is taken whole: the `HeaderMap` extractor would clone every header of every
// POST, and ingest is the hot path.
async fn ingest_feedback(State(s): State<Arc<AppState>>, request: Request) -> Response {
    ingest(s, Kind::Feedback, request).await
}

async fn ingest_probes(State(s): State<Arc<AppState>>, request: Request) -> Response {
    ingest(s, Kind::Probe, request).await
}

fn stream_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Feedback => "feedback",
        Kind::Probe => "probes",
    }
}

impl AppState {
    /// The writer that owns `kind`'s log files.
    fn writer(&self, kind: Kind) -> &LogWriter {
        match kind {
            Kind::Feedback => &self.feedback,
            Kind::Probe => &self.probes,
        }
    }
}

async fn ingest(s: Arc<AppState>, kind: Kind, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let Some(&ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no peer address");
    };
    let client = client_ip(peer, headers, &s.trusted_proxies);
    if let Some(limit) = &s.rate_limit {
        if !limit.allow(client, std::time::Instant::now()) {
            bump(&s.counters.refused, "over_rate");
            let mut resp = error(
                StatusCode::TOO_MANY_REQUESTS,
                "over the request rate for this client; retry later",
            );
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(limit.retry_after_s()),
            );
            return resp;
        }
    }
    let refuse = |e: &body::BodyError| {
        bump(&s.counters.refused, e.reason());
        error(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            e,
        )
    };
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
            bump(&s.counters.refused, "unsupported_encoding");
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {other:?} is not accepted (use gzip)"),
            );
        }
    };
    // A client trickling its body would hold a connection for ever (slowloris on the body).
    let Ok(raw) = tokio::time::timeout(
        s.body_timeout,
        axum::body::to_bytes(body, s.limits.max_body),
    )
    .await
    else {
        bump(&s.counters.refused, "body_timeout");
        return error(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body took longer than {:?}", s.body_timeout),
        );
    };
    // Over the limit, or the client went away mid-body: either way nothing is stored.
    let Ok(raw) = raw else {
        return refuse(&body::BodyError::TooLarge {
            size: s.limits.max_body + 1,
            limit: s.limits.max_body,
        });
    };
    let decoded = match body::decode(&raw, gzip, &s.limits) {
        Ok(d) => d,
        Err(e) => return refuse(&e),
    };
    let recv = s.clock.now_ms();
    let minute = recv.div_euclid(MINUTE_MS) * MINUTE_MS;
    let ip = client.to_string();
    let stream = stream_name(kind);
    let mut lines = Vec::with_capacity(decoded.len() + 64);
    // The common body is one record on one line. The record parser checks it completely,
    // so the body-level JSON check only runs when it refuses (and then decides, exactly as
    // for any body, between refusing the body and rejecting the record).
    if let Some(text) = body::single_line(&decoded, &s.limits) {
        if stamp(kind, text, recv, &s.name, &ip, &mut lines).is_ok() {
            lines.push(b'\n');
            return store(&s, kind, lines, 1, minute)
                .await
                .unwrap_or_else(|| StatusCode::NO_CONTENT.into_response());
        }
    }
    let items = match body::split(&decoded, &s.limits) {
        Ok(i) => i,
        Err(e) => return refuse(&e),
    };
    lines.reserve(items.len() * 64);
    let mut accepted = 0u64;
    let mut rejected = Vec::new();
    for (index, item) in items {
        let outcome = item
            .map_err(|m| ("too_long".to_owned(), m))
            .and_then(|text| {
                stamp(kind, text, recv, &s.name, &ip, &mut lines)
                    .map_err(|e| (e.reason.name().to_owned(), e.to_string()))
            });
        match outcome {
            Ok(()) => {
                lines.push(b'\n');
                accepted += 1;
            }
            Err((reason, message)) => {
                bump(&s.counters.rejected, (stream, reason));
                rejected.push(json!({"index": index, "error": message}));
            }
        }
    }
    if accepted > 0 {
        if let Some(refusal) = store(&s, kind, lines, accepted, minute).await {
            return refusal;
        }
    }
    if rejected.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"accepted": accepted, "rejected": rejected}).to_string(),
    )
        .into_response()
}

/// Hands accepted lines to the stream's writer; `Some(503)` when they could not be stored.
async fn store(
    s: &AppState,
    kind: Kind,
    lines: Vec<u8>,
    accepted: u64,
    minute: i64,
) -> Option<Response> {
    if let Err(e) = s.writer(kind).store(lines, accepted, minute).await {
        s.counters.store_errors.fetch_add(1, Ordering::Relaxed);
        return Some(error(StatusCode::SERVICE_UNAVAILABLE, e));
    }
    s.counters.accepted[usize::from(kind == Kind::Probe)].fetch_add(accepted, Ordering::Relaxed);
    None
}

#[derive(Deserialize)]
struct StreamQuery {
    stream: Option<String>,
    since: Option<String>,
    cursor: Option<String>,
    wait: Option<f64>,
}

/// The stream asked for (default `feedback`), or the message of a 400.
fn checked_stream(s: &AppState, q: &StreamQuery) -> Result<Kind, String> {
    let stream = q.stream.as_deref().unwrap_or("feedback");
    [Kind::Feedback, Kind::Probe]
        .into_iter()
        .find(|&kind| stream_name(kind) == stream)
        .ok_or_else(|| {
            s.counters.bad_names.fetch_add(1, Ordering::Relaxed);
            format!("unknown stream {stream:?} (feedback or probes)")
        })
}

async fn list_logs(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Response {
    if !authorized(&s, &headers) {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    let stream = match checked_stream(&s, &q) {
        Ok(kind) => kind,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    match files::list(&s.root, stream_name(stream)) {
        Ok(mut list) => {
            if let Some(since) = &q.since {
                list.retain(|f| f.minute.as_str() >= since.as_str());
            }
            axum::Json(list).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn latest_log(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Response {
    if !authorized(&s, &headers) {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    let stream = match checked_stream(&s, &q) {
        Ok(kind) => kind,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    match files::list(&s.root, stream_name(stream)).map(|l| l.last().cloned()) {
        Ok(Some(f)) => axum::Json(json!({"name": f.name})).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no log file yet"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn download(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((stream, name)): Path<(String, String)>,
) -> Response {
    if !authorized(&s, &headers) {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    let Some(path) = files::resolve(&s.root, &stream, &name) else {
        s.counters.bad_names.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::NOT_FOUND,
            format!("no log file {stream}/{name}"),
        );
    };
    let mut bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::NOT_FOUND, e),
    };
    if !files::valid_name(&name).is_some_and(|(_, gzip)| gzip) {
        // The open minute: whole lines only.
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(keep);
    }
    let total = bytes.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let Some(range) = range else {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response();
    };
    let start = range
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    match start {
        Some(n) if n < total => {
            let mut resp = (StatusCode::PARTIAL_CONTENT, bytes[n..].to_vec()).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {n}-{}/{total}", total - 1)) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            resp
        }
        Some(_) => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            resp
        }
        None => error(
            StatusCode::BAD_REQUEST,
            format!("unsupported Range {range:?} (only bytes=N-)"),
        ),
    }
}

async fn tail(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Response {
    if !authorized(&s, &headers) {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    let stream = match checked_stream(&s, &q) {
        Ok(kind) => kind,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => match Cursor::parse(text) {
            Some(c) => Some(c),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("bad cursor {text:?} (YYYYMMDD-HHMM:OFFSET)"),
                );
            }
        },
    };
    let wait = Duration::from_secs_f64(q.wait.unwrap_or(0.0).clamp(0.0, s.max_wait.as_secs_f64()));
    let deadline = tokio::time::Instant::now() + wait;
    // Each waiter is a connection and a task: bound them, so idle long-polls cannot pile up.
    let _waiting = if wait.is_zero() {
        None
    } else if let Ok(permit) = s.tail_waiters.try_acquire() {
        Some(permit)
    } else {
        bump(&s.counters.refused, "tail_waiters");
        let mut resp = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} tail requests are already waiting; retry shortly",
                s.max_tail_waiters
            ),
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1));
        return resp;
    };
    let mut cursor = cursor;
    loop {
        // Register interest before looking, so an append in between is not missed.
        let appended = s.writer(stream).appended.notified();
        let root = s.root.clone();
        let c = cursor.clone();
        let read = tokio::task::spawn_blocking(move || {
            files::tail(&root, stream_name(stream), c, 1 << 20)
        })
        .await;
        let result = match read {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
        };
        match result {
            Tail::Gone { oldest } => {
                s.counters.expired_cursors.fetch_add(1, Ordering::Relaxed);
                let mut resp = error(
                    StatusCode::GONE,
                    format!("cursor no longer valid; oldest is {oldest}"),
                );
                if let Ok(v) = HeaderValue::from_str(&oldest.to_string()) {
                    resp.headers_mut().insert(CURSOR_HEADER, v);
                }
                return resp;
            }
            Tail::Data { lines, next } => {
                if lines.is_empty() && tokio::time::Instant::now() < deadline {
                    cursor = Some(next);
                    let _ = tokio::time::timeout_at(
                        deadline.min(tokio::time::Instant::now() + Duration::from_millis(500)),
                        appended,
                    )
                    .await;
                    continue;
                }
                let mut resp = (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/x-ndjson")],
                    lines,
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&next.to_string()) {
                    resp.headers_mut().insert(CURSOR_HEADER, v);
                }
                return resp;
            }
        }
    }
}

/// The writer's counters, per stream: name, help, field.
type WriterCounter = (&'static str, &'static str, fn(&WriterStats) -> &AtomicU64);
const WRITER_COUNTERS: [WriterCounter; 8] = [
    (
        "peerscope_bytes_written_total",
        "Bytes appended to log files.",
        |w| &w.bytes,
    ),
    ("peerscope_fsyncs_total", "fdatasync calls.", |w| &w.fsyncs),
    (
        "peerscope_fsync_microseconds_total",
        "Time spent in fdatasync.",
        |w| &w.fsync_micros,
    ),
    (
        "peerscope_commit_groups_total",
        "Groups of requests written together.",
        |w| &w.groups,
    ),
    (
        "peerscope_late_records_total",
        "Records filed into a later minute than their stamp.",
        |w| &w.late_records,
    ),
    (
        "peerscope_write_errors_total",
        "Failed writes or syncs (answered 503).",
        |w| &w.write_errors,
    ),
    ("peerscope_rotations_total", "Minute files closed.", |w| {
        &w.rotations
    }),
    (
        "peerscope_compress_failures_total",
        "Closed minutes left uncompressed.",
        |w| &w.compress_failures,
    ),
];

async fn metrics(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    let c = &s.counters;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, rows: Vec<(String, u64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (labels, v) in rows {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let per_stream = |f: &dyn Fn(&WriterStats) -> u64| {
        vec![
            ("{stream=\"feedback\"}".to_owned(), f(&s.feedback.stats)),
            ("{stream=\"probes\"}".to_owned(), f(&s.probes.stats)),
        ]
    };
    counter(
        "peerscope_records_accepted_total",
        "Records stored and acknowledged.",
        vec![
            (
                "{stream=\"feedback\"}".into(),
                c.accepted[0].load(Ordering::Relaxed),
            ),
            (
                "{stream=\"probes\"}".into(),
                c.accepted[1].load(Ordering::Relaxed),
            ),
        ],
    );
    let rejected: Vec<(String, u64)> = c
        .rejected
        .lock()
        .map(|m| {
            m.iter()
                .map(|((st, r), n)| (format!("{{stream=\"{st}\",reason=\"{r}\"}}"), *n))
                .collect()
        })
        .unwrap_or_default();
    counter(
        "peerscope_records_rejected_total",
        "Records refused, by reason.",
        rejected,
    );
    let refused: Vec<(String, u64)> = c
        .refused
        .lock()
        .map(|m| {
            m.iter()
                .map(|(r, n)| (format!("{{reason=\"{r}\"}}"), *n))
                .collect()
        })
        .unwrap_or_default();
    counter(
        "peerscope_bodies_refused_total",
        "Request bodies refused whole, by reason.",
        refused,
    );
    for (name, help, field) in WRITER_COUNTERS {
        counter(
            name,
            help,
            per_stream(&|w| field(w).load(Ordering::Relaxed)),
        );
    }
    counter(
        "peerscope_unauthorized_total",
        "Read requests without a valid token.",
        vec![(String::new(), c.unauthorized.load(Ordering::Relaxed))],
    );
    counter(
        "peerscope_bad_names_total",
        "Downloads or streams refused by name.",
        vec![(String::new(), c.bad_names.load(Ordering::Relaxed))],
    );
    counter(
        "peerscope_expired_cursors_total",
        "Tail requests answered 410.",
        vec![(String::new(), c.expired_cursors.load(Ordering::Relaxed))],
    );
    let conns = &s.connections;
    counter(
        "peerscope_connections_refused_total",
        "Connections closed on accept: over --max-connections.",
        vec![(String::new(), conns.refused.load(Ordering::Relaxed))],
    );
    counter(
        "peerscope_accept_errors_total",
        "Failed accepts (for example out of file descriptors).",
        vec![(String::new(), conns.accept_errors.load(Ordering::Relaxed))],
    );
    counter(
        "peerscope_store_errors_total",
        "Ingest requests answered 503.",
        vec![(String::new(), c.store_errors.load(Ordering::Relaxed))],
    );
    let _ = writeln!(
        out,
        "# HELP peerscope_connections_open Connections open now.\n# TYPE peerscope_connections_open gauge\npeerscope_connections_open {}",
        conns.open.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP peerscope_tail_waiting Tail requests waiting now.\n# TYPE peerscope_tail_waiting gauge\npeerscope_tail_waiting {}",
        s.max_tail_waiters - s.tail_waiters.available_permits()
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}
