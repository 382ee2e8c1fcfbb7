//! `GET /v1/logs`, `/v1/logs/latest` and `/v1/logs/{stream}/{name}` (DESIGN §4): what
//! minute files a stream holds, and one of them, whole or a byte range (RFC 9110).
//!
//! Files are opened through the log tree's directories without following links
//! ([`layout`](crate::recording::layout)), and a download is streamed in blocks: the
//! memory of a request does not grow with the minute it sends.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::http::{checked_stream, error, quoted};
use super::state::AppState;
use crate::recording::layout::{self, MinuteEntry, MinuteName, OddEntry, Stream, minute_of_stem};

#[derive(Deserialize)]
pub struct ListQuery {
    stream: Option<String>,
    since: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileInfo {
    pub name: String,
    pub minute: String,
    pub bytes: u64,
    pub closed: bool,
}

/// The minute files of a stream, oldest first; a minute caught mid-compression is listed
/// once, by its `.jsonl`. Whatever odd stands in the tree is counted and left out.
fn listed(s: &AppState, stream: Stream) -> io::Result<Vec<FileInfo>> {
    let listing = layout::list_stream(&s.root, stream)?;
    s.counters.odd(listing.odd.len());
    let mut out: Vec<FileInfo> = Vec::with_capacity(listing.minutes.len());
    for MinuteEntry {
        name,
        minute_ms,
        gzip,
        bytes,
    } in listing.minutes
    {
        if out
            .last()
            .is_some_and(|l| minute_of_stem(&l.minute) == Some(minute_ms))
        {
            continue;
        }
        out.push(FileInfo {
            minute: layout::minute_stem(minute_ms),
            name,
            bytes,
            closed: gzip,
        });
    }
    Ok(out)
}

async fn listing(s: &Arc<AppState>, stream: Stream) -> Result<Vec<FileInfo>, Response> {
    let state = Arc::clone(s);
    match tokio::task::spawn_blocking(move || listed(&state, stream)).await {
        Ok(Ok(list)) => Ok(list),
        Ok(Err(e)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

pub async fn list(State(s): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    let stream = match checked_stream(&s, q.stream.as_deref()) {
        Ok(stream) => stream,
        Err(refusal) => return *refusal,
    };
    if let Some(since) = &q.since {
        if minute_of_stem(since).is_none() {
            return error(
                StatusCode::BAD_REQUEST,
                format!("since={} is not a minute (YYYYMMDD-HHMM)", quoted(since)),
            );
        }
    }
    match listing(&s, stream).await {
        Ok(mut list) => {
            if let Some(since) = &q.since {
                list.retain(|f| f.minute.as_str() >= since.as_str());
            }
            axum::Json(list).into_response()
        }
        Err(refusal) => refusal,
    }
}

pub async fn latest(State(s): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    let stream = match checked_stream(&s, q.stream.as_deref()) {
        Ok(stream) => stream,
        Err(refusal) => return *refusal,
    };
    match listing(&s, stream).await.map(|l| l.last().cloned()) {
        Ok(Some(f)) => axum::Json(json!({"name": f.name})).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no log file yet"),
        Err(refusal) => refusal,
    }
}

/// What a `Range` header asks of a representation of `total` bytes (RFC 9110 §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// No range, or one this server ignores (another unit, several ranges, bad syntax):
    /// the whole file, 200.
    Whole,
    /// Bytes `start..=end`, 206.
    Part { start: u64, end: u64 },
    /// A range that starts past the end, 416.
    Unsatisfiable,
}

fn wanted(range: Option<&str>, total: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| {
        let (unit, set) = r.split_once('=')?;
        unit.trim()
            .eq_ignore_ascii_case("bytes")
            .then_some(set.trim())
    }) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Wanted::Whole;
    };
    let number = |t: &str| {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u64>().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => Wanted::Unsatisfiable,
            Some(n) if total > 0 => Wanted::Part {
                start: total.saturating_sub(n),
                end: total - 1,
            },
            Some(_) => Wanted::Unsatisfiable,
            None => Wanted::Whole,
        },
        (start, "") => match number(start) {
            Some(a) if a < total => Wanted::Part {
                start: a,
                end: total - 1,
            },
            Some(_) => Wanted::Unsatisfiable,
            None => Wanted::Whole,
        },
        (start, end) => match (number(start), number(end)) {
            (Some(a), Some(b)) if a <= b => {
                if a < total {
                    Wanted::Part {
                        start: a,
                        end: b.min(total - 1),
                    }
                } else {
                    Wanted::Unsatisfiable
                }
            }
            _ => Wanted::Whole,
        },
    }
}

/// The length of a file's complete lines: an open minute is served up to its last
/// newline, so a download never hands out half a record.
fn complete_len(file: &File) -> io::Result<u64> {
    let mut end = file.metadata()?.len();
    let mut block = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let n = usize::try_from(end - start).unwrap_or(0);
        file.read_exact_at(&mut block[..n], start)?;
        if let Some(i) = memchr::memrchr(b'\n', &block[..n]) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

pub async fn download(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((stream, name)): Path<(String, String)>,
) -> Response {
    let not_found = |s: &AppState| {
        s.counters.bad_names.fetch_add(1, Ordering::Relaxed);
        error(
            StatusCode::NOT_FOUND,
            format!("no log file {}/{}", quoted(&stream), quoted(&name)),
        )
    };
    let (Some(which), Some(parsed)) = (Stream::from_dir_name(&stream), MinuteName::parse(&name))
    else {
        return not_found(&s);
    };
    let gzip = parsed.gzip;
    let state = Arc::clone(&s);
    let file_name = name.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let file = layout::open_minute(&state.root, which, &file_name)?;
        let total = if gzip {
            file.metadata()?.len()
        } else {
            complete_len(&file)?
        };
        io::Result::Ok((file, total))
    })
    .await;
    let (file, total) = match opened {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            if OddEntry::of_error(&e).is_some() {
                s.counters.odd(1);
            } else if e.kind() != io::ErrorKind::NotFound {
                return error(StatusCode::INTERNAL_SERVER_ERROR, e);
            }
            return not_found(&s);
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match wanted(range, total) {
        Wanted::Whole => (StatusCode::OK, 0, total),
        Wanted::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end + 1),
        Wanted::Unsatisfiable => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return resp;
        }
    };
    let mut resp = Response::new(stream_body(file, start, end));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{total}", end - 1)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

/// Bytes `start..end` of `file`, read a block at a time as the client takes them.
fn stream_body(file: File, start: u64, end: u64) -> Body {
    const BLOCK: u64 = 64 << 10;
    let file = Arc::new(file);
    let blocks = futures_util::stream::try_unfold(start, move |at| {
        let file = Arc::clone(&file);
        async move {
            if at >= end {
                return Ok(None);
            }
            let n = usize::try_from(BLOCK.min(end - at)).unwrap_or(0);
            let block = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; n];
                file.read_exact_at(&mut buf, at).map(|()| buf)
            })
            .await
            .map_err(io::Error::other)??;
            io::Result::Ok(Some((Bytes::from(block), at + n as u64)))
        }
    });
    Body::from_stream(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        let part = |start, end| Wanted::Part { start, end };
        for (header, want) in [
            (None, Wanted::Whole),
            (Some("bytes=0-0"), part(0, 0)),
            (Some("bytes=10-"), part(10, 99)),
            (Some("bytes=10-19"), part(10, 19)),
            (Some("bytes=90-200"), part(90, 99)),
            (Some("bytes=-5"), part(95, 99)),
            (Some("bytes=-500"), part(0, 99)),
            (Some("Bytes=1-2"), part(1, 2)),
            (Some("bytes=100-"), Wanted::Unsatisfiable),
            (Some("bytes=100-200"), Wanted::Unsatisfiable),
            (Some("bytes=-0"), Wanted::Unsatisfiable),
            (Some("bytes=5-1"), Wanted::Whole),
            (Some("bytes=0-1,5-6"), Wanted::Whole),
            (Some("items=0-1"), Wanted::Whole),
            (Some("bytes=x-"), Wanted::Whole),
            (Some("bytes=+1-"), Wanted::Whole),
        ] {
            assert_eq!(wanted(header, 100), want, "{header:?}");
        }
        assert_eq!(wanted(Some("bytes=-5"), 0), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-"), 0), Wanted::Unsatisfiable);
    }

    #[test]
    fn an_open_minute_is_served_to_its_last_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x");
        for (text, want) in [
            (&b""[..], 0),
            (b"{}\n", 3),
            (b"{}\n{\"a\":", 3),
            (b"no newline", 0),
        ] {
            std::fs::write(&path, text).expect("write");
            let f = File::open(&path).expect("open");
            assert_eq!(complete_len(&f).expect("len"), want, "{text:?}");
        }
        let mut long = b"{}\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 200_000));
        std::fs::write(&path, &long).expect("write");
        let f = File::open(&path).expect("open");
        assert_eq!(complete_len(&f).expect("len"), 3);
    }
}
