//! A CDN node's own figures over any span: summed from per-minute tallies, so a day, an
//! hour or the whole log is the merge of its minutes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CacheStatus, Request};

/// Counts of latencies by whole millisecond: nginx logs times to the millisecond, so
/// this is every value, and percentiles are exact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Latencies(BTreeMap<u32, u64>);

impl Latencies {
    pub fn add(&mut self, ms: u32) {
        *self.0.entry(ms).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Latencies) {
        for (&ms, &n) in &other.0 {
            *self.0.entry(ms).or_default() += n;
        }
    }

    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// Nearest-rank percentile (the value at rank ⌈p/100 · n⌉), as the QoE table's
    /// startup percentiles; `None` without values.
    pub fn percentile(&self, p: f64) -> Option<u32> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((p / 100.0 * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (&ms, &k) in &self.0 {
            seen += k;
            if seen >= rank {
                return Some(ms);
            }
        }
        self.0.keys().next_back().copied()
    }
}

/// One node's requests over a span.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFigures {
    pub requests: u64,
    /// Requests answered from the cache.
    pub cache_hits: u64,
    /// Requests that went through the cache, hit or miss (not the uncached ones).
    pub cache_lookups: u64,
    /// Statuses 400–499.
    pub client_errors: u64,
    /// Statuses 500 and above.
    pub server_errors: u64,
    /// Bytes sent to clients, headers included.
    pub bytes: u64,
    /// Time to the origin's response header, for the requests that asked one.
    pub origin_ms: Latencies,
    /// Whole request time, every request.
    pub request_ms: Latencies,
}

impl NodeFigures {
    pub fn add(&mut self, r: &Request) {
        self.requests += 1;
        match r.cache {
            CacheStatus::Hit => {
                self.cache_hits += 1;
                self.cache_lookups += 1;
            }
            CacheStatus::Miss => self.cache_lookups += 1,
            CacheStatus::NotCached => {}
        }
        match r.status {
            400..=499 => self.client_errors += 1,
            500.. => self.server_errors += 1,
            _ => {}
        }
        self.bytes += r.bytes;
        if let Some(ms) = r.origin_ms {
            self.origin_ms.add(ms);
        }
        self.request_ms.add(r.time_ms);
    }

    pub fn merge(&mut self, other: &NodeFigures) {
        self.requests += other.requests;
        self.cache_hits += other.cache_hits;
        self.cache_lookups += other.cache_lookups;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.bytes += other.bytes;
        self.origin_ms.merge(&other.origin_ms);
        self.request_ms.merge(&other.request_ms);
    }

    /// Hits over lookups; `None` when nothing went through a cache.
    pub fn hit_ratio(&self) -> Option<f64> {
        ratio(self.cache_hits, self.cache_lookups)
    }

    /// Requests answered with a 4xx or 5xx status, over all requests.
    pub fn error_rate(&self) -> Option<f64> {
        ratio(self.client_errors + self.server_errors, self.requests)
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}
