//! `simulate --target URL`: the end hosts live. Records are POSTed at their scenario time
//! (real pace, relative to `--from`) or at a fixed `--rate`, one per request as players do
//! or in `--batch`es as a load generator does, by `--concurrency` workers.
//!
//! A request that fails without an answer, or is answered 429 or 5xx, is retried with the
//! same body — the same (`peer`, `seq`) — so a retry the server did store after all is a
//! detectable duplicate. 4xx answers are not retried. `--acked FILE` lists every feedback
//! record a server acknowledged, for checking that none was lost.
//!
//! The probes stream goes along (unless `--no-probes`): each probe POSTs its round's
//! records to `/v1/probes` in one request when the feedback stream reaches the round's
//! scenario time, so probes keep their place in time at real pace and under `--rate`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::emit::{Format, PeerRecord, each_record};
use super::olympics::Population;
use super::probes;

/// The header a player names itself in: the coordinator hashes on it, so that all of a
/// peer's records reach one feedback server (`deploy/nginx.conf`), as the cubes'
/// followers need (README, "Scale").
pub const PEER_HEADER: &str = "X-Peerscope-Peer";

#[derive(Debug, Clone)]
pub struct LiveKnobs {
    pub target: String,
    pub rate: Option<f64>,
    pub batch: usize,
    pub concurrency: usize,
    pub retries: u32,
    pub acked: Option<PathBuf>,
    pub timeout: Duration,
    pub probes: bool,
    pub format: Format,
}

struct Job {
    records: Vec<PeerRecord>,
    /// Probe records, for `/v1/probes` (`peer` holds the probe's name).
    probes: bool,
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    acked: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
}

/// What a live run achieved.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveReport {
    /// Feedback and probe records.
    pub records: u64,
    pub probe_records: u64,
    pub requests: u64,
    pub acked: u64,
    pub rejected: u64,
    pub failed: u64,
    pub retries: u64,
    pub seconds: f64,
    pub latency_ms: [f64; 3],
}

impl std::fmt::Display for LiveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [p50, p90, p99] = self.latency_ms;
        write!(
            f,
            "sent {} records ({} of them probe records) in {} requests over {:.1} s ({:.0} records/s): {} acknowledged, {} rejected, {} failed after retries, {} retries; latency p50 {p50:.1} ms, p90 {p90:.1} ms, p99 {p99:.1} ms",
            self.records,
            self.probe_records,
            self.requests,
            self.seconds,
            self.records as f64 / self.seconds.max(1e-9),
            self.acked,
            self.rejected,
            self.failed,
            self.retries,
        )
    }
}

/// The viewers' and probes' endpoints of `target` (a server, or its feedback or CMCD
/// URL).
fn endpoints(target: &str, format: Format) -> (String, String) {
    let t = target.trim_end_matches('/');
    let base = t.strip_suffix("/v1/feedback").unwrap_or(t);
    let base = base.strip_suffix("/v1/cmcd").unwrap_or(base);
    let viewers = match format {
        Format::Feedback => "feedback",
        Format::Cmcd => "cmcd",
    };
    (format!("{base}/v1/{viewers}"), format!("{base}/v1/probes"))
}

/// One job per probe for the round starting at `start`, its probe clocks in the
/// present: a round is sent as its scenario time comes, so it is measured "now".
fn probe_jobs(seed: u64, start: i64, from: i64, to: i64) -> Vec<Job> {
    let mut by_probe: std::collections::BTreeMap<&str, Vec<PeerRecord>> =
        std::collections::BTreeMap::new();
    let now = chrono::Utc::now().timestamp_millis();
    for r in probes::round(seed, start, from, to, now - start) {
        by_probe.entry(r.probe).or_default().push(PeerRecord {
            at: r.ts,
            ip: String::new(),
            peer: r.probe.to_owned(),
            seq: 0,
            body: r.body.into_bytes(),
        });
    }
    by_probe
        .into_values()
        .map(|records| Job {
            records,
            probes: true,
        })
        .collect()
}

pub fn run_live(
    pop: &Population,
    seed: u64,
    from: i64,
    to: i64,
    k: &LiveKnobs,
) -> anyhow::Result<LiveReport> {
    let (url, probe_url) = endpoints(&k.target, k.format);
    let client = reqwest::blocking::Client::builder()
        .timeout(k.timeout)
        .pool_max_idle_per_host(k.concurrency)
        .build()
        .context("cannot build the HTTP client")?;
    let acked_log = match &k.acked {
        Some(p) => Some(Mutex::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ))),
        None => None,
    };
    let tally = Tally::default();
    let latencies = Mutex::new(Vec::<f64>::new());
    let (tx, rx) = mpsc::sync_channel::<Job>(k.concurrency * 4);
    let rx = Mutex::new(rx);
    let started = Instant::now();
    let mut records = 0u64;
    let mut probe_records = 0u64;
    std::thread::scope(|scope| {
        for _ in 0..k.concurrency.max(1) {
            scope.spawn(|| {
                loop {
                    let Ok(Ok(job)) = rx.lock().map(|r| r.recv()) else {
                        return;
                    };
                    send(
                        &client,
                        if job.probes { &probe_url } else { &url },
                        &job,
                        k,
                        &tally,
                        &latencies,
                        acked_log.as_ref(),
                    );
                }
            });
        }
        let mut batch = Vec::with_capacity(k.batch);
        let mut index = 0u64;
        let mut next_round = probes::first_round(from);
        let mut send_rounds = |until: i64| {
            while k.probes && next_round < to && next_round <= until {
                for job in probe_jobs(seed, next_round, from, to) {
                    probe_records += job.records.len() as u64;
                    let _ = tx.send(job);
                }
                next_round += probes::ROUND_MS;
            }
        };
        // CMCD reports carry the player's clock, which the collector holds to its own:
        // the scenario's times move into the present, as the probes' do.
        let shift = chrono::Utc::now().timestamp_millis() - from;
        each_record(pop, seed, from, to, k.format, shift, |r| {
            index += 1;
            let due = match k.rate {
                Some(rate) => Duration::from_secs_f64(index as f64 / rate),
                None => Duration::from_millis(u64::try_from(r.at - from).unwrap_or(0)),
            };
            send_rounds(r.at);
            batch.push(r);
            if batch.len() >= k.batch.max(1) {
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
                records += batch.len() as u64;
                let _ = tx.send(Job {
                    records: std::mem::take(&mut batch),
                    probes: false,
                });
            }
        });
        if !batch.is_empty() {
            records += batch.len() as u64;
            let _ = tx.send(Job {
                records: batch,
                probes: false,
            });
        }
        send_rounds(i64::MAX);
        drop(tx);
    });
    if let Some(log) = acked_log {
        log.into_inner()
            .map_err(|_| anyhow::anyhow!("acked log lock"))?
            .flush()?;
    }
    let mut lat = latencies.into_inner().unwrap_or_default();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| crate::engine::aggregate::qoe::nearest_rank(&lat, p).unwrap_or(0.0);
    Ok(LiveReport {
        records: records + probe_records,
        probe_records,
        requests: tally.requests.load(Ordering::Relaxed),
        acked: tally.acked.load(Ordering::Relaxed),
        rejected: tally.rejected.load(Ordering::Relaxed),
        failed: tally.failed.load(Ordering::Relaxed),
        retries: tally.retries.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        latency_ms: [pct(50.0), pct(90.0), pct(99.0)],
    })
}

fn send(
    client: &reqwest::blocking::Client,
    url: &str,
    job: &Job,
    k: &LiveKnobs,
    tally: &Tally,
    latencies: &Mutex<Vec<f64>>,
    acked_log: Option<&Mutex<std::io::BufWriter<std::fs::File>>>,
) {
    let mut body = Vec::new();
    for r in &job.records {
        body.extend_from_slice(&r.body);
        body.push(b'\n');
    }
    for attempt in 0..=k.retries {
        if attempt > 0 {
            tally.retries.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis((50u64 << attempt.min(5)).min(2000)));
        }
        let mut req = client.post(url).body(body.clone()).header(
            "Content-Type",
            if !job.probes && k.format == Format::Cmcd {
                "application/cmcd"
            } else {
                "application/x-ndjson"
            },
        );
        if let (false, [only]) = (job.probes, job.records.as_slice()) {
            // A player posts its own records; a server that trusts us as a proxy uses
            // its address, and a coordinator hashing on the peer its name.
            req = req
                .header("X-Real-IP", only.ip.as_str())
                .header(PEER_HEADER, only.peer.as_str());
        }
        let t = Instant::now();
        tally.requests.fetch_add(1, Ordering::Relaxed);
        let Ok(resp) = req.send() else { continue };
        let status = resp.status().as_u16();
        if status == 429 || status >= 500 {
            continue;
        }
        if let Ok(mut l) = latencies.lock() {
            l.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let rejected: Vec<u64> = if status == 200 {
            resp.json::<serde_json::Value>()
                .ok()
                .and_then(|v| {
                    v["rejected"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|r| r["index"].as_u64()).collect())
                })
                .unwrap_or_default()
        } else if status == 204 {
            Vec::new()
        } else {
            (0..job.records.len() as u64).collect()
        };
        tally
            .rejected
            .fetch_add(rejected.len() as u64, Ordering::Relaxed);
        let ok: Vec<&PeerRecord> = job
            .records
            .iter()
            .enumerate()
            .filter(|(i, _)| !rejected.contains(&(*i as u64)))
            .map(|(_, r)| r)
            .collect();
        tally.acked.fetch_add(ok.len() as u64, Ordering::Relaxed);
        if let Some(log) = acked_log.filter(|_| !job.probes) {
            if let Ok(mut w) = log.lock() {
                for r in ok {
                    let _ = writeln!(w, "{} {}", r.peer, r.seq);
                }
            }
        }
        return;
    }
    tally
        .failed
        .fetch_add(job.records.len() as u64, Ordering::Relaxed);
}
