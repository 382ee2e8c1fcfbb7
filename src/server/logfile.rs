//! A feedback server's log files on disk (DESIGN §3, §4 durability): the minute being
//! written, its repair after a crash, and the compression of closed minutes.
//!
//! Plain `std` with explicit fsyncs, so every step that makes data durable is visible
//! and every crash point can be tested. Compression of a closed minute is five steps —
//! write `X.jsonl.gz.tmp`, fsync it, rename it to `X.jsonl.gz`, fsync the directory,
//! unlink `X.jsonl` — and [`recover_dir`] finishes or undoes any prefix of them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::DateTime;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// `<root>/<stream>/<YYYYMMDD>/<YYYYMMDD-HHMM>.jsonl` for the minute starting at `minute_ms`.
pub fn minute_path(root: &Path, stream: &str, minute_ms: i64) -> PathBuf {
    let t = DateTime::from_timestamp_millis(minute_ms).unwrap_or_default();
    root.join(stream)
        .join(t.format("%Y%m%d").to_string())
        .join(t.format("%Y%m%d-%H%M.jsonl").to_string())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

pub fn gz_path(jsonl: &Path) -> PathBuf {
    with_suffix(jsonl, ".gz")
}

pub fn tmp_path(jsonl: &Path) -> PathBuf {
    with_suffix(jsonl, ".gz.tmp")
}

/// Makes a rename or unlink in `dir` durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What a repair did to the open file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub kept_bytes: u64,
    pub dropped_bytes: u64,
}

/// Cuts a torn tail off a log file: everything after the last complete line, then any
/// complete trailing lines that are not JSON objects (garbage a crash left; the server
/// only ever writes validated records). Keeps every complete record; a second run
/// changes nothing.
pub fn repair_tail(path: &Path) -> io::Result<Repair> {
    let bytes = fs::read(path)?;
    let mut keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    while keep > 0 {
        let start = bytes[..keep - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = &bytes[start..keep - 1];
        if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
            && line.first() == Some(&b'{')
        {
            break;
        }
        keep = start;
    }
    let dropped = (bytes.len() - keep) as u64;
    if dropped > 0 {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(keep as u64)?;
        f.sync_all()?;
    }
    Ok(Repair {
        kept_bytes: keep as u64,
        dropped_bytes: dropped,
    })
}

/// The steps of compressing a closed minute, in order; tests stop after any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    WriteTemp,
    FsyncTemp,
    Rename,
    FsyncDir,
    Unlink,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::WriteTemp,
        Step::FsyncTemp,
        Step::Rename,
        Step::FsyncDir,
        Step::Unlink,
    ];
}

/// Compresses a closed minute file; `stop_after` simulates a crash (tests only).
pub fn compress_minute(jsonl: &Path, level: u32, stop_after: Option<Step>) -> io::Result<()> {
    let stop = |s: Step| stop_after == Some(s);
    let tmp = tmp_path(jsonl);
    // Streamed: a busy minute is tens of MB, and holding it whole would set the
    // server's resident size (glibc keeps such blocks after the first few).
    let mut input = BufReader::with_capacity(1 << 16, File::open(jsonl)?);
    let mut enc = GzEncoder::new(
        io::BufWriter::with_capacity(1 << 16, File::create(&tmp)?),
        Compression::new(level),
    );
    io::copy(&mut input, &mut enc)?;
    let file = enc
        .finish()?
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    if stop(Step::WriteTemp) {
        return Ok(());
    }
    file.sync_all()?;
    if stop(Step::FsyncTemp) {
        return Ok(());
    }
    let gz = gz_path(jsonl);
    fs::rename(&tmp, &gz)?;
    if stop(Step::Rename) {
        return Ok(());
    }
    let dir = jsonl.parent().unwrap_or(Path::new("."));
    fsync_dir(dir)?;
    if stop(Step::FsyncDir) {
        return Ok(());
    }
    fs::remove_file(jsonl)?;
    fsync_dir(dir)
}

/// Whether a `.gz` decodes completely to exactly `expected`.
fn gz_holds(gz: &Path, expected: &[u8]) -> bool {
    let Ok(f) = File::open(gz) else { return false };
    let mut out = Vec::with_capacity(expected.len());
    MultiGzDecoder::new(BufReader::new(f))
        .read_to_end(&mut out)
        .is_ok()
        && out == expected
}

/// What start-up recovery did in one directory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub removed_temps: Vec<PathBuf>,
    pub removed_bad_gz: Vec<PathBuf>,
    pub removed_compressed_originals: Vec<PathBuf>,
    pub recompressed: Vec<PathBuf>,
}

/// Brings every closed minute under `dir` (a `<stream>/<YYYYMMDD>` folder) to exactly
/// one valid copy: half-written temporaries are removed, a `.gz` beside its `.jsonl` is
/// checked against it before the `.jsonl` goes (and removed if it does not match), and
/// closed minutes left uncompressed are compressed. `open` is the minute still being
/// written, left alone.
pub fn recover_dir(dir: &Path, open: Option<&Path>, level: u32) -> io::Result<Recovery> {
    let mut r = Recovery::default();
    let mut names: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    for path in &names {
        if path.to_string_lossy().ends_with(".gz.tmp") {
            fs::remove_file(path)?;
            r.removed_temps.push(path.clone());
        }
    }
    for jsonl in names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
    {
        if Some(jsonl.as_path()) == open {
            continue;
        }
        let gz = gz_path(jsonl);
        if gz.exists() {
            let original = fs::read(jsonl)?;
            if gz_holds(&gz, &original) {
                fs::remove_file(jsonl)?;
                fsync_dir(dir)?;
                r.removed_compressed_originals.push(jsonl.clone());
                continue;
            }
            fs::remove_file(&gz)?;
            r.removed_bad_gz.push(gz);
        }
        repair_tail(jsonl)?;
        compress_minute(jsonl, level, None)?;
        r.recompressed.push(jsonl.clone());
    }
    fsync_dir(dir)?;
    Ok(r)
}

#[cfg(test)]
#[path = "logfile_tests.rs"]
mod tests;
