//! Reading a log tree on from a cursor: what `serve`'s `/v1/tail` answers and what
//! `watch --dir` follows (DESIGN §4).
//!
//! A cursor is `YYYYMMDD-HHMM:OFFSET`: a byte offset into the minute's uncompressed
//! content. That content is the same before and after compression, so a cursor survives
//! the `.jsonl` → `.jsonl.gz` step (a new inode). Only complete lines are ever handed
//! out, so a reader never sees half of a record being written; and only what is handed
//! out is read into memory (a compressed minute is inflated up to the cursor, not kept).

use std::fmt;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::decode::GzSalvage;
use super::layout::{self, Listing, MinuteEntry, Stream, list_stream, minute_of_stem};
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

/// One minute of the tree: its files, the plain one first when both exist (the
/// original of a compression caught half-way).
fn minutes(listing: &Listing) -> Vec<&MinuteEntry> {
    let mut out: Vec<&MinuteEntry> = Vec::with_capacity(listing.minutes.len());
    for m in &listing.minutes {
        if out.last().is_none_or(|l| l.minute_ms != m.minute_ms) {
            out.push(m);
        }
    }
    out
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
    let listing = list_stream(root, stream)?;
    let files = minutes(&listing);
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
    let oldest = Cursor::at(first.minute_ms);
    let mut at = match cursor {
        Some(c) => c,
        None => Cursor::at(files.last().map_or(first.minute_ms, |f| f.minute_ms)),
    };
    if at.minute_ms() < first.minute_ms {
        return Ok(Tail::Gone { oldest });
    }
    loop {
        let here = at.minute_ms();
        let Some(file) = files.iter().find(|f| f.minute_ms == here) else {
            // No file for this minute: skip ahead to the next one that exists, if any.
            match files.iter().find(|f| f.minute_ms > here) {
                Some(next) => {
                    at = Cursor::at(next.minute_ms);
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
        match read_from(root, stream, file, &at, max_bytes)? {
            Chunk::Beyond => return Ok(Tail::Gone { oldest }),
            Chunk::Lines { lines, taken } if taken > 0 => {
                let next = Cursor {
                    minute: at.minute.clone(),
                    offset: at.offset + taken,
                };
                return Ok(Tail::Data { lines, next });
            }
            Chunk::Lines { .. } => {}
        }
        // At the end of this minute. Once a later minute exists this one is final: the
        // writer closes a minute before it creates the next file, and files late records
        // into the open minute, never an earlier one.
        match files.iter().find(|f| f.minute_ms > here) {
            Some(next) => at = Cursor::at(next.minute_ms),
            None => {
                return Ok(Tail::Data {
                    lines: Vec::new(),
                    next: at,
                });
            }
        }
    }
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
    root: &std::path::Path,
    stream: Stream,
    file: &MinuteEntry,
    at: &Cursor,
    max_bytes: usize,
) -> Result<Chunk, TailError> {
    let f = layout::open_minute(root, stream, &file.name)?;
    let mut content: Box<dyn Read> = if file.gzip {
        let mut gz = GzSalvage::new(BufReader::with_capacity(1 << 16, f));
        // Inflate up to the byte before the cursor, keeping only that byte.
        let skip = at.offset.saturating_sub(1);
        let skipped = io::copy(&mut (&mut gz).take(skip), &mut io::sink()).unwrap_or(0);
        if skipped < skip {
            return Ok(Chunk::Beyond);
        }
        Box::new(gz)
    } else {
        let mut f = f;
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
