//! Following one stream of a feedback server (`/v1/tail`, or `/v1/logs/latest` +
//! `Range` when it has no tail) or of a local log directory, each on its own thread.
//!
//! A source starts from a cursor at the first minute the views need (the backfill)
//! and then follows. Every request has a timeout; failures are reported as state and
//! retried with back-off, from the same cursor, so a slow, hung or dead server costs
//! its own thread some waiting and nothing else. Cursors are minute names and offsets
//! into a minute's content, so compression on the server never breaks them.

use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::health::{Backoff, SourceEvent, SourceState};
use crate::recording::scan::Stream;
use crate::server::files::{self, Cursor, Tail};

/// The cursor at the start of the minute holding `ms` (minute names are UTC).
pub fn cursor_at(ms: i64) -> Cursor {
    let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    Cursor {
        minute: t.format("%Y%m%d-%H%M").to_string(),
        offset: 0,
    }
}

/// Where a source reads from.
#[derive(Debug, Clone)]
pub enum Origin {
    Server { url: String, token: Option<String> },
    Dir(PathBuf),
}

impl Origin {
    pub fn name(&self) -> String {
        match self {
            Origin::Server { url, .. } => url.clone(),
            Origin::Dir(p) => p.display().to_string(),
        }
    }
}

/// Reports to the engine; false once the engine is gone.
struct Reporter {
    source: usize,
    stream: Stream,
    tx: SyncSender<SourceEvent>,
    last: Option<(SourceState, Option<String>, bool)>,
}

impl Reporter {
    fn state(&mut self, state: SourceState, error: Option<String>, caught_up: bool) -> bool {
        // A source's health is its feedback stream's; its probes only say when their
        // backlog is read or cannot be (a one-off snapshot waits for that).
        if self.stream == Stream::Probes {
            if !(caught_up || state == SourceState::Down) || self.last.is_some() {
                return true;
            }
            self.last = Some((state, None, true));
            return self
                .tx
                .send(SourceEvent::ProbesCaughtUp {
                    source: self.source,
                })
                .is_ok();
        }
        let now = (state, error.clone(), caught_up);
        if self.last.as_ref() == Some(&now) {
            return true;
        }
        self.last = Some(now);
        self.tx
            .send(SourceEvent::State {
                source: self.source,
                state,
                error,
                caught_up,
            })
            .is_ok()
    }

    /// Reading goes on: `Loading` until the backlog is read, then `Ok`.
    fn progress(&mut self, caught_up: bool) -> bool {
        let state = if caught_up {
            SourceState::Ok
        } else {
            SourceState::Loading
        };
        self.state(state, None, caught_up)
    }

    fn lines(&self, bytes: Vec<u8>) -> bool {
        bytes.is_empty()
            || self
                .tx
                .send(SourceEvent::Lines {
                    source: self.source,
                    stream: self.stream,
                    bytes,
                })
                .is_ok()
    }
}

/// Starts following `stream` of `origin` from `from_ms` on a new thread.
pub fn spawn(
    origin: Origin,
    stream: Stream,
    source: usize,
    from_ms: i64,
    tx: SyncSender<SourceEvent>,
) {
    let name = format!("source-{source}-{}", stream.dir_name());
    let reporter = Reporter {
        source,
        stream,
        tx,
        last: None,
    };
    let _ = std::thread::Builder::new()
        .name(name)
        .spawn(move || match origin {
            Origin::Server { url, token } => {
                follow_server(&url, token.as_deref(), from_ms, reporter);
            }
            Origin::Dir(dir) => follow_dir(&dir, from_ms, reporter),
        });
}

fn follow_dir(dir: &std::path::Path, from_ms: i64, mut out: Reporter) {
    let mut cursor = cursor_at(from_ms);
    let mut caught_up = false;
    if !out.state(SourceState::Loading, None, false) {
        return;
    }
    loop {
        match files::tail(dir, out.stream.dir_name(), Some(cursor.clone()), 4 << 20) {
            Ok(Tail::Data { lines, next }) => {
                let empty = lines.is_empty();
                if !out.lines(lines) {
                    return;
                }
                cursor = next;
                if empty {
                    caught_up = true;
                    std::thread::sleep(Duration::from_millis(500));
                }
                if !out.progress(caught_up) {
                    return;
                }
            }
            Ok(Tail::Gone { oldest }) => cursor = oldest,
            Err(e) => {
                if !out.state(SourceState::Down, Some(e.to_string()), caught_up) {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// The outcome of one tail request.
enum Step {
    Data(Vec<u8>, Cursor),
    Gone(Cursor),
    NoTail,
    Failed(String),
}

fn tail_once(
    client: &reqwest::blocking::Client,
    url: &str,
    stream: Stream,
    token: Option<&str>,
    cursor: &Cursor,
    wait_s: u32,
) -> Step {
    let mut req = client.get(format!(
        "{url}/v1/tail?stream={}&cursor={cursor}&wait={wait_s}",
        stream.dir_name()
    ));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = match req.send() {
        Ok(r) => r,
        Err(e) => return Step::Failed(short_error(&e)),
    };
    let status = resp.status().as_u16();
    let next = resp
        .headers()
        .get("x-peerscope-cursor")
        .and_then(|v| v.to_str().ok())
        .and_then(Cursor::parse);
    match (status, next) {
        (200, Some(next)) => match resp.bytes() {
            Ok(b) => Step::Data(b.to_vec(), next),
            Err(e) => Step::Failed(short_error(&e)),
        },
        (410, Some(oldest)) => Step::Gone(oldest),
        (404 | 405, _) => Step::NoTail,
        (401, _) => Step::Failed("401 unauthorized: check PEERSCOPE_TOKEN / --token-file".into()),
        (s, _) => Step::Failed(format!("HTTP {s}")),
    }
}

/// A request's failure in a few words, for a status line or a log.
pub fn short_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused".into()
    } else {
        e.to_string().chars().take(60).collect()
    }
}

/// Longest tail wait asked of a server once caught up.
const WAIT_S: u32 = 10;

fn follow_server(url: &str, token: Option<&str>, from_ms: i64, mut out: Reporter) {
    let url = url.trim_end_matches('/');
    let Ok(client) = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(u64::from(WAIT_S) + 10))
        .build()
    else {
        out.state(
            SourceState::Down,
            Some("cannot build an HTTP client".into()),
            false,
        );
        return;
    };
    let mut cursor = cursor_at(from_ms);
    let mut backoff = Backoff::default();
    let mut caught_up = false;
    if !out.state(SourceState::Loading, None, false) {
        return;
    }
    loop {
        // While catching up, do not wait for new data: ask again at once.
        let wait = if caught_up { WAIT_S } else { 0 };
        match tail_once(&client, url, out.stream, token, &cursor, wait) {
            Step::Data(lines, next) => {
                backoff.reset();
                let empty = lines.is_empty();
                if !out.lines(lines) {
                    return;
                }
                cursor = next;
                caught_up |= empty;
                if !out.progress(caught_up) {
                    return;
                }
            }
            Step::Gone(oldest) => cursor = oldest,
            Step::NoTail => {
                poll_latest(&client, url, token, &mut out);
                return;
            }
            Step::Failed(why) => {
                if !out.state(SourceState::Down, Some(why), caught_up) {
                    return;
                }
                std::thread::sleep(backoff.next_wait());
            }
        }
    }
}

/// For a server without `tail`: the newest file, re-read from the last offset with
/// `Range` every second; the rest of a file is read once more when a new one appears.
fn poll_latest(
    client: &reqwest::blocking::Client,
    url: &str,
    token: Option<&str>,
    out: &mut Reporter,
) {
    let mut current: Option<(String, u64)> = None;
    let mut backoff = Backoff::default();
    let get = |path: &str, from: u64| {
        let mut req = client.get(format!("{url}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if from > 0 {
            req = req.header("Range", format!("bytes={from}-"));
        }
        req.send()
    };
    loop {
        let stream = out.stream.dir_name();
        let latest = get(&format!("/v1/logs/latest?stream={stream}"), 0)
            .ok()
            .filter(|r| r.status().is_success())
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned));
        let Some(name) = latest else {
            if !out.state(
                SourceState::Down,
                Some("no tail, and /v1/logs/latest failed".into()),
                false,
            ) {
                return;
            }
            std::thread::sleep(backoff.next_wait());
            continue;
        };
        backoff.reset();
        let mut names = Vec::new();
        if let Some((old, offset)) = current.take() {
            let moved_on = old != name;
            names.push((old, offset));
            if moved_on {
                names.push((name.clone(), 0));
            }
        } else {
            names.push((name.clone(), 0));
        }
        for (file, offset) in names {
            let Ok(resp) = get(&format!("/v1/logs/{stream}/{file}"), offset) else {
                continue;
            };
            let Ok(body) = resp.bytes() else { continue };
            // Only whole lines count; the rest is read again next time.
            let whole = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            if !out.lines(body[..whole].to_vec()) {
                return;
            }
            if file == name {
                current = Some((file, offset + whole as u64));
            }
        }
        if !out.state(SourceState::Ok, Some("no tail: polling".into()), true) {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
