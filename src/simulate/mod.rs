//! `peerscope simulate`: end hosts. Writes an Olympic-style workload into a recording
//! directory (two feedback servers' trees by default), deterministic for a seed.

pub mod cmcd;
pub mod emit;
pub mod faults;
pub mod live;
pub mod olympics;
pub mod plan;
pub mod probes;
pub mod rng;
pub mod writer;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::cli::UsageError;
use crate::config::Settings;
use crate::engine::calendar::Calendar;

use emit::{EmitKnobs, sweep};
use faults::Fault;
use olympics::{DAY_MS, DAYS, EVENT_START_MS, Knobs, PEAK, USERS, population};
use writer::{Layout, with_writers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// 2012 London Olympics in Hong Kong: 17 days, 177,245 users, ~7,000 at peak
    Olympics2012,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The event to simulate
    #[arg(long, value_enum, default_value = "olympics2012")]
    pub scenario: Scenario,
    /// What the players send: 2012 feedback records, or CMCD v2 event reports
    #[arg(long, value_enum, default_value = "feedback")]
    pub format: emit::Format,
    /// Random seed: the same seed and flags give the same recording, byte for byte
    #[arg(long, default_value_t = 2012)]
    pub seed: u64,
    /// Recording directory to write (server trees go below it)
    #[arg(long, value_name = "DIR", required_unless_present_any = ["write_ip_geo", "target"], conflicts_with = "target")]
    pub out: Option<PathBuf>,
    /// POST the records live to this feedback server or coordinator (e.g. http://127.0.0.1:8080)
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Live: records per second instead of the scenario's own pace
    #[arg(long, value_name = "N", requires = "target")]
    pub rate: Option<f64>,
    /// Live: records per request (1 = each peer posts its own, as players do)
    #[arg(long, default_value_t = 1, requires = "target")]
    pub batch: usize,
    /// Live: requests in flight at once
    #[arg(long, default_value_t = 16, requires = "target")]
    pub concurrency: usize,
    /// Live: retries of a request that got no answer, 429 or 5xx (same seq)
    #[arg(long, default_value_t = 5, requires = "target")]
    pub retries: u32,
    /// Live: give up on a request after this long (then it is retried, same seq)
    #[arg(long, default_value_t = 10_000, value_name = "MS", requires = "target")]
    pub timeout_ms: u64,
    /// Live: write "peer seq" of every acknowledged record to FILE
    #[arg(long, value_name = "FILE", requires = "target")]
    pub acked: Option<PathBuf>,
    /// Start, local time (configured zone), e.g. "2012-08-07 08:00"; default: event start
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End (exclusive), local time; default: event end
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Peak concurrent peers to aim for (default 7,000 × scale)
    #[arg(long)]
    pub peak: Option<f64>,
    /// Scale users and load together (0.01 for tests, 1 for the reference event)
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Feedback servers behind the coordinator
    #[arg(long, default_value_t = 2)]
    pub servers: usize,
    /// Share of records a client retries onto another server (duplicates)
    #[arg(long, default_value_t = 0.002)]
    pub duplicates: f64,
    /// Keep each peer on one server, its retries included, as a coordinator that hashes
    /// on the peer places them (written recordings; live, the coordinator decides)
    #[arg(long, conflicts_with = "target")]
    pub affinity: bool,
    /// Share of records followed by a malformed line
    #[arg(long, default_value_t = 0.0)]
    pub malformed: f64,
    /// gzip level for closed minutes (0–9); 1 writes the whole event in about 7 minutes on
    /// 2 cores, 6 takes about 3 times as long for files 40 % smaller
    #[arg(long, default_value_t = 1)]
    pub gzip_level: u32,
    /// Write plain .jsonl files instead of .jsonl.gz
    #[arg(long)]
    pub plain: bool,
    /// Leave out the probes stream (8 probes × 43 destinations, a round every 10 min)
    #[arg(long)]
    pub no_probes: bool,
    /// Degrade a combination for a span, e.g. "isp=HKBN,district=Sha Tin,from=2012-08-07
    /// 09:31,minutes=12,stall=0.2" (also bitrate=, startup=, drop=); repeatable. The
    /// recording gets the list as faults.json at its root
    #[arg(long, value_name = "SPEC")]
    pub fault: Vec<String>,
    /// Write the IP-location table matching the simulator's address plan to FILE and exit
    #[arg(long, value_name = "FILE")]
    pub write_ip_geo: Option<PathBuf>,
}

pub fn run(args: &SimulateArgs, settings: &Settings) -> anyhow::Result<()> {
    if let Some(path) = &args.write_ip_geo {
        std::fs::write(path, plan::ip_geo_csv())
            .with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(());
    }
    let usage = |m: String| anyhow::Error::from(UsageError(m));
    if args.target.is_none() && args.out.is_none() {
        return Err(usage("--out DIR or --target URL is required".into()));
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite()))
        || args.batch == 0
        || args.concurrency == 0
    {
        return Err(usage(
            "--rate, --batch and --concurrency must be positive".into(),
        ));
    }
    if !(args.scale > 0.0 && args.scale.is_finite()) {
        return Err(usage(format!(
            "--scale must be a positive number, got {}",
            args.scale
        )));
    }
    if args.servers == 0 || args.servers > 64 {
        return Err(usage(format!(
            "--servers must be 1..=64, got {}",
            args.servers
        )));
    }
    for (name, share) in [
        ("--duplicates", args.duplicates),
        ("--malformed", args.malformed),
    ] {
        if !(0.0..=1.0).contains(&share) {
            return Err(usage(format!(
                "{name} must be a share between 0 and 1, got {share}"
            )));
        }
    }
    if args.gzip_level > 9 {
        return Err(usage(format!(
            "--gzip-level must be 0..=9, got {}",
            args.gzip_level
        )));
    }
    let cal = Calendar::new(settings.timezone);
    let event_end = EVENT_START_MS + DAYS as i64 * DAY_MS;
    let time = |flag: &str, v: &Option<String>, default: i64| -> anyhow::Result<i64> {
        match v {
            None => Ok(default),
            Some(text) => cal.parse_time(text).ok_or_else(|| {
                usage(format!(
                    "{flag} {text:?} is not a time (expected \"YYYY-MM-DD HH:MM\")"
                ))
            }),
        }
    };
    let from = time("--from", &args.from, EVENT_START_MS)?;
    let to = time("--to", &args.to, event_end)?;
    if from >= to {
        return Err(usage("--from must be before --to".into()));
    }
    // A span outside the event holds nothing to simulate: say so rather than write none.
    if to <= EVENT_START_MS || from >= event_end {
        return Err(usage(format!(
            "--from/--to: the simulated event runs from {} to {}; that span holds none of it",
            cal.minute_label(EVENT_START_MS),
            cal.minute_label(event_end)
        )));
    }
    let knobs = Knobs {
        seed: args.seed,
        users: USERS * args.scale,
        peak: args.peak.unwrap_or(PEAK * args.scale),
    };
    // Views start up to a day before they are seen: generate the day before `from` too.
    let first_day =
        usize::try_from(((from - EVENT_START_MS).div_euclid(DAY_MS) - 1).max(0)).unwrap_or(0);
    let last_day = usize::try_from(
        ((to - 1 - EVENT_START_MS).div_euclid(DAY_MS)).clamp(-1, DAYS as i64 - 1) + 1,
    )
    .unwrap_or(0);
    let started = Instant::now();
    let faults = args
        .fault
        .iter()
        .map(|text| Fault::parse(text, &cal).map_err(|e| usage(format!("--fault {text:?}: {e}"))))
        .collect::<anyhow::Result<Vec<Fault>>>()?;
    let mut pop = population(knobs, first_day..last_day);
    faults::apply_drops(&mut pop, &faults);
    pop.faults = faults;
    if let Some(target) = &args.target {
        let report = live::run_live(
            &pop,
            args.seed,
            from,
            to,
            &live::LiveKnobs {
                target: target.clone(),
                rate: args.rate,
                batch: args.batch,
                concurrency: args.concurrency,
                retries: args.retries,
                acked: args.acked.clone(),
                timeout: std::time::Duration::from_millis(args.timeout_ms.max(1)),
                probes: !args.no_probes,
                format: args.format,
            },
        )?;
        eprintln!("{report}");
        if report.failed > 0 {
            anyhow::bail!(
                "{} records were not acknowledged after {} retries",
                report.failed,
                args.retries
            );
        }
        return Ok(());
    }
    let Some(out) = &args.out else {
        return Err(usage("--out DIR is required".into()));
    };
    let layout = Layout {
        root: out.clone(),
        gzip: (!args.plain).then_some(args.gzip_level),
        server_names: (1..=args.servers).map(|i| format!("fs{i}")).collect(),
    };
    let emit = EmitKnobs {
        seed: args.seed,
        servers: args.servers,
        duplicate_share: args.duplicates,
        affinity: args.affinity,
        malformed_share: args.malformed,
        format: args.format,
    };
    // One writer per core, beside the sweep's thread per core that formats minutes: at
    // the default level 1, deflating a record costs about what formatting it does (at
    // level 6 several times more), and each thread waits whenever the other side lags.
    let writers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let (totals, probe_records) = with_writers(&layout, writers, |send| {
        let totals = sweep(&pop, emit, from, to, &mut *send);
        let probes = if args.no_probes {
            0
        } else {
            probes::sweep(args.seed, args.servers, from, to, send)
        };
        (totals, probes)
    })?;
    if !pop.faults.is_empty() {
        let path = out.join("faults.json");
        std::fs::write(&path, faults::ground_truth(&pop.faults, &cal))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = totals.records as f64 / secs.max(1e-9);
    eprintln!(
        "wrote {} records ({} retried duplicates, {} malformed lines) from {} users, {} views, and {probe_records} probe records to {} in {secs:.1} s ({rate:.0} records/s)",
        totals.records,
        totals.duplicates,
        totals.malformed,
        pop.users.len(),
        pop.views.len(),
        out.display(),
    );
    Ok(())
}
