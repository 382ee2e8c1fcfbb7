//! What every request handler of a feedback server shares: the configuration, the log
//! writers, and the counters `/metrics` reports.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::accept::ConnectionStats;
use super::body::Limits;
use super::limit::RateLimit;
use super::writer::{Clock, LogWriter};
use crate::engine::record::Reason;
use crate::recording::layout::Stream;

#[derive(Default)]
pub struct Counters {
    /// Records stored and acknowledged, per stream.
    pub accepted: [AtomicU64; Stream::ALL.len()],
    /// Records refused, per stream and reason.
    pub rejected: Mutex<BTreeMap<(Stream, Reason), u64>>,
    /// Requests refused whole, per reason.
    pub refused: Mutex<BTreeMap<&'static str, u64>>,
    pub unauthorized: AtomicU64,
    pub bad_names: AtomicU64,
    pub expired_cursors: AtomicU64,
    pub store_errors: AtomicU64,
    /// Links, FIFOs, directories… met where a minute file should be, and skipped.
    pub odd_files: AtomicU64,
}

impl Counters {
    /// Counts a request refused whole.
    pub fn refuse(&self, reason: &'static str) {
        if let Ok(mut m) = self.refused.lock() {
            *m.entry(reason).or_default() += 1;
        }
    }

    /// Adds one request's refused records, counted by reason.
    pub fn reject(&self, stream: Stream, by_reason: &[(Reason, u64)]) {
        if by_reason.is_empty() {
            return;
        }
        if let Ok(mut m) = self.rejected.lock() {
            for &(reason, n) in by_reason {
                *m.entry((stream, reason)).or_default() += n;
            }
        }
    }

    pub fn accepted(&self, stream: Stream) -> &AtomicU64 {
        &self.accepted[stream as usize]
    }

    pub fn odd(&self, n: usize) {
        self.odd_files.fetch_add(n as u64, Ordering::Relaxed);
    }
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
    pub cmcd: LogWriter,
    pub max_wait: Duration,
    pub counters: Counters,
    pub rate_limit: Option<RateLimit>,
    /// Longest time to receive a request body once its headers are in.
    pub body_timeout: Duration,
    /// Tail requests allowed at once (waiting or reading); more get 503 at once.
    pub tail_slots: tokio::sync::Semaphore,
    pub max_tail_requests: usize,
    pub connections: Arc<ConnectionStats>,
}

impl AppState {
    /// The writer that owns `stream`'s log files.
    pub fn writer(&self, stream: Stream) -> &LogWriter {
        match stream {
            Stream::Feedback => &self.feedback,
            Stream::Probes => &self.probes,
            Stream::Cmcd => &self.cmcd,
        }
    }
}
