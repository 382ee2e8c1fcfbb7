//! Reading one minute file into memory: plain or gzip (several members allowed).
//!
//! A damaged gzip (truncated, corrupt) keeps every complete line decoded before the
//! damage, whatever the file's size, and says what went wrong: the decoder hands out
//! what it inflated before an error and reports the error on the next read (a plain
//! `read_to_end` over flate2 drops the bytes of the read that failed, which for a small
//! file is all of them). Lines longer than [`MAX_LINE`] are skipped and reported by line
//! number: while reading, never held, except in a one-member gzip file of at most
//! [`WHOLE_LIMIT`] inflated whole, which is quicker; what is not a regular file is not
//! read at all.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};

use flate2::{Decompress, FlushDecompress, Status};

use super::layout::{compressed_path, open_found};
use super::scan::MinuteFile;
use crate::engine::record::MAX_LINE;

/// The bytes of a file, the lines left out for being too long, and, if reading stopped
/// early, why.
#[derive(Debug, Default)]
pub struct FileText {
    pub bytes: Vec<u8>,
    /// 1-based numbers of lines over [`MAX_LINE`], each left as an empty line.
    pub long_lines: Vec<usize>,
    pub damage: Option<String>,
}

pub fn read_minute_file(file: &MinuteFile) -> FileText {
    let f = match open_found(&file.path) {
        Ok(f) => f,
        // A live server compressed the minute since the directory was listed: the same
        // records, whole, in the `.gz` it wrote before removing this file.
        Err(e) if e.kind() == io::ErrorKind::NotFound && !file.gzip => {
            return read_minute_file(&MinuteFile {
                path: compressed_path(&file.path),
                gzip: true,
                stream: file.stream,
            });
        }
        Err(e) => {
            return FileText {
                damage: Some(format!("cannot read: {e}")),
                ..FileText::default()
            };
        }
    };
    let size = f.metadata().map_or(0, |m| m.len());
    if file.gzip {
        // JSON lines compress about 8:1; start near the right size to avoid regrowth.
        let guess = usize::try_from(size.saturating_mul(8))
            .unwrap_or(0)
            .min(1 << 30);
        let mut text = if size <= WHOLE_LIMIT as u64 {
            let mut packed = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            let mut f = f;
            match f.read_to_end(&mut packed) {
                Ok(_) => match inflate_whole(&packed) {
                    Some(bytes) => return without_long_lines(bytes),
                    None => read_capped(&mut GzSalvage::new(&packed[..]), guess),
                },
                Err(e) => FileText {
                    damage: Some(e.to_string()),
                    ..FileText::default()
                },
            }
        } else {
            read_capped(
                &mut GzSalvage::new(BufReader::with_capacity(1 << 16, f)),
                guess,
            )
        };
        if let Some(e) = text.damage.take() {
            // Keep whole lines only: the last one was cut by the damage.
            let keep = text
                .bytes
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            text.bytes.truncate(keep);
            text.damage = Some(format!("damaged gzip, {keep} bytes before it kept ({e})"));
        }
        text
    } else {
        let guess = usize::try_from(size).unwrap_or(0).min(1 << 30);
        let mut f = f;
        let mut text = read_capped(&mut f, guess);
        if let Some(e) = text.damage.take() {
            text.damage = Some(format!("cannot read: {e}"));
        }
        text
    }
}

/// The largest gzip file, and text, inflated whole. A long line in such a text is held
/// until it is dropped; larger files are streamed, which never holds more than
/// [`MAX_LINE`] of a line.
const WHOLE_LIMIT: usize = 64 << 20;

thread_local! {
    /// A text given back by [`recycle`], whose memory the next text inflated whole on
    /// this thread takes: a minute's text is over a megabyte, and fresh memory costs
    /// zeroing it and faulting its pages in, where a reused buffer is zeroed only
    /// where the new text is longer, and is likely still in cache. One text a thread at
    /// most, and none over [`WHOLE_LIMIT`].
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Gives a text's memory back for the next file read on this thread (a reader of many
/// minute files calls it once it is done with each); a text streamed from a larger file
/// is let go.
pub fn recycle(text: FileText) {
    if text.bytes.capacity() <= WHOLE_LIMIT {
        SPARE.set(text.bytes);
    }
}

/// The text of a one-member gzip file, inflated in one call (libdeflate: about 1.4×
/// zlib-rs's streaming speed on minute files, but all or nothing), or `None` where that
/// cannot be trusted, and the streaming reader takes the file: a second member may follow (the gzip magic recurs), or the
/// member is damaged, or the size its trailer states is not its text's size (or is over
/// the limit). Trailing bytes that happen to end in the member's size go unreported.
pub fn inflate_whole(packed: &[u8]) -> Option<Vec<u8>> {
    const MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];
    if !packed.starts_with(MAGIC) || memchr::memmem::find(&packed[1..], MAGIC).is_some() {
        return None;
    }
    let trailer = packed.get(packed.len().checked_sub(4)?..)?;
    let size = usize::try_from(u32::from_le_bytes(trailer.try_into().ok()?)).ok()?;
    if size > WHOLE_LIMIT {
        return None;
    }
    let mut text = SPARE.take();
    text.resize(size, 0);
    let n = libdeflater::Decompressor::new()
        .gzip_decompress(packed, &mut text)
        .ok()?;
    (n == size).then_some(text)
}

/// A whole text with every line over [`MAX_LINE`] left as an empty line, as
/// [`read_capped`] leaves them.
fn without_long_lines(mut bytes: Vec<u8>) -> FileText {
    let mut long_lines = Vec::new();
    if !has_long_line(&bytes) {
        return FileText {
            bytes,
            long_lines,
            damage: None,
        };
    }
    let mut start = 0;
    let mut number = 1;
    let mut kept = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        if end - start > MAX_LINE {
            long_lines.push(number);
        } else {
            // Nothing moves until the first long line.
            if kept != start {
                bytes.copy_within(start..end, kept);
            }
            kept += end - start;
        }
        if end < bytes.len() {
            bytes[kept] = b'\n';
            kept += 1;
        }
        start = end + 1;
        number += 1;
    }
    bytes.truncate(kept);
    FileText {
        bytes,
        long_lines,
        damage: None,
    }
}

/// Whether a line is over [`MAX_LINE`]: a step to the last newline within the limit,
/// not one per line (the line splitter goes through every line afterwards anyway).
fn has_long_line(bytes: &[u8]) -> bool {
    let mut start = 0;
    while bytes.len() - start > MAX_LINE {
        match memchr::memrchr(b'\n', &bytes[start..=start + MAX_LINE]) {
            Some(i) => start += i + 1,
            None => return true,
        }
    }
    false
}

/// Reads `input` to its end into memory, leaving out (as empty lines) every line over
/// [`MAX_LINE`] without ever holding more than that of it.
fn read_capped(input: &mut dyn Read, guess: usize) -> FileText {
    const CHUNK: usize = 256 << 10;
    let mut out = Vec::with_capacity(guess.max(CHUNK));
    let mut lines = LineCount::default();
    let mut long_lines = Vec::new();
    // Where the line being read began; while `skipping`, the rest of a long line is
    // dropped as it arrives.
    let mut line_start = 0usize;
    let mut skipping = false;
    let mut damage = None;
    loop {
        let start = out.len();
        out.resize(start + CHUNK, 0);
        let n = loop {
            match input.read(&mut out[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    damage = Some(e.to_string());
                    break 0;
                }
            }
        };
        out.truncate(start + n);
        if n == 0 {
            break;
        }
        if skipping {
            let Some(i) = memchr::memchr(b'\n', &out[start..]) else {
                out.truncate(start);
                continue;
            };
            out.drain(start..start + i);
            skipping = false;
        }
        if let Some(first) = memchr::memchr(b'\n', &out[start..]) {
            // Only the line running into this chunk can be long: the chunk is shorter.
            let end = start + first;
            if end - line_start > MAX_LINE {
                long_lines.push(lines.number_at(&out, line_start));
                out.drain(line_start..end);
            }
            if let Some(last) = memchr::memrchr(b'\n', &out[line_start..]) {
                line_start += last + 1;
            }
        }
        if out.len() - line_start > MAX_LINE {
            long_lines.push(lines.number_at(&out, line_start));
            out.truncate(line_start);
            skipping = true;
        }
    }
    FileText {
        bytes: out,
        long_lines,
        damage,
    }
}

/// Line numbers, counted only as far as a long line needs them.
#[derive(Default)]
struct LineCount {
    counted_to: usize,
    newlines: usize,
}

impl LineCount {
    /// The 1-based number of the line starting at `at`.
    fn number_at(&mut self, text: &[u8], at: usize) -> usize {
        self.newlines += memchr::memchr_iter(b'\n', &text[self.counted_to..at]).count();
        self.counted_to = at;
        self.newlines + 1
    }
}

/// A gzip decoder (several members allowed) that never loses what it decoded: bytes
/// inflated before damage are returned first, and the damage is the next read's error.
pub struct GzSalvage<R> {
    input: R,
    inflate: Decompress,
    in_member: bool,
    members: u64,
    damage: Option<io::Error>,
    failed: bool,
}

impl<R: BufRead> GzSalvage<R> {
    pub fn new(input: R) -> Self {
        GzSalvage {
            input,
            inflate: Decompress::new_gzip(15),
            in_member: false,
            members: 0,
            damage: None,
            failed: false,
        }
    }
}

fn damaged(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl<R: BufRead> Read for GzSalvage<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.damage.take() {
            self.failed = true;
            return Err(e);
        }
        if self.failed || out.is_empty() {
            return Ok(0);
        }
        loop {
            let input = self.input.fill_buf()?;
            if input.is_empty() {
                if self.in_member {
                    self.failed = true;
                    return Err(damaged("the file ends inside a gzip member"));
                }
                if self.members == 0 {
                    self.failed = true;
                    return Err(damaged("the file holds no gzip member"));
                }
                return Ok(0);
            }
            if !self.in_member {
                if self.members > 0 {
                    self.inflate.reset(true);
                }
                self.in_member = true;
            }
            let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self.inflate.decompress(input, out, FlushDecompress::None);
            let consumed = usize::try_from(self.inflate.total_in() - in_before).unwrap_or(0);
            let produced = usize::try_from(self.inflate.total_out() - out_before).unwrap_or(0);
            self.input.consume(consumed);
            match status {
                Ok(Status::StreamEnd) => {
                    self.in_member = false;
                    self.members += 1;
                }
                Ok(_) if produced == 0 && consumed == 0 => {
                    self.failed = true;
                    return Err(damaged("the gzip stream makes no progress"));
                }
                Ok(_) => {}
                Err(e) => {
                    let e = damaged(e);
                    if produced == 0 {
                        self.failed = true;
                        return Err(e);
                    }
                    self.damage = Some(e);
                }
            }
            if produced > 0 {
                return Ok(produced);
            }
        }
    }
}

/// Lines of a JSON-lines text: `\n` separated, a trailing `\r` and a leading BOM dropped,
/// blank lines left out. Yields (1-based line number, line).
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut rest = Some(bytes);
    // A vector search for the end of each line: a byte-by-byte split cost a tenth of a
    // whole report's time.
    std::iter::from_fn(move || {
        let text = rest?;
        let end = memchr::memchr(b'\n', text);
        rest = end.map(|end| &text[end + 1..]);
        Some(&text[..end.unwrap_or(text.len())])
    })
    .enumerate()
    .filter_map(|(i, line)| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some((i + 1, line))
        }
    })
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
