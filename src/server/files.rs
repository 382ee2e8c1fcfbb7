//! Serving the log directory: listing minutes, downloading one file, and reading on
//! from a tail cursor (DESIGN §4).
//!
//! A cursor is `YYYYMMDD-HHMM:OFFSET`: a byte offset into the minute's uncompressed
//! content. That content is the same before and after compression, so a cursor survives
//! the `.jsonl` → `.jsonl.gz` step (a new inode). Only complete lines are ever handed
//! out, so a reader never sees half of a record being written.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::recording::scan::minute_of_name;

pub const STREAMS: [&str; 2] = ["feedback", "probes"];

/// A file name the server may serve: `YYYYMMDD-HHMM.jsonl` or `.jsonl.gz`, nothing else.
pub fn valid_name(name: &str) -> Option<(&str, bool)> {
    let (stem, gzip) = match name.strip_suffix(".jsonl.gz") {
        Some(s) => (s, true),
        None => (name.strip_suffix(".jsonl")?, false),
    };
    let ok = stem.len() == 13
        && stem.bytes().enumerate().all(|(i, b)| {
            if i == 8 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && minute_of_name(stem).is_some();
    ok.then_some((stem, gzip))
}

pub fn valid_stream(s: &str) -> bool {
    STREAMS.contains(&s)
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileInfo {
    pub name: String,
    pub minute: String,
    pub bytes: u64,
    pub closed: bool,
}

/// Minute files of a stream, oldest first; a minute caught mid-compression is listed
/// once, by its `.jsonl`.
pub fn list(root: &Path, stream: &str) -> io::Result<Vec<FileInfo>> {
    let mut out: Vec<FileInfo> = Vec::new();
    let dir = root.join(stream);
    let Ok(days) = fs::read_dir(&dir) else {
        return Ok(out);
    };
    for day in days.flatten() {
        let Ok(entries) = fs::read_dir(day.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some((stem, gzip)) = valid_name(&name) else {
                continue;
            };
            let Ok(meta) = fs::symlink_metadata(e.path()) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            out.push(FileInfo {
                name: name.clone(),
                minute: stem.to_owned(),
                bytes: meta.len(),
                closed: gzip,
            });
        }
    }
    out.sort_by(|a, b| a.minute.cmp(&b.minute).then(a.closed.cmp(&b.closed)));
    out.dedup_by(|later, earlier| later.minute == earlier.minute);
    Ok(out)
}

/// The path of a listed file, refusing anything that is not a plain file inside `root`.
pub fn resolve(root: &Path, stream: &str, name: &str) -> Option<PathBuf> {
    if !valid_stream(stream) {
        return None;
    }
    let (stem, _) = valid_name(name)?;
    let path = root.join(stream).join(&stem[..8]).join(name);
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let real = fs::canonicalize(&path).ok()?;
    let real_root = fs::canonicalize(root).ok()?;
    real.starts_with(real_root).then_some(path)
}

/// The content of one minute, complete lines only, and whether the minute is closed.
pub fn minute_content(
    root: &Path,
    stream: &str,
    minute: &str,
) -> io::Result<Option<(Vec<u8>, bool)>> {
    let base = root
        .join(stream)
        .join(&minute[..8.min(minute.len())])
        .join(format!("{minute}.jsonl"));
    match fs::read(&base) {
        Ok(mut bytes) => {
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            bytes.truncate(keep);
            return Ok(Some((bytes, false)));
        }
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let mut gz = base.into_os_string();
    gz.push(".gz");
    match fs::File::open(PathBuf::from(gz)) {
        Ok(f) => {
            let mut out = Vec::new();
            MultiGzDecoder::new(io::BufReader::new(f)).read_to_end(&mut out)?;
            Ok(Some((out, true)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub minute: String,
    pub offset: u64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let (minute, offset) = text.split_once(':')?;
        valid_name(&format!("{minute}.jsonl"))?;
        Some(Cursor {
            minute: minute.to_owned(),
            offset: offset.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.minute, self.offset)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Tail {
    /// Complete lines after the cursor (possibly none yet) and the cursor after them.
    Data { lines: Vec<u8>, next: Cursor },
    /// The cursor points at data no longer kept, or never written: start again here.
    Gone { oldest: Cursor },
}

/// Reads up to about `max_bytes` of complete lines after `cursor` (or from the start of
/// the newest minute when there is none), moving on to later minutes as earlier ones
/// are finished.
pub fn tail(
    root: &Path,
    stream: &str,
    cursor: Option<Cursor>,
    max_bytes: usize,
) -> io::Result<Tail> {
    let files = list(root, stream)?;
    let Some(first) = files.first() else {
        let now = Cursor {
            minute: cursor.map_or_else(String::new, |c| c.minute),
            offset: 0,
        };
        return Ok(Tail::Data {
            lines: Vec::new(),
            next: now,
        });
    };
    let oldest = Cursor {
        minute: first.minute.clone(),
        offset: 0,
    };
    let mut at = match cursor {
        Some(c) => c,
        None => Cursor {
            minute: files.last().map_or_else(String::new, |f| f.minute.clone()),
            offset: 0,
        },
    };
    if at.minute < first.minute {
        return Ok(Tail::Gone { oldest });
    }
    loop {
        let Some((content, _closed)) = minute_content(root, stream, &at.minute)? else {
            // No file for this minute: skip ahead to the next one that exists, if any.
            match files.iter().find(|f| f.minute > at.minute) {
                Some(next) => {
                    at = Cursor {
                        minute: next.minute.clone(),
                        offset: 0,
                    };
                    continue;
                }
                None => {
                    return Ok(Tail::Data {
                        lines: Vec::new(),
                        next: at,
                    });
                }
            }
        };
        let len = content.len() as u64;
        if at.offset > len {
            return Ok(Tail::Gone { oldest });
        }
        if at.offset < len {
            let rest = &content[usize::try_from(at.offset).unwrap_or(usize::MAX)..];
            let mut take = rest.len().min(max_bytes.max(1));
            if take < rest.len() {
                // Whole lines only; at least one, however long.
                take = rest[..take].iter().rposition(|&b| b == b'\n').map_or_else(
                    || {
                        rest.iter()
                            .position(|&b| b == b'\n')
                            .map_or(rest.len(), |i| i + 1)
                    },
                    |i| i + 1,
                );
            }
            let next = Cursor {
                minute: at.minute.clone(),
                offset: at.offset + take as u64,
            };
            return Ok(Tail::Data {
                lines: rest[..take].to_vec(),
                next,
            });
        }
        // At the end of this minute. Once a later minute exists this one is final: the
        // writer closes a minute before it creates the next file, and files late records
        // into the open minute, never an earlier one.
        match files.iter().find(|f| f.minute > at.minute) {
            Some(next) => {
                at = Cursor {
                    minute: next.minute.clone(),
                    offset: 0,
                }
            }
            None => {
                return Ok(Tail::Data {
                    lines: Vec::new(),
                    next: at,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::logfile::compress_minute;

    fn put(root: &Path, minute: &str, text: &str) -> PathBuf {
        let dir = root.join("feedback").join(&minute[..8]);
        fs::create_dir_all(&dir).expect("mkdir");
        let p = dir.join(format!("{minute}.jsonl"));
        fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn names_are_validated_strictly() {
        for bad in [
            "../x.jsonl",
            "20120807-0130.jsonl/..",
            "%2e%2e",
            "20120807-0130.json",
            "20120807-2561.jsonl",
            "/etc/passwd",
            "C:\\x.jsonl",
            "20120807-0130.jsonl\0",
            "2012080x-0130.jsonl",
            "20120807_0130.jsonl",
        ] {
            assert_eq!(valid_name(bad), None, "{bad}");
        }
        assert_eq!(
            valid_name("20120807-0130.jsonl.gz"),
            Some(("20120807-0130", true))
        );
        assert!(!valid_stream("../feedback"));
    }

    #[test]
    fn symlinks_out_of_the_log_directory_are_not_served() {
        let root = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        fs::write(outside.path().join("secret"), "secret").expect("write");
        let day = root.path().join("feedback/20120807");
        fs::create_dir_all(&day).expect("mkdir");
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            day.join("20120807-0130.jsonl"),
        )
        .expect("symlink");
        assert_eq!(
            resolve(root.path(), "feedback", "20120807-0130.jsonl"),
            None
        );
        assert!(list(root.path(), "feedback").expect("list").is_empty());
        put(root.path(), "20120807-0131", "{}\n");
        assert!(resolve(root.path(), "feedback", "20120807-0131.jsonl").is_some());
    }

    #[test]
    fn tail_follows_across_minutes_and_compression_without_gaps_or_repeats() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        let first = put(r, "20120807-0130", "{\"a\":1}\n{\"a\":2}\n{\"a\":3");
        let mut got = Vec::new();
        let mut cursor = None;
        let step = |cursor: &mut Option<Cursor>, got: &mut Vec<u8>| match tail(
            r,
            "feedback",
            cursor.clone(),
            8,
        )
        .expect("tail")
        {
            Tail::Data { lines, next } => {
                got.extend_from_slice(&lines);
                *cursor = Some(next);
                lines.len()
            }
            Tail::Gone { oldest } => panic!("gone, oldest {oldest}"),
        };
        // Small pages, the half-written third record withheld.
        while step(&mut cursor, &mut got) > 0 {}
        assert_eq!(got, b"{\"a\":1}\n{\"a\":2}\n");
        // The record completes, the minute is compressed (a new inode), the next begins.
        fs::write(&first, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n").expect("write");
        compress_minute(&first, 6, None).expect("compress");
        put(r, "20120807-0132", "{\"a\":4}\n");
        while step(&mut cursor, &mut got) > 0 {}
        assert_eq!(got, b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n");
        assert_eq!(
            cursor.as_ref().map(ToString::to_string),
            Some("20120807-0132:8".to_owned())
        );
    }

    #[test]
    fn stale_and_impossible_cursors_are_gone_with_the_oldest() {
        let root = tempfile::tempdir().expect("tempdir");
        put(root.path(), "20120807-0130", "{}\n");
        let oldest = Cursor {
            minute: "20120807-0130".into(),
            offset: 0,
        };
        for c in ["20120806-2359:0", "20120807-0130:99"] {
            let t = tail(root.path(), "feedback", Cursor::parse(c), 100).expect("tail");
            assert_eq!(
                t,
                Tail::Gone {
                    oldest: oldest.clone()
                },
                "{c}"
            );
        }
        assert_eq!(Cursor::parse("nonsense"), None);
        assert_eq!(Cursor::parse("20120807-0130:-1"), None);
    }
}
