//! CDN nodes' nginx access logs (the `peerscope_cdn` format of `deploy/nginx-cdn.conf`)
//! read as a recording, so that `report` and `replay` work on them as on feedback
//! servers' logs.
//!
//! An access log is one file per node, rotated and maybe gzipped, not §3's minute tree,
//! and a replay must reach any minute without reading from the start. So the logs are
//! read once into a recording kept in the user's cache, `<cache>/<hash of the logs'
//! paths>/<hash of their sizes and modification times>/`:
//! - per log, a log tree `<n>-<file name>/cmcd/<YYYYMMDD>/<YYYYMMDD-HHMM>.jsonl.gz`: the
//!   CMCD reports the requests carried, as the `cmcd` stream's lines (`recv`: when the
//!   request ended, `ip`: the client, `srv`: the node);
//! - `cdn.jsonl`: each node's figures per minute ([`NodeFigures`]);
//! - `source.json`: each log's path, size and modification time, and the lines skipped.
//!   Any difference (a log grown, rotated, replaced) and the logs are read again, into a
//!   directory of their own: a `replay` still reading the older copy keeps it. Copies of
//!   the same logs untouched for [`KEEP_OLD_COPIES`] are removed.
//!
//! Without a cache directory (or one that cannot be written) the recording goes in a
//! temporary directory, removed when the command ends.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::decode::GzSalvage;
use super::digest::fnv1a;
use super::layout::{self, Stream};
use super::skipped::Skipped;
use crate::cli::UsageError;
use crate::engine::calendar::MINUTE_MS;
use crate::engine::cdn::figures::NodeFigures;
use crate::engine::cdn::parse_request;
use crate::engine::cmcd::json::log_line;
use crate::engine::record::{MAX_LINE, RecordError};

/// Bumped whenever what is stored, or how it is derived (the CMCD reader's rules
/// included), changes.
const VERSION: u32 = 1;
/// How long a minute stays open after a later one began: nginx logs a request when it
/// ends, so lines come a little out of order. A line for a minute already written goes
/// in the first minute not yet written (its `recv` unchanged: readers sort by it).
const LATE_MS: i64 = 2 * MINUTE_MS;

/// How long an older copy of the same logs is kept after a newer one is made: long
/// enough for a replay or report still reading it.
const KEEP_OLD_COPIES: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// One node's figures over one minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinuteFigures {
    pub minute_ms: i64,
    pub node: String,
    pub figures: NodeFigures,
}

/// Access logs, read into a recording.
#[derive(Debug)]
pub struct AccessLogs {
    root: PathBuf,
    pub figures: Vec<MinuteFigures>,
    /// Lines that were not requests in the format, and requests whose CMCD was refused
    /// (the request still counts in its node's figures).
    pub skipped: Skipped,
    /// Set when the recording lives in a temporary directory: removed on drop.
    temporary: bool,
}

impl Drop for AccessLogs {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LogStamp {
    path: PathBuf,
    len: u64,
    modified_ns: u128,
}

#[derive(Debug, Serialize, Deserialize)]
struct Source {
    version: u32,
    logs: Vec<LogStamp>,
    skipped: Skipped,
}

/// Where read access logs are kept: `$XDG_CACHE_HOME/peerscope/access`, else
/// `~/.cache/peerscope/access`.
pub fn user_cache() -> Option<PathBuf> {
    super::index::user_cache().and_then(|index| Some(index.parent()?.join("access")))
}

impl AccessLogs {
    /// The recording of `logs`: the one kept in `cache` when it was read from these
    /// very files, else read now (saying so on stderr, with a progress line when
    /// `progress`).
    pub fn open(logs: &[PathBuf], cache: Option<&Path>, progress: bool) -> anyhow::Result<Self> {
        let mut paths = Vec::with_capacity(logs.len());
        for log in logs {
            let path = std::fs::canonicalize(log)
                .with_context(|| format!("cannot read access log {}", log.display()))?;
            if !path.is_file() {
                return Err(UsageError(format!("{} is not a file", log.display())).into());
            }
            paths.push(path);
        }
        paths.sort();
        paths.dedup();
        let stamps = stamp(&paths)?;
        if let Some(cache) = cache {
            let names: Vec<&[u8]> = paths
                .iter()
                .map(|p| p.as_os_str().as_encoded_bytes())
                .collect();
            let copies = cache.join(format!("{:016x}", fnv1a(&names.join(&0u8))));
            let identity = serde_json::to_vec(&stamps).unwrap_or_default();
            let dir = copies.join(format!("{:016x}", fnv1a(&identity)));
            if let Some(kept) = load(&dir, &stamps) {
                eprintln!("access logs read before, kept in {}", dir.display());
                return Ok(kept);
            }
            match read_into(&paths, &stamps, &dir, progress) {
                Ok(read) => {
                    eprintln!("access logs read into {}", dir.display());
                    remove_old_copies(&copies, &dir);
                    return Ok(read);
                }
                Err(e) if e.downcast_ref::<UsageError>().is_some() => return Err(e),
                Err(e) => eprintln!(
                    "warning: cannot keep the access logs' recording in {}: {e:#}; reading them for this run only",
                    dir.display()
                ),
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "peerscope-access-{}-{:x}",
            std::process::id(),
            fnv1a(format!("{:?}", std::time::SystemTime::now()).as_bytes())
        ));
        let mut read = read_into(&paths, &stamps, &dir, progress)?;
        read.temporary = true;
        Ok(read)
    }

    /// The recording's directory: log trees of the `cmcd` stream.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Removes the other copies in `copies` (older reads of the same logs, and the
/// leftovers of interrupted ones) that nothing has touched for [`KEEP_OLD_COPIES`].
fn remove_old_copies(copies: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(copies) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let idle = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        if path != keep && idle.is_some_and(|idle| idle > KEEP_OLD_COPIES) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

fn stamp(paths: &[PathBuf]) -> anyhow::Result<Vec<LogStamp>> {
    paths
        .iter()
        .map(|path| {
            let meta = std::fs::metadata(path)
                .with_context(|| format!("cannot read access log {}", path.display()))?;
            Ok(LogStamp {
                path: path.clone(),
                len: meta.len(),
                modified_ns: meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos()),
            })
        })
        .collect()
}

/// The kept recording in `dir`, if it was read from exactly `stamps`; anything
/// missing, unreadable or different is not trusted.
fn load(dir: &Path, stamps: &[LogStamp]) -> Option<AccessLogs> {
    let source: Source =
        serde_json::from_slice(&std::fs::read(dir.join("source.json")).ok()?).ok()?;
    if source.version != VERSION || source.logs != stamps {
        return None;
    }
    let text = std::fs::read(dir.join("cdn.jsonl")).ok()?;
    let figures = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(serde_json::from_slice)
        .collect::<Result<Vec<MinuteFigures>, _>>()
        .ok()?;
    Some(AccessLogs {
        root: dir.to_owned(),
        figures,
        skipped: source.skipped,
        temporary: false,
    })
}

/// Reads every log into a new recording at `dir` (built beside it, then renamed).
fn read_into(
    paths: &[PathBuf],
    stamps: &[LogStamp],
    dir: &Path,
    progress: bool,
) -> anyhow::Result<AccessLogs> {
    let mut building = dir.as_os_str().to_owned();
    building.push(format!(".tmp-{}", std::process::id()));
    let building = PathBuf::from(building);
    let _ = std::fs::remove_dir_all(&building);
    // Owner only: the copy holds the clients' addresses, as the logs do.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(&building)
        .with_context(|| format!("cannot create {}", building.display()))?;
    let result = (|| {
        let mut figures = BTreeMap::new();
        let mut skipped = Skipped::default();
        for (n, path) in paths.iter().enumerate() {
            let name = path.file_name().map_or_else(
                || "log".to_owned(),
                |n| n.to_string_lossy().replace(['/', '\\'], "_"),
            );
            let tree = building.join(format!("{n}-{name}"));
            read_log(path, &tree, &mut figures, &mut skipped, progress)?;
        }
        let figures: Vec<MinuteFigures> = figures
            .into_iter()
            .map(|((minute_ms, node), figures)| MinuteFigures {
                minute_ms,
                node,
                figures,
            })
            .collect();
        let mut text = Vec::new();
        for f in &figures {
            serde_json::to_writer(&mut text, f)?;
            text.push(b'\n');
        }
        std::fs::write(building.join("cdn.jsonl"), text)?;
        let source = Source {
            version: VERSION,
            logs: stamps.to_vec(),
            skipped,
        };
        std::fs::write(building.join("source.json"), serde_json::to_vec(&source)?)?;
        Ok::<_, anyhow::Error>((figures, source.skipped))
    })();
    let (figures, skipped) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&building);
            return Err(e);
        }
    };
    if std::fs::rename(&building, dir).is_err() {
        // Another run read the same logs at the same time and kept its copy…
        if let Some(kept) = load(dir, stamps) {
            let _ = std::fs::remove_dir_all(&building);
            return Ok(kept);
        }
        // …or a damaged copy of these very logs is in the way.
        let _ = std::fs::remove_dir_all(dir);
        if let Err(e) = std::fs::rename(&building, dir) {
            let _ = std::fs::remove_dir_all(&building);
            bail!("cannot rename to {}: {e}", dir.display());
        }
    }
    Ok(AccessLogs {
        root: dir.to_owned(),
        figures,
        skipped,
        temporary: false,
    })
}

/// Reads one log: its requests into `figures` by minute and node, their CMCD reports
/// into `tree`.
fn read_log(
    path: &Path,
    tree: &Path,
    figures: &mut BTreeMap<(i64, String), NodeFigures>,
    skipped: &mut Skipped,
    progress: bool,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read access log {}", path.display()))?;
    let mut raw = BufReader::with_capacity(1 << 16, file);
    let gzip = raw.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::with_capacity(1 << 16, GzSalvage::new(raw)))
    } else {
        Box::new(raw)
    };
    let bar = progress.then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} reading {msg}: {human_pos} lines")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(path.display().to_string());
        bar
    });
    let mut minutes = MinuteTree::new(tree);
    let mut line = Vec::new();
    let (mut number, mut requests) = (0usize, 0u64);
    let mut first_error: Option<String> = None;
    loop {
        let read = match next_line(&mut reader, &mut line) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                skipped.damaged(path, format!("cannot read past line {number}: {e}"));
                break;
            }
        };
        number += 1;
        if number % 4096 == 0 {
            if let Some(bar) = &bar {
                bar.set_position(number as u64);
            }
        }
        if read == Line::TooLong {
            skipped.record(path, number, &RecordError::line_too_long());
            continue;
        }
        let text = line.strip_suffix(b"\r").unwrap_or(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut request = match parse_request(text) {
            Ok(r) => r,
            Err(e) => {
                first_error.get_or_insert_with(|| format!("line {number}: {e}"));
                skipped.record(path, number, &e);
                continue;
            }
        };
        requests += 1;
        match request.cmcd.take() {
            Some(Ok(report)) => minutes
                .push(request.at_ms, |out| {
                    log_line(&report, &request.client, request.at_ms, &request.node, out);
                    out.push(b'\n');
                })
                .with_context(|| format!("cannot write below {}", tree.display()))?,
            Some(Err(e)) => skipped.record(path, number, &e),
            None => {}
        }
        let minute = request.at_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        figures
            .entry((minute, std::mem::take(&mut request.node)))
            .or_default()
            .add(&request);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    minutes
        .finish()
        .with_context(|| format!("cannot write below {}", tree.display()))?;
    match first_error {
        Some(first) if requests == 0 => bail!(UsageError(format!(
            "{}: no line is a request in peerscope's access-log format (deploy/nginx-cdn.conf); {first}",
            path.display()
        ))),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Read,
    /// Over [`MAX_LINE`]: skipped while reading, never held.
    TooLong,
}

/// The next line into `buf`, without its `\n`; `None` at the end.
fn next_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<Option<Line>> {
    buf.clear();
    let mut state = None;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(state);
        }
        let end = memchr::memchr(b'\n', chunk);
        let part = &chunk[..end.unwrap_or(chunk.len())];
        if state != Some(Line::TooLong) && buf.len() + part.len() <= MAX_LINE {
            buf.extend_from_slice(part);
            state = Some(Line::Read);
        } else {
            buf.clear();
            state = Some(Line::TooLong);
        }
        let used = end.map_or(chunk.len(), |i| i + 1);
        reader.consume(used);
        if end.is_some() {
            return Ok(state);
        }
    }
}

/// The minute files of one log tree, written as minutes close.
struct MinuteTree {
    root: PathBuf,
    open: BTreeMap<i64, Vec<u8>>,
    /// The oldest minute still open: minutes before it are written.
    floor: i64,
}

impl MinuteTree {
    fn new(root: &Path) -> Self {
        MinuteTree {
            root: root.to_owned(),
            open: BTreeMap::new(),
            floor: i64::MIN,
        }
    }

    fn push(&mut self, at_ms: i64, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let minute = (at_ms.div_euclid(MINUTE_MS) * MINUTE_MS).max(self.floor);
        write(self.open.entry(minute).or_default());
        let newest = self.open.keys().next_back().copied().unwrap_or(minute);
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= newest - LATE_MS {
                break;
            }
            let (m, text) = entry.remove_entry();
            self.write(m, &text)?;
            self.floor = m + MINUTE_MS;
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        while let Some((m, text)) = self.open.pop_first() {
            self.write(m, &text)?;
        }
        Ok(())
    }

    fn write(&self, minute: i64, text: &[u8]) -> io::Result<()> {
        let mut path = layout::minute_path(&self.root, Stream::Cmcd, minute);
        path.as_mut_os_string().push(".gz");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut gz = GzEncoder::new(Vec::with_capacity(text.len() / 6), Compression::fast());
        gz.write_all(text)?;
        std::fs::write(&path, gz.finish()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// What a kept minute file holds.
    fn gunzip(bytes: &[u8]) -> String {
        let mut s = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut s)
            .expect("gzip");
        s
    }

    fn log_line_at(ms: i64, node: &str, cache: &str, query: &str) -> String {
        format!(
            r#"{{"msec":{}.{:03},"node":"{node}","addr":"10.0.0.1","uri":"/s.m4s{query}","status":200,"bytes":500,"request_time":0.010,"upstream_header_time":"","cache":"{cache}"}}"#,
            ms / 1000,
            ms % 1000
        )
    }

    const T0: i64 = 1_344_349_800_000;

    #[test]
    fn a_log_becomes_minute_files_of_cmcd_and_figures_per_node() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("edge.log");
        let q = "?CMCD=sid%3D%22s1%22%2Ccid%3D%22c%22%2Cbr%3D800";
        let text = [
            log_line_at(T0, "a", "MISS", q),
            log_line_at(T0 + 1_000, "a", "HIT", ""),
            "not a request".to_owned(),
            log_line_at(T0 + 61_000, "b", "HIT", q),
            String::new(),
        ]
        .join("\n");
        std::fs::write(&log, text).expect("write");
        let cache = dir.path().join("cache");
        let read = AccessLogs::open(std::slice::from_ref(&log), Some(&cache), false).expect("read");
        assert_eq!(read.figures.len(), 2);
        assert_eq!(
            (
                read.figures[0].node.as_str(),
                read.figures[0].figures.requests
            ),
            ("a", 2)
        );
        assert_eq!(read.figures[0].figures.hit_ratio(), Some(0.5));
        assert_eq!(read.figures[1].minute_ms, T0 + 60_000);
        assert_eq!(read.skipped.total(), 1);
        assert!(
            read.skipped.examples[0].contains("edge.log:3"),
            "{:?}",
            read.skipped
        );
        let minute = layout::minute_path(&read.root().join("0-edge.log"), Stream::Cmcd, T0);
        let kept = gunzip(&std::fs::read(minute.with_extension("jsonl.gz")).expect("minute file"));
        assert!(
            kept.contains(r#""sid":"s1""#) && kept.contains(r#""srv":"a""#),
            "{kept}"
        );
        // Read again: kept, the same.
        let again =
            AccessLogs::open(std::slice::from_ref(&log), Some(&cache), false).expect("read");
        assert_eq!((again.root(), &again.figures), (read.root(), &read.figures));
        // A grown log is read again.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .expect("open");
        writeln!(f, "{}", log_line_at(T0 + 120_000, "a", "MISS", "")).expect("append");
        drop(f);
        let grown =
            AccessLogs::open(std::slice::from_ref(&log), Some(&cache), false).expect("read");
        assert_eq!(grown.figures.len(), 3);
        // Into a copy of its own: a replay still reading the older one keeps it.
        assert_ne!(grown.root(), read.root());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(grown.root()).expect("copy").permissions(),
        );
        assert_eq!(
            mode & 0o777,
            0o700,
            "the clients' addresses are the owner's only"
        );
        assert!(read.root().join("source.json").exists());
        // A damaged copy is not trusted: read again in its place.
        std::fs::write(grown.root().join("source.json"), "{").expect("damage");
        let again = AccessLogs::open(&[log], Some(&cache), false).expect("read");
        assert_eq!(
            (again.root(), &again.figures),
            (grown.root(), &grown.figures)
        );
    }

    #[test]
    fn a_damaged_gzip_keeps_the_lines_before_the_damage_and_a_long_line_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("edge.log.2.gz");
        let lines = [
            log_line_at(T0, "a", "", ""),
            "x".repeat(MAX_LINE + 10),
            log_line_at(T0 + 1_000, "a", "", ""),
            log_line_at(T0 + 2_000, "a", "", ""),
        ];
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all((lines.join("\n") + "\n").as_bytes())
            .expect("gzip");
        let mut bytes = gz.finish().expect("gzip");
        bytes.truncate(bytes.len() - 12);
        std::fs::write(&log, bytes).expect("write");
        let read = AccessLogs::open(&[log], None, false).expect("read");
        let requests: u64 = read.figures.iter().map(|f| f.figures.requests).sum();
        assert!((2..=3).contains(&requests), "{requests} requests kept");
        assert_eq!(
            read.skipped
                .by_reason
                .get(&crate::engine::record::Reason::TooLong),
            Some(&1)
        );
        assert_eq!(read.skipped.damaged_files.len(), 1, "{:?}", read.skipped);
    }

    #[test]
    fn a_log_in_another_format_is_a_usage_error_naming_the_first_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("access.log");
        std::fs::write(
            &log,
            "127.0.0.1 - - [07/Aug/2012:21:30:00 +0800] \"GET / HTTP/1.1\" 200 612\n",
        )
        .expect("write");
        let e = AccessLogs::open(&[log], None, false).expect_err("refused");
        assert!(e.downcast_ref::<UsageError>().is_some(), "{e:#}");
        assert!(format!("{e:#}").contains("line 1"), "{e:#}");
    }

    #[test]
    fn a_line_for_a_written_minute_goes_in_the_next_and_gzipped_logs_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("edge.log.1.gz");
        let q = "?CMCD=sid%3D%22s%22";
        let lines = [
            log_line_at(T0, "a", "", q),
            log_line_at(T0 + 5 * 60_000, "a", "", q),
            // Five minutes late: its minute is written already.
            log_line_at(T0 + 30_000, "a", "", q),
        ];
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(lines.join("\n").as_bytes()).expect("gzip");
        std::fs::write(&log, gz.finish().expect("gzip")).expect("write");
        let read = AccessLogs::open(&[log], None, false).expect("read");
        let root = read.root().to_owned();
        let tree = root.join("0-edge.log.1.gz");
        let file = |m: i64| {
            layout::minute_path(&tree, Stream::Cmcd, T0 + m * 60_000).with_extension("jsonl.gz")
        };
        let lines = |m| {
            let text = gunzip(&std::fs::read(file(m)).expect("minute file"));
            assert!(text.ends_with('\n'), "{text}");
            text.lines().count()
        };
        assert_eq!((lines(0), lines(1), lines(5)), (1, 1, 1));
        // Its figures stay in its own minute.
        assert_eq!(read.figures.len(), 2);
        assert_eq!(read.figures[0].figures.requests, 2);
        drop(read);
        assert!(!root.exists(), "a temporary recording is removed");
    }
}
