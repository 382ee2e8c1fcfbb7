//! `peerscope serve`: a feedback server (DESIGN §4). Accepts feedback and probe records
//! over HTTP, appends them to per-minute log files with group commit, and serves those
//! logs (listing, download with `Range`, long-poll tail, Prometheus metrics).

pub mod accept;
pub mod auth;
pub mod body;
pub mod cmcd;
pub mod http;
pub mod ingest;
pub mod limit;
pub mod logfile;
pub mod logs;
pub mod metrics;
pub mod stamp;
pub mod state;
pub mod tail;
pub mod writer;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::cli::UsageError;
use crate::config::Settings;
use crate::engine::record::MAX_LINE;
use crate::recording::layout::{self, OddEntry, Stream, TreeDir};
use body::Limits;
use state::{AppState, Counters};
use writer::{Clock, Fsync, LogWriter, MINUTE_MS, SystemClock, WriterConfig};

pub use auth::read_token;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FsyncMode {
    /// Acknowledge after fdatasync, shared by concurrent requests (group commit)
    Batch,
    /// Acknowledge after writing; fdatasync every --fsync-interval-ms (a crash may lose that much)
    Interval,
    /// Acknowledge after writing; leave syncing to the OS (a crash may lose seconds)
    None,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed on stderr)
    #[arg(long, default_value = "127.0.0.1:8040", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Log directory
    #[arg(long, default_value = "logs", value_name = "DIR")]
    pub log_dir: PathBuf,
    /// This server's name, written into every record as `srv`
    #[arg(long, default_value = "fs1")]
    pub name: String,
    /// When a record is on disk before it is acknowledged
    #[arg(long, value_enum, default_value = "batch")]
    pub fsync: FsyncMode,
    /// With --fsync interval: the longest time between fdatasyncs (a crash of the machine may lose that much)
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub fsync_interval_ms: u64,
    /// File holding the read token (owner-only permissions); or set `PEERSCOPE_TOKEN`
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Proxy allowed to set X-Real-IP / X-Forwarded-For (repeatable)
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<IpAddr>,
    /// Largest request body on the wire, bytes
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body: usize,
    /// Largest body after gzip decompression, bytes
    #[arg(long, default_value_t = 8 << 20)]
    pub max_decoded: usize,
    /// Largest single record, bytes
    #[arg(long, default_value_t = 64 << 10)]
    pub max_record: usize,
    /// Longest tail long-poll wait, seconds
    #[arg(long, default_value_t = 30)]
    pub max_wait_s: u64,
    /// Requests per second allowed per client address (0 = no limit)
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    pub rate_limit: f64,
    /// Requests a client may send at once above the rate
    #[arg(long, default_value_t = 100.0, value_name = "N")]
    pub rate_burst: f64,
    /// Longest time to receive a request's headers; also the keep-alive idle time
    #[arg(long, default_value_t = 30, value_name = "S")]
    pub header_timeout_s: u64,
    /// Longest time to receive a request body once its headers are in
    #[arg(long, default_value_t = 30, value_name = "S")]
    pub body_timeout_s: u64,
    /// Connections open at once; more are closed on accept (keep below `ulimit -n`)
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub max_connections: usize,
    /// Tail requests open at once (waiting or reading); more are answered 503 with Retry-After
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_tail_waiters: usize,
    /// gzip level of closed minutes
    #[arg(long, default_value_t = 6)]
    pub gzip_level: u32,
    /// Seconds between tries at compressing a closed minute that failed (a full disk)
    #[arg(long, default_value_t = 10, value_name = "S")]
    pub compress_retry_s: u64,
}

impl ServeArgs {
    /// Refuses settings that would turn a limit off or make the server useless: every
    /// limit is at least 1, a record fits in a body, and in what readers accept.
    fn validate(&self) -> Result<(), UsageError> {
        let at_least_one = [
            ("--max-body", self.max_body as u64),
            ("--max-decoded", self.max_decoded as u64),
            ("--max-record", self.max_record as u64),
            ("--header-timeout-s", self.header_timeout_s),
            ("--body-timeout-s", self.body_timeout_s),
            ("--max-connections", self.max_connections as u64),
            ("--max-tail-waiters", self.max_tail_waiters as u64),
            ("--fsync-interval-ms", self.fsync_interval_ms),
            ("--compress-retry-s", self.compress_retry_s),
        ];
        for (flag, value) in at_least_one {
            if value == 0 {
                return Err(UsageError(format!("{flag} must be at least 1")));
            }
        }
        if self.max_record > MAX_LINE {
            return Err(UsageError(format!(
                "--max-record {} is over {MAX_LINE}, the longest line peerscope reads back",
                self.max_record
            )));
        }
        if self.gzip_level > 9 {
            return Err(UsageError(format!(
                "--gzip-level {} is not a gzip level (0 to 9)",
                self.gzip_level
            )));
        }
        if !(self.rate_limit.is_finite() && self.rate_limit >= 0.0) {
            return Err(UsageError(format!(
                "--rate-limit {} is not a rate (0 turns it off)",
                self.rate_limit
            )));
        }
        if self.rate_limit > 0.0 && !(self.rate_burst.is_finite() && self.rate_burst >= 1.0) {
            return Err(UsageError(format!(
                "--rate-burst {} must be at least 1",
                self.rate_burst
            )));
        }
        if self.name.is_empty() || self.name.len() > 64 {
            return Err(UsageError("--name must be 1 to 64 characters".into()));
        }
        Ok(())
    }
}

/// Start-up recovery: every closed minute ends with exactly one valid copy; the current
/// minute's file, if any, stays open for appending (its tail is repaired on open).
/// Links, FIFOs and directories where day directories or minute files should be are
/// reported with their paths and left alone; returns how many there were.
fn recover(root: &Path, clock: &dyn Clock, level: u32) -> anyhow::Result<usize> {
    let now_minute = clock.now_ms().div_euclid(MINUTE_MS) * MINUTE_MS;
    let open = layout::file_name(now_minute, false);
    let mut odd: Vec<OddEntry> = Vec::new();
    for stream in Stream::ALL {
        let stream_dir = match TreeDir::open(root, &[stream.dir_name()], false) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => match OddEntry::of_error(&e) {
                Some(o) => {
                    odd.push(o.clone());
                    continue;
                }
                None => return Err(e).context("cannot recover the log directory"),
            },
        };
        let days = stream_dir
            .entries()
            .with_context(|| format!("cannot list {}", stream_dir.path().display()))?;
        for (day, kind) in days {
            if !layout::is_day_name(&day) {
                continue;
            }
            if kind != Some(layout::Odd::Directory) {
                odd.push(OddEntry {
                    path: stream_dir.path().join(&day),
                    what: kind.unwrap_or(layout::Odd::File),
                });
                continue;
            }
            let dir = stream_dir.subdir(&day, false).with_context(|| {
                format!("cannot open {}", stream_dir.path().join(&day).display())
            })?;
            let r = logfile::recover_dir(&dir, Some(&open), level)
                .with_context(|| format!("cannot recover {}", dir.path().display()))?;
            for name in r.removed_temps.iter().chain(&r.removed_bad_gz) {
                eprintln!(
                    "recovery: removed unfinished {}",
                    dir.path().join(name).display()
                );
            }
            for name in &r.recompressed {
                eprintln!("recovery: compressed {}", dir.path().join(name).display());
            }
            odd.extend(r.odd);
        }
    }
    for o in &odd {
        eprintln!("recovery: left alone {o}");
    }
    Ok(odd.len())
}

pub fn run(args: &ServeArgs, _settings: &Settings) -> anyhow::Result<()> {
    args.validate()?;
    let token = read_token(args.token_file.as_deref())?;
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("cannot create log directory {}", args.log_dir.display()))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let odd = recover(&args.log_dir, clock.as_ref(), args.gzip_level)?;
    let fsync = match args.fsync {
        FsyncMode::Batch => Fsync::Batch,
        FsyncMode::Interval => Fsync::Interval(Duration::from_millis(args.fsync_interval_ms)),
        FsyncMode::None => Fsync::None,
    };
    let start_writer = |stream: Stream| {
        LogWriter::start(WriterConfig {
            root: args.log_dir.clone(),
            stream,
            fsync,
            gzip_level: args.gzip_level,
            clock: Arc::clone(&clock),
            compress_retry: Duration::from_secs(args.compress_retry_s),
        })
        .with_context(|| format!("cannot start the {stream} writer"))
    };
    let connections = Arc::new(accept::ConnectionStats::default());
    let state = Arc::new(AppState {
        root: args.log_dir.clone(),
        name: args.name.clone(),
        limits: Limits {
            max_body: args.max_body,
            max_decoded: args.max_decoded,
            max_record: args.max_record,
        },
        token,
        trusted_proxies: args.trusted_proxies.clone(),
        clock: Arc::clone(&clock),
        feedback: start_writer(Stream::Feedback)?,
        probes: start_writer(Stream::Probes)?,
        cmcd: start_writer(Stream::Cmcd)?,
        max_wait: Duration::from_secs(args.max_wait_s),
        counters: {
            let c = Counters::default();
            c.odd(odd);
            c
        },
        rate_limit: (args.rate_limit > 0.0)
            .then(|| limit::RateLimit::new(args.rate_limit, args.rate_burst)),
        body_timeout: Duration::from_secs(args.body_timeout_s),
        tail_slots: tokio::sync::Semaphore::new(args.max_tail_waiters),
        max_tail_requests: args.max_tail_waiters,
        connections: Arc::clone(&connections),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        // The warning first: the address line is the last of start-up, the one scripts
        // (and the tests) wait for.
        if state.token.is_none() {
            eprintln!(
                "peerscope serve: read endpoints are open to anyone who can connect (no token: set {} or --token-file)",
                auth::TOKEN_ENV
            );
        }
        eprintln!(
            "peerscope serve: listening on {} as {}, logs in {}",
            listener.local_addr()?,
            args.name,
            args.log_dir.display()
        );
        let limits = accept::ConnectionLimits {
            header_timeout: Duration::from_secs(args.header_timeout_s),
            max_connections: args.max_connections,
            drain: Duration::from_secs(args.max_wait_s + 5),
        };
        let app = http::router(Arc::clone(&state));
        accept::serve(listener, app, limits, connections, shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    // In-flight requests are done; dropping the writers syncs and closes the files.
    drop(runtime);
    drop(state);
    eprintln!("peerscope serve: stopped");
    Ok(())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
