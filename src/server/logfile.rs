//! A feedback server's log files on disk (DESIGN §3, §4 durability): the minute being
//! written, its repair after a crash, and the compression of closed minutes.
//!
//! Plain `std` with explicit fsyncs, so every step that makes data durable is visible
//! and every crash point can be tested. Compression of a closed minute is five steps —
//! write `X.jsonl.gz.tmp`, fsync it, rename it to `X.jsonl.gz`, fsync the directory,
//! unlink `X.jsonl` — and [`recover_dir`] finishes or undoes any prefix of them. Every
//! file is reached through its day directory's descriptor ([`TreeDir`]), so nothing here
//! follows a link out of the log directory; what is not a regular file where a minute
//! should be is left alone and reported.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::engine::record::MAX_LINE;
use crate::recording::layout::{Access, MinuteName, Odd, OddEntry, TreeDir, tmp_name};

/// What a repair did to the open file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub kept_bytes: u64,
    pub dropped_bytes: u64,
}

/// Whether a complete line (without its `\n`) is one the server could have written.
fn is_record_line(line: &[u8]) -> bool {
    line.first() == Some(&b'{')
        && line.len() <= MAX_LINE
        && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

/// Where a torn file should be cut, looking only at `tail` (the file's last bytes,
/// starting at `tail_start`); `None` when the decision needs bytes before it.
fn cut_point(tail: &[u8], tail_start: u64) -> Option<u64> {
    let mut keep = tail.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    while keep > 0 {
        let start = match tail[..keep - 1].iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            // The line may begin before the window; a line over the limit is garbage.
            None if tail_start > 0 && keep <= MAX_LINE + 1 => return None,
            None => 0,
        };
        if is_record_line(&tail[start..keep - 1]) {
            break;
        }
        keep = start;
    }
    if keep == 0 && tail_start > 0 {
        return None;
    }
    Some(tail_start + keep as u64)
}

/// Cuts a torn tail off a log file: everything after the last complete line, then any
/// complete trailing lines that are not JSON objects (garbage a crash left; the server
/// only ever writes validated records). Keeps every complete record; a second run
/// changes nothing. Reads only the file's last lines, however long the minute.
pub fn repair_tail(file: &File) -> io::Result<Repair> {
    let len = file.metadata()?.len();
    let mut window: u64 = 64 << 10;
    let keep = loop {
        let start = len.saturating_sub(window);
        let mut tail = vec![0; usize::try_from(len - start).unwrap_or(usize::MAX)];
        file.read_exact_at(&mut tail, start)?;
        if let Some(keep) = cut_point(&tail, start) {
            break keep;
        }
        window = window.saturating_mul(4);
    };
    let dropped = len - keep;
    if dropped > 0 {
        file.set_len(keep)?;
        file.sync_all()?;
    }
    Ok(Repair {
        kept_bytes: keep,
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

/// `X.jsonl.gz` for `X.jsonl`.
pub fn gz_name(jsonl: &str) -> String {
    format!("{jsonl}.gz")
}

/// Compresses the closed minute `jsonl` of `day`; `stop_after` simulates a crash (tests
/// only). A temporary left by an earlier failed attempt is replaced.
pub fn compress_minute(
    day: &TreeDir,
    jsonl: &str,
    level: u32,
    stop_after: Option<Step>,
) -> io::Result<()> {
    let stop = |s: Step| stop_after == Some(s);
    let gz = gz_name(jsonl);
    let tmp = tmp_name(&gz);
    // Streamed: a busy minute is tens of MB, and holding it whole would set the
    // server's resident size (glibc keeps such blocks after the first few).
    let mut input = BufReader::with_capacity(1 << 16, day.open_file(jsonl, Access::Read)?);
    match day.remove(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut enc = GzEncoder::new(
        io::BufWriter::with_capacity(1 << 16, day.open_file(&tmp, Access::CreateNew)?),
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
    day.rename(&tmp, &gz)?;
    if stop(Step::Rename) {
        return Ok(());
    }
    day.sync()?;
    if stop(Step::FsyncDir) {
        return Ok(());
    }
    day.remove(jsonl)?;
    day.sync()
}

/// Whether `gz` decodes completely to exactly the content of `original`, compared a
/// block at a time.
fn gz_holds(day: &TreeDir, gz: &str, original: &str) -> io::Result<bool> {
    let Ok(packed) = day.open_file(gz, Access::Read) else {
        return Ok(false);
    };
    let mut plain = BufReader::new(day.open_file(original, Access::Read)?);
    let mut unpacked = MultiGzDecoder::new(BufReader::new(packed));
    let (mut a, mut b) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = plain.read(&mut a)?;
        let mut got = 0;
        while got < n {
            match unpacked.read(&mut b[got..n]) {
                Ok(0) | Err(_) => return Ok(false),
                Ok(k) => got += k,
            }
        }
        if a[..n] != b[..n] {
            return Ok(false);
        }
        if n == 0 {
            // The original is done: the copy must be too.
            return Ok(matches!(unpacked.read(&mut b[..1]), Ok(0)));
        }
    }
}

/// What start-up recovery did in one directory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub removed_temps: Vec<String>,
    pub removed_bad_gz: Vec<String>,
    pub removed_compressed_originals: Vec<String>,
    pub recompressed: Vec<String>,
    /// Links, FIFOs, directories… where a minute file should be: left as they are.
    pub odd: Vec<OddEntry>,
}

/// Brings every closed minute of `day` (a `<stream>/<YYYYMMDD>` folder) to exactly one
/// valid copy: half-written temporaries are removed, a `.gz` beside its `.jsonl` is
/// checked against it before the `.jsonl` goes (and removed if it does not match), and
/// closed minutes left uncompressed are compressed. `open` names the minute still being
/// written, left alone. Whatever is not a regular file is reported, never opened.
pub fn recover_dir(day: &TreeDir, open: Option<&str>, level: u32) -> io::Result<Recovery> {
    let mut r = Recovery::default();
    let entries = day.entries()?;
    let odd_at = |name: &str| {
        entries
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, kind)| *kind)
    };
    for (name, kind) in &entries {
        let minute = MinuteName::parse(name);
        if let Some(temp) = name.strip_suffix(".tmp") {
            if MinuteName::parse(temp).is_some() {
                if matches!(kind, Some(Odd::Directory)) {
                    r.odd.push(OddEntry {
                        path: day.path().join(name),
                        what: Odd::Directory,
                    });
                } else {
                    day.remove(name)?;
                    r.removed_temps.push(name.clone());
                }
            }
            continue;
        }
        if let (Some(_), Some(what)) = (minute, kind) {
            r.odd.push(OddEntry {
                path: day.path().join(name),
                what: *what,
            });
        }
    }
    for (name, kind) in &entries {
        let Some(minute) = MinuteName::parse(name) else {
            continue;
        };
        if minute.gzip || kind.is_some() || Some(name.as_str()) == open {
            continue;
        }
        let gz = gz_name(name);
        let gz_present = day.contains(&gz);
        if gz_present && odd_at(&gz).is_some() {
            // Something odd stands where the copy would go: keep the original.
            continue;
        }
        if gz_present {
            if gz_holds(day, &gz, name)? {
                day.remove(name)?;
                day.sync()?;
                r.removed_compressed_originals.push(name.clone());
                continue;
            }
            day.remove(&gz)?;
            r.removed_bad_gz.push(gz);
        }
        repair_tail(&day.open_file(name, Access::Write)?)?;
        compress_minute(day, name, level, None)?;
        r.recompressed.push(name.clone());
    }
    day.sync()?;
    Ok(r)
}

#[cfg(test)]
#[path = "logfile_tests.rs"]
mod tests;
