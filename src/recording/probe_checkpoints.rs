//! Copies of a recording's probe book, taken every [`CHECKPOINT_MS`] of recording and
//! kept on disk beside its index, so that a replay put anywhere in a long recording
//! feeds the probe stream from the checkpoint before the clock instead of from the
//! recording's start. (Route-change scores depend on a path's whole past, so the book
//! can only be rebuilt by feeding it in order: a checkpoint is that whole past, folded.)
//!
//! The books are written one after another in one file, each in postcard's encoding
//! deflated at level 1 (a third of the size, for about 75 ms per four-day book), with
//! its offset, length, inflated size and CRC-32 in the index: a book whose bytes do not
//! match is never used (the replay then feeds from the start, as it would without
//! checkpoints). Knowing the size, a seek inflates a book in one call, into memory
//! taken once.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::DeflateEncoder;
use serde::{Deserialize, Serialize};

use super::digest::crc32;
use super::probes::read_probe_minute;
use super::scan::MinuteGroup;
use super::skipped::Skipped;
use crate::engine::probes::ProbeBook;
use crate::engine::probes::route_change::RouteChangeParams;

/// Recording time between two checkpoints of the probe book: a seek feeds at most this
/// much of the probe stream (about 0.1 s), and the copies of a 17-day event take about
/// 130 MB.
pub const CHECKPOINT_MS: i64 = 6 * 3_600_000;

/// One kept book: every record of the groups before `next` (whose first starts at
/// `until`) is in it, none after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBook {
    pub until: i64,
    pub next: usize,
    /// Lines skipped in what the book holds.
    pub skipped: u64,
    offset: u64,
    len: u64,
    /// Its length inflated (its postcard encoding's).
    size: u64,
    /// The [`crc32`] of its deflated bytes.
    crc: u32,
}

/// The books of one recording's probe stream, and what reading the whole stream skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeCheckpoints {
    /// The file that holds the books.
    store: PathBuf,
    params: RouteChangeParams,
    books: Vec<StoredBook>,
    skipped: Skipped,
    /// What was skipped before the last book: where a grown recording's books go on.
    skipped_before_last: Skipped,
}

/// Where writing books goes on from: the book as it stands before group `next`, the
/// books written so far (their bytes end at `offset`), what was skipped, and what was
/// skipped before the last of them.
struct Writing {
    next: usize,
    book: ProbeBook,
    books: Vec<StoredBook>,
    skipped: Skipped,
    skipped_before_last: Skipped,
    offset: u64,
}

impl ProbeCheckpoints {
    /// Feeds the whole probe stream of `groups` in order into a book, writing a copy of
    /// it to `store` before the first group and then every `every_ms` of recording (a
    /// copy sits before the first group at least that far from the last).
    pub fn build(
        groups: &[MinuteGroup],
        params: RouteChangeParams,
        store: &Path,
        every_ms: i64,
    ) -> Result<ProbeCheckpoints, String> {
        let failed = |e: std::io::Error| format!("cannot write {}: {e}", store.display());
        let partial = partial_of(store);
        let out = File::create(&partial).map_err(failed)?;
        let from = Writing {
            next: 0,
            book: ProbeBook::new(params),
            books: Vec::new(),
            skipped: Skipped::default(),
            skipped_before_last: Skipped::default(),
            offset: 0,
        };
        write_books(groups, params, from, out, &partial, store, every_ms)
    }

    /// These books, grown with the groups of `groups` from the last one's on (those
    /// before it are the ones the books were made from), into `store`: the file of
    /// these books is moved there, its books kept as they are and the new ones written
    /// after them. (A book's bytes depend on its contents only, so they are those a
    /// whole build writes.)
    pub fn grow(
        self,
        groups: &[MinuteGroup],
        store: &Path,
        every_ms: i64,
    ) -> Result<ProbeCheckpoints, String> {
        let last = *self.books.last().ok_or("no book to grow from")?;
        let book = self.load(&last)?;
        let failed = |e: std::io::Error| format!("cannot write {}: {e}", store.display());
        let partial = partial_of(store);
        std::fs::rename(&self.store, &partial).map_err(failed)?;
        let out = (|| {
            let out = std::fs::OpenOptions::new().write(true).open(&partial)?;
            out.set_len(last.offset + last.len)?;
            Ok(out)
        })()
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            failed(e)
        })?;
        let from = Writing {
            next: last.next,
            book,
            skipped: self.skipped_before_last.clone(),
            skipped_before_last: self.skipped_before_last,
            offset: last.offset + last.len,
            books: self.books,
        };
        write_books(groups, self.params, from, out, &partial, store, every_ms)
    }

    /// The last book's group and the start of that group's minute: what growing goes
    /// on from.
    pub fn last_taken(&self) -> Option<(usize, i64)> {
        self.books.last().map(|b| (b.next, b.until))
    }

    /// Whether these books were made with `params` and their file is there whole.
    pub fn usable_with(&self, params: RouteChangeParams) -> bool {
        let expected: u64 = self.books.iter().map(|b| b.len).sum();
        self.params == params
            && std::fs::metadata(&self.store).is_ok_and(|m| m.is_file() && m.len() == expected)
    }

    pub fn store(&self) -> &Path {
        &self.store
    }

    /// The latest book taken at or before `clock`.
    pub fn latest_at_or_before(&self, clock: i64) -> Option<StoredBook> {
        let n = self.books.partition_point(|b| b.until <= clock);
        n.checked_sub(1).map(|i| self.books[i])
    }

    /// Reads one book back; its bytes must be those written.
    pub fn load(&self, book: &StoredBook) -> Result<ProbeBook, String> {
        let at = |e: std::io::Error| format!("{}: {e}", self.store.display());
        let mut file = File::open(&self.store).map_err(at)?;
        file.seek(SeekFrom::Start(book.offset)).map_err(at)?;
        let len = usize::try_from(book.len).map_err(|e| e.to_string())?;
        let mut bytes = vec![0; len];
        file.read_exact(&mut bytes).map_err(at)?;
        let not_written = || {
            format!(
                "{}: the probe book at byte {} is not the one written",
                self.store.display(),
                book.offset
            )
        };
        if crc32(&bytes) != book.crc {
            return Err(not_written());
        }
        let size = usize::try_from(book.size).map_err(|e| e.to_string())?;
        // Deflate cannot inflate beyond 1,032 times: a larger size is not one written,
        // and no memory is taken for it.
        if size > len.saturating_mul(1032) {
            return Err(not_written());
        }
        let mut encoded = vec![0; size];
        let inflated = libdeflater::Decompressor::new().deflate_decompress(&bytes, &mut encoded);
        if inflated.ok() != Some(size) {
            return Err(not_written());
        }
        postcard::from_bytes(&encoded).map_err(|e| format!("{}: {e}", self.store.display()))
    }

    /// Lines and damaged files of the whole probe stream.
    pub fn skipped(&self) -> &Skipped {
        &self.skipped
    }
}

/// The file a store is written as until it is whole.
fn partial_of(store: &Path) -> PathBuf {
    store.with_extension(format!("probes.{}.partial", std::process::id()))
}

/// Feeds `groups` from `from.next` on into the book, writing a copy of it to `out` (the
/// file `partial`, from `from.offset` on) before each group that starts `every_ms` or
/// more after the last copy (before the first group when there is none), and moves the
/// file to `store` once whole.
fn write_books(
    groups: &[MinuteGroup],
    params: RouteChangeParams,
    from: Writing,
    out: File,
    partial: &Path,
    store: &Path,
    every_ms: i64,
) -> Result<ProbeCheckpoints, String> {
    let Writing {
        next: first,
        mut book,
        mut books,
        mut skipped,
        mut skipped_before_last,
        mut offset,
    } = from;
    let mut out = BufWriter::new(out);
    let written = (|| {
        out.seek(SeekFrom::Start(offset))?;
        for (next, g) in groups.iter().enumerate().skip(first) {
            if books
                .last()
                .is_none_or(|b| g.start_ms - b.until >= every_ms)
            {
                // Aged as a replay at this clock would age it: the copy stays small.
                book.advance(g.start_ms);
                let encoded =
                    postcard::to_stdvec(&book).map_err(|e| std::io::Error::other(e.to_string()))?;
                let mut deflate = DeflateEncoder::new(Vec::new(), Compression::fast());
                deflate.write_all(&encoded)?;
                let bytes = deflate.finish()?;
                out.write_all(&bytes)?;
                books.push(StoredBook {
                    until: g.start_ms,
                    next,
                    skipped: skipped.total(),
                    offset,
                    len: bytes.len() as u64,
                    size: encoded.len() as u64,
                    crc: crc32(&bytes),
                });
                skipped_before_last = skipped.clone();
                offset += bytes.len() as u64;
            }
            for r in read_probe_minute(g, &mut skipped) {
                book.ingest(&r);
            }
        }
        out.flush()?;
        out.get_ref().sync_all()?;
        std::fs::rename(partial, store)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(partial);
        return Err(format!("cannot write {}: {e}", store.display()));
    }
    Ok(ProbeCheckpoints {
        store: store.to_owned(),
        params,
        books,
        skipped,
        skipped_before_last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::scan::Recording;

    fn sample_books(dir: &Path) -> ProbeCheckpoints {
        let sample = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/recordings/olympics-2012-sample"
        );
        let groups = Recording::scan(Path::new(sample)).expect("sample").probes;
        let store = dir.join("sample.probes");
        ProbeCheckpoints::build(&groups, RouteChangeParams::default(), &store, 20 * 60_000)
            .expect("books written")
    }

    /// A book is inflated into exactly the size the index states: one that inflates to
    /// any other size (an index that does not match its store) is refused, not cut or
    /// padded.
    #[test]
    fn a_book_of_another_size_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let books = sample_books(dir.path());
        let last = *books.books.last().expect("books");
        assert!(books.load(&last).is_ok());
        for size in [last.size - 1, last.size + 1, 0, u64::MAX] {
            let stated = StoredBook { size, ..last };
            let refused = books.load(&stated).expect_err("refused");
            assert!(refused.contains("is not the one written"), "{refused}");
        }
        let changed = StoredBook {
            crc: last.crc ^ 1,
            ..last
        };
        assert!(books.load(&changed).is_err());
    }
}
