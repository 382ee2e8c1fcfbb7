//! Reading a log tree on from a cursor: what `serve`'s `/v1/tail` answers and what
//! `watch --dir` follows (DESIGN §4).
//!
//! A cursor is `YYYYMMDD-HHMM:OFFSET`: a byte offset into the minute's uncompressed
//! content. That content is the same before and after compression, so a cursor survives
//! the `.jsonl` → `.jsonl.gz` step (a new inode). Only complete lines are ever handed
//! out, so a reader never sees half of a record being written; and only what is handed
//! out is read into memory (a compressed minute is inflated up to the cursor, not kept).

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::decode::GzSalvage;
use super::layout::{self, OddEntry, Stream, list_stream, minute_of_stem};
use crate::engine::record::MAX_LINE;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The minute's stem, `YYYYMMDD-HHMM`.
    pub minute: String,
    pub offset: u64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let (minute, offset) = text.split_once(':')?;
        minute_of_stem(minute)?;
        if offset.is_empty() || !offset.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Cursor {
            minute: minute.to_owned(),
            offset: offset.parse().ok()?,
        })
    }

    /// The start of the minute holding `ms` (minute names are UTC).
    pub fn at(ms: i64) -> Cursor {
        Cursor {
            minute: layout::minute_stem(ms),
            offset: 0,
        }
    }

    fn minute_ms(&self) -> i64 {
        minute_of_stem(&self.minute).unwrap_or(i64::MIN)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// Why a cursor cannot be read from: the client's mistake, answered 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadCursor {
    #[error("cursor {0} is not at the start of a line")]
    MidLine(Cursor),
    #[error("cursor {0} is in the future")]
    Future(Cursor),
}

#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error(transparent)]
    Bad(#[from] BadCursor),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The minutes of a stream that have a file, as listed.
///
/// A listing is a `readdir`, which may miss a minute whose `.jsonl` the compressor swaps
/// for its `.jsonl.gz` while the directory is read (the new name lands behind the scan,
/// the old one goes before the scan reaches it). That swap happens once per minute, so a
/// second listing made after the first ends sees every minute the first one missed:
/// before the walk concludes that a minute is absent it merges a second one in.
struct Known {
    root: std::path::PathBuf,
    stream: Stream,
    minutes: BTreeSet<i64>,
    confirmed: bool,
}

impl Known {
    fn list(root: &std::path::Path, stream: Stream) -> io::Result<Known> {
        Ok(Known {
            root: root.to_owned(),
            stream,
            minutes: Self::listed(root, stream)?,
            confirmed: false,
        })
    }

    fn listed(root: &std::path::Path, stream: Stream) -> io::Result<BTreeSet<i64>> {
        Ok(list_stream(root, stream)?
            .minutes
            .iter()
            .map(|m| m.minute_ms)
            .collect())
    }

    fn confirm(&mut self) -> io::Result<()> {
        if !self.confirmed {
            self.minutes.extend(Self::listed(&self.root, self.stream)?);
            self.confirmed = true;
        }
        Ok(())
    }

    /// The first minute after `here` that has a file.
    fn after(&mut self, here: i64) -> io::Result<Option<i64>> {
        let next = self.minutes.range(here + 1..).next().copied();
        // The minute right after needs no second look: nothing lies between.
        if next != Some(here + layout::MINUTE_MS) {
            self.confirm()?;
        }
        Ok(self.minutes.range(here + 1..).next().copied())
    }

    /// The oldest minute that has a file.
    fn oldest(&mut self) -> io::Result<Option<i64>> {
        self.confirm()?;
        Ok(self.minutes.first().copied())
    }
}

/// The content of the minute holding `ms`, read by name: the plain file while it is
/// open or not yet compressed, else the compressed one (the compressor writes the
/// `.gz` before it removes the `.jsonl`, so one of the two is always there). `None`
/// when the minute has no file, or only something that is not a regular file in the
/// tree (a link is never followed).
fn open_content(
    root: &std::path::Path,
    stream: Stream,
    ms: i64,
) -> io::Result<Option<(std::fs::File, bool)>> {
    for gzip in [false, true] {
        match layout::open_minute(root, stream, &layout::file_name(ms, gzip)) {
            Ok(f) => return Ok(Some((f, gzip))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if OddEntry::of_error(&e).is_some() => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Reads up to about `max_bytes` of complete lines after `cursor` (or from the start of
/// the newest minute when there is none), moving on to later minutes as earlier ones
/// are finished. `now_ms`, when given, is the writer's clock: a cursor in a later minute
/// is refused rather than waited on for ever.
pub fn tail(
    root: &std::path::Path,
    stream: Stream,
    cursor: Option<Cursor>,
    max_bytes: usize,
    now_ms: Option<i64>,
) -> Result<Tail, TailError> {
    if let (Some(c), Some(now)) = (&cursor, now_ms) {
        if c.minute_ms() > now.div_euclid(layout::MINUTE_MS) * layout::MINUTE_MS {
            return Err(BadCursor::Future(c.clone()).into());
        }
    }
    let mut known = Known::list(root, stream)?;
    let mut at = match cursor {
        Some(c) => c,
        None => match known.minutes.last() {
            Some(&newest) => Cursor::at(newest),
            None => {
                return Ok(Tail::Data {
                    lines: Vec::new(),
                    next: Cursor {
                        minute: String::new(),
                        offset: 0,
                    },
                });
            }
        },
    };
    loop {
        let here = at.minute_ms();
        match open_content(root, stream, here)? {
            Some((file, gzip)) => match read_from(file, gzip, &at, max_bytes)? {
                Chunk::Beyond => return gone(&mut known, &at),
                Chunk::Lines { lines, taken } if taken > 0 => {
                    let next = Cursor {
                        minute: at.minute.clone(),
                        offset: at.offset + taken,
                    };
                    return Ok(Tail::Data { lines, next });
                }
                // At the end of this minute. Once a later minute exists this one is
                // final: the writer closes a minute before it creates the next file,
                // and files late records into the open minute, never an earlier one.
                Chunk::Lines { .. } => {}
            },
            // No file for this minute: records from before the oldest kept minute are
            // gone; otherwise skip ahead to the next minute that has one, if any.
            None => match known.oldest()? {
                Some(oldest) if here < oldest => return gone(&mut known, &at),
                None => {
                    return Ok(Tail::Data {
                        lines: Vec::new(),
                        next: Cursor::at(here),
                    });
                }
                Some(_) => {}
            },
        }
        match known.after(here)? {
            Some(next) => at = Cursor::at(next),
            None => {
                return Ok(Tail::Data {
                    lines: Vec::new(),
                    next: at,
                });
            }
        }
    }
}

/// The answer for a cursor whose records are not kept (or were never written).
fn gone(known: &mut Known, at: &Cursor) -> Result<Tail, TailError> {
    let oldest = known.oldest()?.unwrap_or_else(|| at.minute_ms());
    Ok(Tail::Gone {
        oldest: Cursor::at(oldest),
    })
}

/// What one minute holds after a cursor.
enum Chunk {
    /// Complete lines (possibly none), and how many bytes of content they and any long
    /// lines skipped over take (the cursor moves by that).
    Lines { lines: Vec<u8>, taken: u64 },
    /// The cursor is past the end of the minute's content.
    Beyond,
}

fn read_from(
    file: std::fs::File,
    gzip: bool,
    at: &Cursor,
    max_bytes: usize,
) -> Result<Chunk, TailError> {
    let mut content: Box<dyn Read> = if gzip {
        let mut gz = GzSalvage::new(BufReader::with_capacity(1 << 16, file));
        // Inflate up to the byte before the cursor, keeping only that byte.
        let skip = at.offset.saturating_sub(1);
        let skipped = io::copy(&mut (&mut gz).take(skip), &mut io::sink()).unwrap_or(0);
        if skipped < skip {
            return Ok(Chunk::Beyond);
        }
        Box::new(gz)
    } else {
        let mut f = file;
        let len = f.metadata()?.len();
        if at.offset > len {
            return Ok(Chunk::Beyond);
        }
        f.seek(SeekFrom::Start(at.offset.saturating_sub(1)))?;
        Box::new(BufReader::with_capacity(1 << 16, f))
    };
    if at.offset > 0 {
        let mut before = [0u8; 1];
        match content.read(&mut before) {
            Ok(1) if before[0] == b'\n' => {}
            Ok(1) => return Err(BadCursor::MidLine(at.clone()).into()),
            // The content ends before the cursor.
            _ => return Ok(Chunk::Beyond),
        }
    }
    take_lines(content.as_mut(), max_bytes)
}

/// Whole lines from `content`: up to `max_bytes`, or the one line starting there when it
/// is longer (up to [`MAX_LINE`]). A line over that is skipped: stepped over, not sent.
/// A damaged gzip ends the content where the damage is.
fn take_lines(content: &mut dyn Read, max_bytes: usize) -> Result<Chunk, TailError> {
    let want = max_bytes.max(1);
    let mut buf = Vec::with_capacity(want.min(1 << 20));
    let mut skipped: u64 = 0;
    let mut block = vec![0u8; 64 << 10];
    // A damaged gzip ends the content where the damage is.
    let mut read = |block: &mut [u8]| match content.read(block) {
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(0),
        other => other,
    };
    loop {
        let n = read(&mut block)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&block[..n]);
        // A first line over the limit is stepped over, ended or not.
        loop {
            match memchr::memchr(b'\n', &buf) {
                Some(end) if end > MAX_LINE => {
                    skipped += (end + 1) as u64;
                    buf.drain(..=end);
                }
                None if buf.len() > MAX_LINE => {
                    skipped += buf.len() as u64;
                    buf.clear();
                    loop {
                        let n = read(&mut block)?;
                        if n == 0 {
                            // Not complete yet: it is stepped over once it ends.
                            return Ok(Chunk::Lines {
                                lines: Vec::new(),
                                taken: 0,
                            });
                        }
                        if let Some(i) = memchr::memchr(b'\n', &block[..n]) {
                            skipped += (i + 1) as u64;
                            buf.extend_from_slice(&block[i + 1..n]);
                            break;
                        }
                        skipped += n as u64;
                    }
                }
                Some(_) | None => break,
            }
        }
        let whole = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
        if whole >= want || (whole > 0 && buf.len() >= want) {
            break;
        }
    }
    // Whole lines only, and no more than asked unless one line is longer.
    let mut take = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
    if take > want {
        take = memchr::memrchr(b'\n', &buf[..want]).map_or_else(
            || memchr::memchr(b'\n', &buf).map_or(0, |i| i + 1),
            |i| i + 1,
        );
    }
    buf.truncate(take);
    Ok(Chunk::Lines {
        taken: skipped + take as u64,
        lines: buf,
    })
}

#[cfg(test)]
#[path = "tail_tests.rs"]
mod tests;
