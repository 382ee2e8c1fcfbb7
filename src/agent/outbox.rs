//! Records waiting to be sent: they stay here while the feedback server is away and go
//! out, oldest first, when it answers again. Bounded: past the limit the oldest are
//! dropped and counted, so a probe left alone for weeks does not fill its memory.
//!
//! A POST whose answer was lost may be sent again; the records keep their probe clock
//! `ts`, so the engine and `report` count such a repeat once.

use std::collections::VecDeque;
use std::time::Duration;

use crate::source::follow::short_error;

/// Records per POST.
const CHUNK: usize = 500;

#[derive(Debug, Default)]
pub struct Outbox {
    lines: VecDeque<String>,
    limit: usize,
    pub dropped: u64,
    pub rejected: u64,
    pub sent: u64,
}

/// How a flush went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flush {
    /// Everything waiting was accepted (or refused for good and counted).
    Done,
    /// The server did not take them now; they wait for the next round.
    Kept(String),
}

impl Outbox {
    pub fn new(limit: usize) -> Self {
        Outbox {
            lines: VecDeque::new(),
            limit: limit.max(1),
            ..Outbox::default()
        }
    }

    pub fn push(&mut self, line: String) {
        if self.lines.len() == self.limit {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// POSTs what waits to `url` (`…/v1/probes`) as NDJSON, in chunks.
    pub fn flush(&mut self, client: &reqwest::blocking::Client, url: &str) -> Flush {
        let mut chunk = CHUNK;
        while !self.lines.is_empty() {
            let n = chunk.min(self.lines.len());
            let mut body = String::new();
            for l in self.lines.iter().take(n) {
                body.push_str(l);
                body.push('\n');
            }
            let resp = match client
                .post(url)
                .header("Content-Type", "application/x-ndjson")
                .body(body)
                .send()
            {
                Ok(r) => r,
                Err(e) => return Flush::Kept(short_error(&e)),
            };
            let status = resp.status().as_u16();
            match status {
                204 => {}
                200 => {
                    let rejected = resp
                        .json::<serde_json::Value>()
                        .ok()
                        .and_then(|v| v.get("rejected").and_then(|r| r.as_array()).cloned())
                        .unwrap_or_default();
                    for r in &rejected {
                        eprintln!("probe: the server refused a record: {r}");
                    }
                    self.rejected += rejected.len() as u64;
                }
                413 if n > 1 => {
                    chunk = n / 2;
                    continue;
                }
                400 | 413 | 422 => {
                    // Refused for good: sending it again would not help.
                    eprintln!(
                        "probe: the server refused {n} records with HTTP {status}: {}",
                        resp.text().unwrap_or_default().trim()
                    );
                    self.rejected += n as u64;
                }
                _ => return Flush::Kept(format!("HTTP {status}")),
            }
            self.lines.drain(..n);
            self.sent += n as u64;
        }
        Flush::Done
    }
}

/// The client the agent posts with.
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(timeout)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_go_first_when_full_and_nothing_is_lost_while_away() {
        let mut o = Outbox::new(3);
        for i in 0..5 {
            o.push(format!("{{\"n\":{i}}}"));
        }
        assert_eq!((o.len(), o.dropped), (3, 2));
        // Nobody listens on this port: everything stays.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/v1/probes", listener.local_addr().expect("addr"));
        drop(listener);
        let c = client(Duration::from_millis(500)).expect("client");
        assert!(matches!(o.flush(&c, &url), Flush::Kept(_)));
        assert_eq!(o.len(), 3);
    }
}
