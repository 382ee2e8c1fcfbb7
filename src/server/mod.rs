//! `peerscope serve`: a feedback server (DESIGN §4). Accepts feedback and probe records
//! over HTTP, appends them to per-minute log files with group commit, and serves those
//! logs (listing, download with `Range`, long-poll tail, Prometheus metrics).

pub mod accept;
pub mod body;
pub mod files;
pub mod http;
pub mod limit;
pub mod logfile;
pub mod stamp;
pub mod writer;

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::config::Settings;
use crate::report::UsageError;
use body::Limits;
use http::{AppState, Counters};
use writer::{Clock, Fsync, LogWriter, MINUTE_MS, SystemClock, WriterConfig};

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
    #[arg(long, value_enum, default_value = "batch")]
    pub fsync: FsyncMode,
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
    /// Tail long-polls waiting at once; more are answered 503 with Retry-After
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_tail_waiters: usize,
    /// gzip level of closed minutes
    #[arg(long, default_value_t = 6)]
    pub gzip_level: u32,
}

/// The read token: `PEERSCOPE_TOKEN`, else a file only its owner can read.
pub fn read_token(file: Option<&Path>) -> anyhow::Result<Option<Vec<u8>>> {
    if let Ok(t) = std::env::var("PEERSCOPE_TOKEN") {
        if !t.is_empty() {
            return Ok(Some(t.into_bytes()));
        }
    }
    let Some(path) = file else { return Ok(None) };
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read token file {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(UsageError(format!(
            "token file {} is readable by others (mode {:o}); chmod 600 it",
            path.display(),
            meta.permissions().mode() & 0o777
        ))
        .into());
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read token file {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        bail!("token file {} is empty", path.display());
    }
    Ok(Some(token.as_bytes().to_vec()))
}

/// Start-up recovery: every closed minute ends with exactly one valid copy; the current
/// minute's file, if any, stays open for appending (its tail is repaired on open).
fn recover(root: &Path, clock: &dyn Clock, level: u32) -> anyhow::Result<()> {
    let now_minute = clock.now_ms().div_euclid(MINUTE_MS) * MINUTE_MS;
    for stream in files::STREAMS {
        let open = logfile::minute_path(root, stream, now_minute);
        let Ok(days) = std::fs::read_dir(root.join(stream)) else {
            continue;
        };
        for day in days.flatten() {
            if !day.path().is_dir() {
                continue;
            }
            let r = logfile::recover_dir(&day.path(), Some(&open), level)
                .with_context(|| format!("cannot recover {}", day.path().display()))?;
            for p in r.removed_temps.iter().chain(&r.removed_bad_gz) {
                eprintln!("recovery: removed unfinished {}", p.display());
            }
            for p in &r.recompressed {
                eprintln!("recovery: compressed {}", p.display());
            }
        }
    }
    Ok(())
}

pub fn run(args: &ServeArgs, _settings: &Settings) -> anyhow::Result<()> {
    let token = read_token(args.token_file.as_deref())?;
    if args.name.is_empty() || args.name.len() > 64 {
        return Err(UsageError("--name must be 1 to 64 characters".into()).into());
    }
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("cannot create log directory {}", args.log_dir.display()))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    recover(&args.log_dir, clock.as_ref(), args.gzip_level)?;
    let fsync = match args.fsync {
        FsyncMode::Batch => Fsync::Batch,
        FsyncMode::Interval => Fsync::Interval(Duration::from_millis(args.fsync_interval_ms)),
        FsyncMode::None => Fsync::None,
    };
    let start_writer = |stream: &str| {
        LogWriter::start(WriterConfig {
            root: args.log_dir.clone(),
            stream: stream.into(),
            fsync,
            gzip_level: args.gzip_level,
            clock: Arc::clone(&clock),
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
        feedback: start_writer("feedback")?,
        probes: start_writer("probes")?,
        max_wait: Duration::from_secs(args.max_wait_s),
        counters: Counters::default(),
        rate_limit: (args.rate_limit > 0.0)
            .then(|| limit::RateLimit::new(args.rate_limit, args.rate_burst)),
        body_timeout: Duration::from_secs(args.body_timeout_s),
        tail_waiters: tokio::sync::Semaphore::new(args.max_tail_waiters),
        max_tail_waiters: args.max_tail_waiters,
        connections: Arc::clone(&connections),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!(
            "peerscope serve: listening on {} as {}, logs in {}",
            listener.local_addr()?,
            args.name,
            args.log_dir.display()
        );
        let limits = accept::ConnectionLimits {
            header_timeout: Duration::from_secs(args.header_timeout_s.max(1)),
            max_connections: args.max_connections.max(1),
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
