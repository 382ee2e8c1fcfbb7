//! The log writer: one thread per stream appends records to the open minute file and
//! acknowledges them only once they are durable (DESIGN §4).
//!
//! Requests hand over their stamped lines and wait. The thread takes every job pending,
//! writes them, makes them durable with one `fdatasync` for the whole group (group
//! commit: with many clients, one fsync serves them all), then answers each job. With
//! `Fsync::Interval` it answers after writing and syncs at most every interval (a crash
//! may lose that interval's acknowledged records); with `Fsync::None` the OS decides.
//!
//! A write or sync error answers every job of the group with an error (the HTTP layer
//! turns it into 503), cuts the file back to its last durable length, and drops the file
//! handle: it is reopened and its tail repaired before it is trusted again — never "retry
//! the fsync and report success". Files roll over at the minute boundary of the server's
//! clock; a closed minute is never reopened: a record stamped in an earlier minute (the
//! clock went back) goes into the open minute and is counted as late.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::logfile::{compress_minute, gz_name, repair_tail};
use crate::recording::layout::{self, Access, Stream, TreeDir};

pub const MINUTE_MS: i64 = 60_000;

/// Wall-clock time for stamping and filing; a test clock can jump.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Acknowledge after `fdatasync`, shared by every request in the group.
    Batch,
    /// Acknowledge after writing; sync at most every interval.
    Interval(Duration),
    /// Acknowledge after writing; never sync explicitly.
    None,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub fsyncs: AtomicU64,
    pub fsync_micros: AtomicU64,
    pub groups: AtomicU64,
    pub late_records: AtomicU64,
    pub write_errors: AtomicU64,
    pub rotations: AtomicU64,
    /// Failed attempts to compress a closed minute (each is retried).
    pub compress_failures: AtomicU64,
    /// Closed minutes waiting for a retry of their compression, now.
    pub uncompressed_closed: AtomicU64,
}

/// Why a job was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot store records: {0}")]
pub struct StoreError(pub String);

struct Job {
    /// Lines, each ending in `\n`, all stamped with `recv` in `minute_ms`.
    lines: Vec<u8>,
    records: u64,
    minute_ms: i64,
    /// A oneshot, so an async request awaits its answer without holding a thread.
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// Handle to a stream's writer thread.
pub struct LogWriter {
    tx: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    pub stats: Arc<WriterStats>,
    /// Notified once per stored group, after its requests are answered: what `tail`
    /// long-polls wait on. Once per group rather than per request keeps its lock off the
    /// ingest path.
    pub appended: Arc<tokio::sync::Notify>,
}

pub struct WriterConfig {
    pub root: PathBuf,
    pub stream: Stream,
    pub fsync: Fsync,
    pub gzip_level: u32,
    pub clock: Arc<dyn Clock>,
    /// How long a closed minute whose compression failed waits before another try.
    pub compress_retry: Duration,
}

impl LogWriter {
    pub fn start(config: WriterConfig) -> io::Result<LogWriter> {
        TreeDir::open(&config.root, &[config.stream.dir_name()], true)?;
        let (tx, rx) = mpsc::sync_channel::<Job>(1024);
        let stats = Arc::new(WriterStats::default());
        let thread_stats = Arc::clone(&stats);
        let appended = Arc::new(tokio::sync::Notify::new());
        let thread_appended = Arc::clone(&appended);
        let thread = std::thread::Builder::new()
            .name(format!("log-{}", config.stream.dir_name()))
            .spawn(move || run(&config, &rx, &thread_stats, &thread_appended))?;
        Ok(LogWriter {
            tx: Some(tx),
            thread: Some(thread),
            stats,
            appended,
        })
    }

    /// Appends lines stamped in `minute_ms` and resolves once they are stored.
    ///
    /// The hand-over never blocks a runtime thread: a free queue slot takes the job at
    /// once; a full queue (the disk is slower than the clients) waits on a blocking
    /// thread, which is the back-pressure that keeps memory bounded.
    pub async fn store(
        &self,
        lines: Vec<u8>,
        records: u64,
        minute_ms: i64,
    ) -> Result<(), StoreError> {
        let stopped = || StoreError("writer stopped".into());
        let tx = self.tx.as_ref().ok_or_else(stopped)?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            lines,
            records,
            minute_ms,
            reply,
        };
        match tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                let tx = tx.clone();
                tokio::task::spawn_blocking(move || tx.send(job))
                    .await
                    .map_err(|_| stopped())?
                    .map_err(|_| stopped())?;
            }
            Err(TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        answer.await.map_err(|_| stopped())?
    }

    /// Appends lines stamped in `minute_ms` and waits, blocking, until they are stored.
    pub fn append(&self, lines: Vec<u8>, records: u64, minute_ms: i64) -> Result<(), StoreError> {
        let stopped = || StoreError("writer stopped".into());
        let tx = self.tx.as_ref().ok_or_else(stopped)?;
        let (reply, answer) = oneshot::channel();
        tx.send(Job {
            lines,
            records,
            minute_ms,
            reply,
        })
        .map_err(|_| stopped())?;
        answer.blocking_recv().map_err(|_| stopped())?
    }

    /// Finishes pending jobs, syncs and closes the open file, and waits for compression.
    pub fn shutdown(mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Open {
    minute_ms: i64,
    file: File,
    /// Length known to be durable (or at least fully written): the cut-back point.
    good_len: u64,
}

/// Opens the file for `minute_ms`, or for the first later minute not yet closed: a
/// compressed minute is never written again (its records go, late, to the next one).
/// The file is reached through its day directory without following links: a link or
/// anything else planted where the minute file goes is refused, never written through.
fn open_minute(root: &Path, stream: Stream, mut minute_ms: i64) -> io::Result<Open> {
    loop {
        let name = layout::file_name(minute_ms, false);
        let day = TreeDir::open(root, &[stream.dir_name(), &name[..8]], true)?;
        if day.contains(&gz_name(&name)) {
            minute_ms += MINUTE_MS;
            continue;
        }
        if day.contains(&name) {
            repair_tail(&day.open_file(&name, Access::Write)?)?;
        }
        let file = day.open_file(&name, Access::Append)?;
        let good_len = file.metadata()?.len();
        return Ok(Open {
            minute_ms,
            file,
            good_len,
        });
    }
}

fn run(
    config: &WriterConfig,
    rx: &Receiver<Job>,
    shared: &Arc<WriterStats>,
    appended: &tokio::sync::Notify,
) {
    let stats: &WriterStats = shared;
    let compressor = Compressor::start(config, Arc::clone(shared));
    let mut open: Option<Open> = None;
    // A minute whose file was let go after a write error: it is closed (compressed) once
    // the writer has moved past it, like any other.
    let mut unfinished: Option<i64> = None;
    let mut last_sync = Instant::now();
    let mut dirty = false;
    loop {
        let first = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                // Idle: roll over a finished minute and honour the sync interval.
                let now_minute = config.clock.now_ms().div_euclid(MINUTE_MS) * MINUTE_MS;
                if open.as_ref().is_some_and(|o| o.minute_ms < now_minute) {
                    close(&mut open, &compressor, stats);
                }
                if let Some(m) = unfinished.filter(|m| *m < now_minute) {
                    compressor.submit(m);
                    unfinished = None;
                }
                if dirty && matches!(config.fsync, Fsync::Interval(_)) {
                    if let Some(o) = &open {
                        let _ = o.file.sync_data();
                    }
                    dirty = false;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut group = vec![first];
        while let Ok(job) = rx.try_recv() {
            group.push(job);
            if group.len() >= 4096 {
                break;
            }
        }
        stats.groups.fetch_add(1, Ordering::Relaxed);
        // File by the stamp, never into a closed minute.
        let wanted = group.iter().map(|j| j.minute_ms).max().unwrap_or(0);
        if open.as_ref().is_some_and(|o| wanted > o.minute_ms) {
            close(&mut open, &compressor, stats);
        }
        if let Some(m) = unfinished.filter(|m| *m < wanted) {
            compressor.submit(m);
            unfinished = None;
        }
        let result = write_group(config, &mut open, wanted, &group, stats);
        let result = result.and_then(|written| {
            match config.fsync {
                Fsync::Batch => sync(open.as_ref(), stats)?,
                Fsync::Interval(every) => {
                    dirty = true;
                    if last_sync.elapsed() >= every {
                        last_sync = Instant::now();
                        dirty = false;
                        sync(open.as_ref(), stats)?;
                    }
                }
                Fsync::None => {}
            }
            Ok(written)
        });
        match result {
            Ok(written) => {
                // The file is ours and opened for append: its length is known without
                // asking the kernel on every group.
                if let Some(o) = open.as_mut() {
                    o.good_len += written;
                    if unfinished == Some(o.minute_ms) {
                        unfinished = None;
                    }
                }
                for job in group {
                    stats.records.fetch_add(job.records, Ordering::Relaxed);
                    stats
                        .bytes
                        .fetch_add(job.lines.len() as u64, Ordering::Relaxed);
                    let _ = job.reply.send(Ok(()));
                }
                appended.notify_waiters();
            }
            Err(e) => {
                stats.write_errors.fetch_add(1, Ordering::Relaxed);
                // Nothing of this group is acknowledged, so nothing of it may stay behind.
                if let Some(o) = open.take() {
                    let _ = o.file.set_len(o.good_len);
                    let _ = o.file.sync_all();
                    unfinished = Some(o.minute_ms);
                }
                let err = StoreError(e.to_string());
                for job in group {
                    let _ = job.reply.send(Err(err.clone()));
                }
            }
        }
    }
    if let Some(o) = &open {
        let _ = o.file.sync_all();
    }
    // The open minute stays uncompressed: a restart in the same minute appends to it.
    drop(open);
    compressor.finish();
}

fn write_group(
    config: &WriterConfig,
    open: &mut Option<Open>,
    wanted: i64,
    group: &[Job],
    stats: &WriterStats,
) -> io::Result<u64> {
    if open.is_none() {
        *open = Some(open_minute(&config.root, config.stream, wanted)?);
    }
    let Some(o) = open.as_mut() else {
        return Err(io::Error::other("no open file"));
    };
    let mut buf = Vec::with_capacity(group.iter().map(|j| j.lines.len()).sum());
    for job in group {
        if job.minute_ms < o.minute_ms {
            stats.late_records.fetch_add(job.records, Ordering::Relaxed);
        }
        buf.extend_from_slice(&job.lines);
    }
    o.file.write_all(&buf)?;
    Ok(buf.len() as u64)
}

fn sync(open: Option<&Open>, stats: &WriterStats) -> io::Result<()> {
    let Some(o) = open else { return Ok(()) };
    let started = Instant::now();
    o.file.sync_data()?;
    stats.fsyncs.fetch_add(1, Ordering::Relaxed);
    stats.fsync_micros.fetch_add(
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    Ok(())
}

fn close(open: &mut Option<Open>, compressor: &Compressor, stats: &WriterStats) {
    if let Some(o) = open.take() {
        let _ = o.file.sync_all();
        stats.rotations.fetch_add(1, Ordering::Relaxed);
        compressor.submit(o.minute_ms);
    }
}

/// Compresses closed minutes on its own thread, so rotation never waits for gzip. A
/// minute that fails (a full disk) is counted and tried again every retry interval
/// until it succeeds; the server never stops on it.
struct Compressor {
    tx: Option<mpsc::Sender<i64>>,
    thread: Option<JoinHandle<()>>,
}

impl Compressor {
    fn start(config: &WriterConfig, stats: Arc<WriterStats>) -> Compressor {
        let (tx, rx) = mpsc::channel::<i64>();
        let (root, stream) = (config.root.clone(), config.stream);
        let (level, retry) = (config.gzip_level, config.compress_retry);
        let thread = std::thread::Builder::new()
            .name("compress".into())
            .spawn(move || {
                let mut failed: Vec<i64> = Vec::new();
                let attempt = |minute: i64, failed: &mut Vec<i64>| {
                    match compress_closed(&root, stream, minute, level) {
                        Ok(()) => {}
                        Err(e) => {
                            stats.compress_failures.fetch_add(1, Ordering::Relaxed);
                            if !failed.contains(&minute) {
                                eprintln!(
                                    "peerscope serve: cannot compress {}: {e}; retrying every {retry:?}",
                                    layout::file_name(minute, false)
                                );
                                failed.push(minute);
                            }
                        }
                    }
                };
                loop {
                    match rx.recv_timeout(retry) {
                        Ok(minute) => attempt(minute, &mut failed),
                        Err(RecvTimeoutError::Timeout) => {
                            for minute in std::mem::take(&mut failed) {
                                attempt(minute, &mut failed);
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    stats
                        .uncompressed_closed
                        .store(failed.len() as u64, Ordering::Relaxed);
                }
                // Shutting down: one last try; start-up recovery finishes the rest.
                for minute in std::mem::take(&mut failed) {
                    let _ = compress_closed(&root, stream, minute, level);
                }
            })
            .ok();
        Compressor {
            tx: Some(tx),
            thread,
        }
    }

    fn submit(&self, minute_ms: i64) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(minute_ms);
        }
    }

    fn finish(mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Compresses a closed minute; one already compressed, or never written, is done.
fn compress_closed(root: &Path, stream: Stream, minute_ms: i64, level: u32) -> io::Result<()> {
    let name = layout::file_name(minute_ms, false);
    let day = TreeDir::open(root, &[stream.dir_name(), &name[..8]], false)?;
    match compress_minute(&day, &name, level, None) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && !day.contains(&name) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
