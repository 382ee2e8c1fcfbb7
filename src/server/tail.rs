//! `GET /v1/tail?stream=S&cursor=C&wait=SECONDS` (DESIGN §4): the records after a
//! cursor, waiting up to `wait` seconds for new ones.
//!
//! Every tail request holds one of `--max-tail-waiters` slots while it reads or waits,
//! `wait=0` included: each reads up to a megabyte, so the slots bound the memory that
//! tail requests can take together. Query values are checked before anything is read:
//! a wait that is not a finite number of seconds ≥ 0, a cursor that is not one, or one
//! inside a line or past the writer's clock is a 400.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::http::{CURSOR_HEADER, checked_stream, error, quoted};
use super::state::AppState;
use crate::recording::tail::{self, Cursor, Tail, TailError};

/// The most a tail answer carries, in bytes of whole lines (one longer line is sent whole).
const ANSWER_BYTES: usize = 1 << 20;

#[derive(Deserialize)]
pub struct TailQuery {
    stream: Option<String>,
    cursor: Option<String>,
    wait: Option<String>,
}

/// The wait asked for, capped at `max`, or the message of a 400.
fn wait_of(text: Option<&str>, max: Duration) -> Result<Duration, String> {
    let Some(text) = text else {
        return Ok(Duration::ZERO);
    };
    match text.trim().parse::<f64>() {
        Ok(w) if w.is_finite() && w >= 0.0 => Ok(Duration::from_secs_f64(w.min(max.as_secs_f64()))),
        _ => Err(format!(
            "wait={} is not a number of seconds from 0 (at most {} are waited)",
            quoted(text),
            max.as_secs()
        )),
    }
}

pub async fn tail(State(s): State<Arc<AppState>>, Query(q): Query<TailQuery>) -> Response {
    let stream = match checked_stream(&s, q.stream.as_deref()) {
        Ok(stream) => stream,
        Err(refusal) => return *refusal,
    };
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => match Cursor::parse(text) {
            Some(c) => Some(c),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("bad cursor {} (YYYYMMDD-HHMM:OFFSET)", quoted(text)),
                );
            }
        },
    };
    let wait = match wait_of(q.wait.as_deref(), s.max_wait) {
        Ok(w) => w,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let deadline = tokio::time::Instant::now() + wait;
    // Each request is a connection, a task and up to a megabyte read: bound them, so
    // long-polls or a burst of reads cannot pile up.
    let Ok(_slot) = s.tail_slots.try_acquire() else {
        s.counters.refuse("tail_waiters");
        let mut resp = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} tail requests are already open; retry shortly",
                s.max_tail_requests
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
        let state = Arc::clone(&s);
        let c = cursor.clone();
        let read = tokio::task::spawn_blocking(move || {
            let now = state.clock.now_ms();
            tail::tail(&state.root, stream, c, ANSWER_BYTES, Some(now))
        })
        .await;
        let result = match read {
            Ok(Ok(t)) => t,
            Ok(Err(TailError::Bad(e))) => return error(StatusCode::BAD_REQUEST, e),
            Ok(Err(TailError::Io(e))) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_is_a_finite_number_of_seconds_capped_at_the_maximum() {
        let max = Duration::from_secs(30);
        assert_eq!(wait_of(None, max), Ok(Duration::ZERO));
        assert_eq!(wait_of(Some("2.5"), max), Ok(Duration::from_millis(2500)));
        assert_eq!(wait_of(Some("3600"), max), Ok(max));
        for bad in ["NaN", "nan", "inf", "-inf", "-1", "", "soon", "1e400"] {
            assert!(wait_of(Some(bad), max).is_err(), "{bad}");
        }
    }
}
