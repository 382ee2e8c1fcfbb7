//! The HTTP API of a feedback server (DESIGN §4), on axum: the routes, and what their
//! handlers share.
//!
//! Handlers are thin and live by job: [`ingest`](super::ingest) (POSTs),
//! [`logs`](super::logs) (listing and download), [`tail`](super::tail) (long-poll),
//! [`metrics`](super::metrics). Every read route is on one sub-router behind
//! [`require_token`]. Every refusal has its status code, a JSON error body that never
//! echoes more than a few dozen characters of what the client sent, and a counter.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::auth::require_token;
use super::state::AppState;
use super::{cmcd, ingest, logs, metrics, tail};
use crate::recording::layout::Stream;

/// The response header carrying the next tail cursor.
pub const CURSOR_HEADER: &str = "x-peerscope-cursor";

pub fn router(state: Arc<AppState>) -> Router {
    let reads = Router::new()
        .route("/v1/logs", get(logs::list))
        .route("/v1/logs/latest", get(logs::latest))
        .route("/v1/logs/{stream}/{name}", get(logs::download))
        .route("/v1/tail", get(tail::tail))
        .route("/metrics", get(metrics::metrics))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            require_token,
        ));
    Router::new()
        .route("/v1/feedback", post(ingest::feedback))
        .route("/v1/probes", post(ingest::probes))
        .route(
            "/v1/cmcd",
            post(cmcd::collect)
                .get(cmcd::collect)
                .options(cmcd::preflight),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(reads)
        .with_state(state)
}

pub fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": message.to_string()}).to_string(),
    )
        .into_response()
}

/// Client text quoted in an error message, cut to a few dozen characters: an error body
/// never echoes a 17 KB header back.
pub fn quoted(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        return format!("{text:?}");
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut:?}…")
}

/// The peer's address: the connection's, or the proxy's header when the connection comes
/// from a trusted proxy.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
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

/// The `stream` query value (default `feedback`), or the 400 to answer.
pub fn checked_stream(s: &AppState, stream: Option<&str>) -> Result<Stream, Box<Response>> {
    let stream = stream.unwrap_or("feedback");
    Stream::from_dir_name(stream).ok_or_else(|| {
        s.counters
            .bad_names
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown stream {} (feedback, probes or cmcd)",
                quoted(stream)
            ),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_client_text_is_cut() {
        assert_eq!(quoted("gzip"), "\"gzip\"");
        let long = "x".repeat(17_000);
        let q = quoted(&long);
        assert!(q.len() < 60, "{q}");
        assert!(q.ends_with('…'));
    }
}
