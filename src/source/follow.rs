//! Following one stream of a feedback server (`/v1/tail`, or `/v1/logs/latest` +
//! `Range` when it has no tail) or of a local log directory, each on its own thread.
//!
//! A source starts from a cursor at the first minute the views need (the backfill)
//! and then follows. Every request has a timeout; failures are reported as state and
//! retried with back-off, from the same cursor, so a slow, hung or dead server costs
//! its own thread some waiting and nothing else. Cursors are minute names and offsets
//! into a minute's content, so compression on the server never breaks them.
//!
//! A server is not trusted to be well-behaved: an answer is read as a stream up to
//! [`ANSWER_CAP`] and refused past it (a peerscope server sends at most about a
//! megabyte), redirects are not followed, and a server that keeps answering 410 is
//! backed off like one that is down. Each refusal is the source's state, with its reason.

use std::io::Read;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use super::health::{Backoff, SourceEvent, SourceState};
use crate::recording::layout::Stream;
use crate::recording::tail::{self, Cursor, Tail, TailError};

/// The most one answer may carry, in bytes: a peerscope server sends at most a megabyte
/// of lines plus one longer line (itself at most a megabyte).
pub const ANSWER_CAP: u64 = 4 << 20;

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
        // A source's health is its feedback stream's; its probes and CMCD reports only
        // say when their backlog is read or cannot be (a one-off snapshot waits for that).
        if self.stream != Stream::Feedback {
            if !(caught_up || state == SourceState::Down) || self.last.is_some() {
                return true;
            }
            self.last = Some((state, None, true));
            return self
                .tx
                .send(SourceEvent::StreamCaughtUp {
                    source: self.source,
                    stream: self.stream,
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

    fn lines(&self, bytes: Vec<u8>, next: Option<Cursor>) -> bool {
        bytes.is_empty()
            || self
                .tx
                .send(SourceEvent::Lines {
                    source: self.source,
                    stream: self.stream,
                    bytes,
                    next,
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
    let mut cursor = Cursor::at(from_ms);
    let mut caught_up = false;
    if !out.state(SourceState::Loading, None, false) {
        return;
    }
    loop {
        match tail::tail(dir, out.stream, Some(cursor.clone()), 4 << 20, None) {
            Ok(Tail::Data { lines, next }) => {
                let empty = lines.is_empty();
                if !out.lines(lines, Some(next.clone())) {
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
                if let TailError::Bad(_) = e {
                    // The file changed under the cursor (replaced, cut back): start the
                    // minute again rather than hand out half a line.
                    cursor.offset = 0;
                }
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

/// The body of an answer, read as it arrives and refused past `cap` bytes.
fn capped_body(resp: reqwest::blocking::Response, cap: u64) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(format!(
            "answer of {} bytes is over {cap}",
            resp.content_length().unwrap_or(0)
        ));
    }
    let mut body = Vec::new();
    match resp.take(cap + 1).read_to_end(&mut body) {
        Ok(_) if body.len() as u64 > cap => Err(format!("answer over {cap} bytes")),
        Ok(_) => Ok(body),
        Err(e) => Err(format!("reading the answer: {}", cut(&e.to_string()))),
    }
}

fn cut(text: &str) -> String {
    text.chars().take(60).collect()
}

/// A status that is not an answer this client follows, in plain words.
fn refused_status(status: u16, resp: &reqwest::blocking::Response) -> String {
    match status {
        401 | 403 => format!("{status}: wrong or missing token (PEERSCOPE_TOKEN / --token-file)"),
        300..=399 => {
            let to = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map_or_else(String::new, |l| format!(" to {}", cut(l)));
            format!("{status}: redirected{to}, not followed")
        }
        503 => "503: the server is busy or cannot store".into(),
        s => format!("HTTP {s}"),
    }
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
        (200, Some(next)) => match capped_body(resp, ANSWER_CAP) {
            Ok(b) => Step::Data(b, next),
            Err(why) => Step::Failed(why),
        },
        (200, None) => Step::Failed("answer without a cursor: not a peerscope server?".into()),
        (410, Some(oldest)) => Step::Gone(oldest),
        (404 | 405, _) => Step::NoTail,
        (s, _) => Step::Failed(refused_status(s, &resp)),
    }
}

/// A request's failure in a few words, for a status line or a log.
pub fn short_error(e: &reqwest::Error) -> String {
    let text = format!("{e:#}").to_lowercase();
    if e.is_timeout() {
        "timed out".into()
    } else if text.contains("certificate") || text.contains("tls") || text.contains("ssl") {
        format!("TLS: {}", cut(&e.to_string()))
    } else if e.is_connect() {
        "connection refused".into()
    } else {
        cut(&e.to_string())
    }
}

/// Longest tail wait asked of a server once caught up.
const WAIT_S: u32 = 10;
/// After new lines arrive, wait this long before asking for more (see `follow_server`).
const GATHER: Duration = Duration::from_millis(100);

/// The HTTP client of a follower: timeouts on everything, and no redirects (a feedback
/// server does not redirect; one that does is not followed to another host).
fn client() -> Option<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(u64::from(WAIT_S) + 10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()
}

fn follow_server(url: &str, token: Option<&str>, from_ms: i64, mut out: Reporter) {
    let url = url.trim_end_matches('/');
    let Some(client) = client() else {
        out.state(
            SourceState::Down,
            Some("cannot build an HTTP client".into()),
            false,
        );
        return;
    };
    let mut cursor = Cursor::at(from_ms);
    let mut backoff = Backoff::default();
    let mut caught_up = false;
    // A 410 right after another, with no data between: the server's cursors are not
    // moving on, so it is waited for like a failing server.
    let mut gone_again = false;
    if !out.state(SourceState::Loading, None, false) {
        return;
    }
    loop {
        // While catching up, do not wait for new data: ask again at once.
        let wait = if caught_up { WAIT_S } else { 0 };
        match tail_once(&client, url, out.stream, token, &cursor, wait) {
            Step::Data(lines, next) => {
                backoff.reset();
                gone_again = false;
                let empty = lines.is_empty();
                if !out.lines(lines, Some(next.clone())) {
                    return;
                }
                cursor = next;
                let trickle = caught_up && !empty;
                caught_up |= empty;
                if !out.progress(caught_up) {
                    return;
                }
                // Caught up, a long poll returns at each group the server stores:
                // gathering for a moment turns hundreds of round trips a second into
                // a few, for a delay the merge's hold-back dwarfs.
                if trickle {
                    std::thread::sleep(GATHER);
                }
            }
            Step::Gone(oldest) => {
                cursor = oldest;
                if gone_again {
                    let why = "410 again and again: the server's oldest cursor is gone too";
                    if !out.state(SourceState::Down, Some(why.into()), caught_up) {
                        return;
                    }
                    std::thread::sleep(backoff.next_wait());
                }
                gone_again = true;
            }
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
/// `Range` every second, at most [`ANSWER_CAP`] at a time; the rest of a file is read
/// once more when a new one appears.
fn poll_latest(
    client: &reqwest::blocking::Client,
    url: &str,
    token: Option<&str>,
    out: &mut Reporter,
) {
    let mut current: Option<(String, u64)> = None;
    let mut backoff = Backoff::default();
    let get = |path: &str, range: Option<u64>| {
        let mut req = client.get(format!("{url}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(from) = range {
            req = req.header("Range", format!("bytes={from}-{}", from + ANSWER_CAP - 1));
        }
        req.send()
    };
    loop {
        let stream = out.stream.dir_name();
        let latest = get(&format!("/v1/logs/latest?stream={stream}"), None)
            .ok()
            .filter(|r| r.status().is_success())
            .and_then(|r| capped_body(r, 64 << 10).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
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
        let mut failed = None;
        for (file, offset) in names {
            let body = match get(&format!("/v1/logs/{stream}/{file}"), Some(offset)) {
                Ok(resp) if resp.status().as_u16() == 206 => capped_body(resp, ANSWER_CAP),
                Ok(resp) if resp.status().as_u16() == 416 => Ok(Vec::new()),
                Ok(resp) => Err(refused_status(resp.status().as_u16(), &resp)),
                Err(e) => Err(short_error(&e)),
            };
            let body = match body {
                Ok(b) => b,
                Err(why) => {
                    failed = Some(why);
                    if file == name {
                        current = Some((file, offset));
                    }
                    continue;
                }
            };
            // Only whole lines count; the rest is read again next time. A cap's worth with
            // no line end is no line peerscope reads: stepped over.
            let mut whole = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let stepped = if whole == 0 && body.len() as u64 == ANSWER_CAP {
                body.len()
            } else {
                0
            };
            whole = whole.max(stepped);
            if !out.lines(body[..whole - stepped].to_vec(), None) {
                return;
            }
            if file == name {
                current = Some((file, offset + whole as u64));
            }
        }
        let (state, why) = match failed {
            Some(why) => (SourceState::Down, why),
            None => (SourceState::Ok, "no tail: polling".into()),
        };
        if !out.state(state, Some(why), true) {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
