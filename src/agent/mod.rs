//! `peerscope probe`: a probe agent. Every round it measures TCP connect RTT and
//! failures towards each destination of its config (rounds start at a random offset,
//! so many probes do not hit a destination at once), optionally takes the hop list
//! from the system's `traceroute`, and POSTs one probe record per destination
//! (DESIGN §2.2) to a feedback server. While the server is away it keeps measuring and
//! keeps the records; they go out when it answers again.

pub mod measure;
pub mod outbox;
pub mod traceroute;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::UsageError;
use crate::config::{ProbeDestination, Settings};

use measure::measure;
use outbox::{Flush, Outbox};

#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// Feedback server or coordinator to POST to (default: `probe.server` in the config)
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// This probe's name in its records (default: `probe.name`, else the host name)
    #[arg(long)]
    pub name: Option<String>,
    /// A destination, NAME=HOST:PORT or NAME=HOST:PORT@GROUP (repeatable; adds to the
    /// config's `probe.destinations`)
    #[arg(long = "dest", value_name = "NAME=HOST:PORT[@GROUP]")]
    pub dests: Vec<String>,
    /// Seconds between rounds (default: `probe.interval_s`, 600)
    #[arg(long, value_name = "S")]
    pub interval_s: Option<f64>,
    /// TCP connects per destination and round (default: `probe.samples`)
    #[arg(long)]
    pub samples: Option<u32>,
    /// Take hop lists from the system's traceroute (when installed)
    #[arg(long)]
    pub traceroute: bool,
    /// Stop after this many rounds (default: run until SIGTERM / Ctrl-C)
    #[arg(long, value_name = "N")]
    pub rounds: Option<u64>,
    /// Records kept while the server is away, at most (the oldest go first)
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub keep: usize,
}

/// Parses `NAME=HOST:PORT[@GROUP]`.
pub fn parse_dest(text: &str) -> Result<ProbeDestination, String> {
    let (name, rest) = text
        .split_once('=')
        .ok_or_else(|| format!("--dest {text:?}: expected NAME=HOST:PORT[@GROUP]"))?;
    let (addr, group) = match rest.split_once('@') {
        Some((a, g)) => (a, g.to_owned()),
        None => (rest, "default".to_owned()),
    };
    let port_ok = addr
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
    if name.is_empty() || !port_ok {
        return Err(format!("--dest {text:?}: expected NAME=HOST:PORT[@GROUP]"));
    }
    Ok(ProbeDestination {
        name: name.to_owned(),
        addr: addr.to_owned(),
        group,
    })
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "probe".into())
}

/// One destination's record of one round.
fn record(
    probe: &str,
    d: &ProbeDestination,
    ts: i64,
    m: &measure::Measurement,
    hops: Option<&[crate::engine::record::Hop]>,
) -> String {
    let mut v = serde_json::json!({
        "v": 1,
        "probe": probe,
        "dest": d.name,
        "group": d.group,
        "ts": ts,
        "rtt_ms": (m.rtt_ms * 1000.0).round() / 1000.0,
        "loss_fwd": m.failure_rate,
        "loss_rev": m.failure_rate,
        "reorder_fwd": 0.0,
        "reorder_rev": 0.0,
        "samples": m.samples,
    });
    if let Some(h) = hops {
        v["hops"] = h
            .iter()
            .map(|h| serde_json::json!({"ip": h.ip, "asn": h.asn}))
            .collect();
    }
    v.to_string()
}

/// Sleeps until `until`, waking early when asked to stop; false if so.
fn sleep_until(until: Instant, stop: &AtomicBool) -> bool {
    while Instant::now() < until {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(100)));
    }
    !stop.load(Ordering::SeqCst)
}

pub fn run(args: &ProbeArgs, settings: &Settings) -> anyhow::Result<()> {
    let usage = |m: String| anyhow::Error::from(UsageError(m));
    let cfg = &settings.probe;
    let server = args
        .server
        .clone()
        .or_else(|| cfg.server.clone())
        .ok_or_else(|| {
            usage("no server: give --server URL or probe.server in the config".into())
        })?;
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(usage(format!(
            "--server {server:?}: expected http://HOST:PORT"
        )));
    }
    let mut dests = cfg.destinations.clone();
    for d in &args.dests {
        dests.push(parse_dest(d).map_err(usage)?);
    }
    if dests.is_empty() {
        return Err(usage(
            "no destinations: give --dest NAME=HOST:PORT or [[probe.destinations]] in the config"
                .into(),
        ));
    }
    let interval = args.interval_s.unwrap_or(cfg.interval_s as f64);
    if !(interval.is_finite() && interval >= 0.1) {
        return Err(usage(format!(
            "--interval-s must be at least 0.1, got {interval}"
        )));
    }
    let interval = Duration::from_secs_f64(interval);
    let samples = args.samples.unwrap_or(cfg.samples).max(1);
    let timeout = Duration::from_millis(cfg.timeout_ms.max(1));
    let traceroute = args.traceroute || cfg.traceroute;
    let name = args
        .name
        .clone()
        .or_else(|| cfg.name.clone())
        .unwrap_or_else(host_name);
    let url = format!("{}/v1/probes", server.trim_end_matches('/'));
    let client = outbox::client(Duration::from_secs(10))?;
    let mut outbox = Outbox::new(args.keep);
    let stop = Arc::new(AtomicBool::new(false));
    // SIGTERM and SIGINT ask the loop to stop after a last attempt to send.
    let flag = Arc::clone(&stop);
    crate::signals::on_either(
        tokio::signal::unix::SignalKind::terminate(),
        tokio::signal::unix::SignalKind::interrupt(),
        move || flag.store(true, Ordering::SeqCst),
    );
    let mut rng = crate::simulate::rng::Rng::new(
        u64::try_from(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0),
        u64::from(std::process::id()),
    );
    eprintln!(
        "probe {name}: {} destinations every {:.1} s, {samples} connects each, to {url}",
        dests.len(),
        interval.as_secs_f64()
    );
    let started = Instant::now();
    let mut round: u64 = 0;
    loop {
        // Rounds keep their schedule; each starts at a random point of its first
        // quarter (at most a minute in).
        let slot = started + interval.mul_f64(round as f64);
        let jitter = interval
            .mul_f64(0.25)
            .min(Duration::from_secs(60))
            .mul_f64(rng.unit());
        if !sleep_until(slot + jitter, &stop) {
            break;
        }
        let gap = (interval / 4 / samples).min(Duration::from_millis(200));
        let results: Vec<(
            i64,
            measure::Measurement,
            Option<Vec<crate::engine::record::Hop>>,
        )> = std::thread::scope(|s| {
            let handles: Vec<_> = dests
                .iter()
                .map(|d| {
                    s.spawn(move || {
                        let ts = chrono::Utc::now().timestamp_millis();
                        let m = measure(&d.addr, samples, timeout, gap);
                        let hops = traceroute
                            .then(|| {
                                let host =
                                    d.addr.rsplit_once(':').map_or(d.addr.as_str(), |(h, _)| h);
                                traceroute::trace(host.trim_matches(['[', ']']), timeout)
                                    .map_err(|e| eprintln!("probe: {e}"))
                                    .ok()
                            })
                            .flatten();
                        (ts, m, hops)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (d, (ts, m, hops)) in dests.iter().zip(&results) {
            if let Some(e) = &m.last_error {
                eprintln!("probe: {} ({}): {e}", d.name, d.addr);
            }
            outbox.push(record(&name, d, *ts, m, hops.as_deref()));
        }
        round += 1;
        match outbox.flush(&client, &url) {
            Flush::Done => eprintln!("round {round}: {} records sent", results.len()),
            Flush::Kept(why) => eprintln!(
                "round {round}: server unavailable ({why}); {} records kept for later",
                outbox.len()
            ),
        }
        if args.rounds.is_some_and(|n| round >= n) {
            break;
        }
    }
    // A last try for what is still waiting.
    if !outbox.is_empty() {
        if let Flush::Kept(why) = outbox.flush(&client, &url) {
            eprintln!(
                "probe: {} records could not be sent ({why}) and are lost",
                outbox.len()
            );
        }
    }
    eprintln!(
        "probe {name}: {round} rounds, {} records sent, {} refused, {} dropped while the server was away",
        outbox.sent, outbox.rejected, outbox.dropped
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_with_and_without_group() {
        let d = parse_dest("bbc=www.bbc.co.uk:443@Internet(England)").expect("valid");
        assert_eq!(
            (d.name.as_str(), d.addr.as_str(), d.group.as_str()),
            ("bbc", "www.bbc.co.uk:443", "Internet(England)")
        );
        assert_eq!(
            parse_dest("lo=127.0.0.1:80").expect("valid").group,
            "default"
        );
        for bad in [
            "bbc",
            "=host:1",
            "x=host",
            "x=host:0",
            "x=:80",
            "x=host:http",
        ] {
            assert!(parse_dest(bad).is_err(), "{bad}");
        }
    }
}
