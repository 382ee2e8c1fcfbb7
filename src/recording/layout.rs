//! The log layout (DESIGN §3) in one place: streams, day directories, minute file names,
//! and how a file of a log tree is opened. `serve`, `watch --dir`, `simulate`, `report`
//! and `replay` all name and open minute files through here.
//!
//! Nothing in a log tree is ever followed out of it. A stream or day directory must be a
//! real directory and a minute file a regular file: they are opened one component at a
//! time through directory descriptors with `O_NOFOLLOW` (`openat`), so a link placed in
//! the tree, or swapped in between a check and an open, is refused rather than followed.
//! A link, FIFO, device, socket or directory where a minute file should be is an
//! [`OddEntry`]: the caller skips it, counts it and names it. Files are opened
//! `O_NONBLOCK`, so a FIFO never blocks the open; its type is checked before any read.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};

pub use crate::engine::calendar::MINUTE_MS;

/// A stream of a log tree: its records, and the directory holding its minute files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    Feedback,
    Probes,
    /// CMCD reports from players (CTA-5004), as they came, with the server's stamps.
    Cmcd,
}

impl Stream {
    pub const ALL: [Stream; 3] = [Stream::Feedback, Stream::Probes, Stream::Cmcd];

    pub fn dir_name(self) -> &'static str {
        match self {
            Stream::Feedback => "feedback",
            Stream::Probes => "probes",
            Stream::Cmcd => "cmcd",
        }
    }

    pub fn from_dir_name(name: &str) -> Option<Self> {
        Stream::ALL.into_iter().find(|s| s.dir_name() == name)
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir_name())
    }
}

/// `YYYYMMDD-HHMM`: the name stem of the UTC minute holding `ms`.
pub fn minute_stem(ms: i64) -> String {
    let t = DateTime::from_timestamp_millis(ms).unwrap_or_default();
    t.format("%Y%m%d-%H%M").to_string()
}

/// `YYYYMMDD-HHMM` (UTC) → the start of that minute, ms since the epoch. Exactly 13
/// characters, digits but for the dash: chrono alone would take `2012080-01300`.
pub fn minute_of_stem(stem: &str) -> Option<i64> {
    let b = stem.as_bytes();
    let shaped = b.len() == 13
        && b.iter().enumerate().all(|(i, c)| {
            if i == 8 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shaped {
        return None;
    }
    // Read digit by digit: a scan names every file of a recording (73 k for the
    // 17-day event), and chrono's format parser cost more than the rest of it.
    let number = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0, |n, c| n * 10 + u32::from(c - b'0'))
    };
    let year = i32::try_from(number(0, 4)).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(4, 6), number(6, 8))?;
    let t = date.and_hms_opt(number(9, 11), number(11, 13), 0)?;
    Some(t.and_utc().timestamp() * 1000)
}

/// Whether `name` is a day directory's: `YYYYMMDD`, a real date.
pub fn is_day_name(name: &str) -> bool {
    name.len() == 8 && minute_of_stem(&format!("{name}-0000")).is_some()
}

/// A minute file's name, parsed: `YYYYMMDD-HHMM.jsonl` or `.jsonl.gz`, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteName<'a> {
    pub stem: &'a str,
    pub minute_ms: i64,
    /// Closed and compressed.
    pub gzip: bool,
}

impl<'a> MinuteName<'a> {
    pub fn parse(name: &'a str) -> Option<Self> {
        let (stem, gzip) = match name.strip_suffix(".jsonl.gz") {
            Some(s) => (s, true),
            None => (name.strip_suffix(".jsonl")?, false),
        };
        Some(MinuteName {
            stem,
            minute_ms: minute_of_stem(stem)?,
            gzip,
        })
    }

    /// The day directory this file belongs in.
    pub fn day(&self) -> &'a str {
        &self.stem[..8]
    }
}

/// The file name of the minute holding `ms`: `YYYYMMDD-HHMM.jsonl[.gz]`.
pub fn file_name(ms: i64, gzip: bool) -> String {
    let mut name = minute_stem(ms);
    name.push_str(if gzip { ".jsonl.gz" } else { ".jsonl" });
    name
}

/// `<root>/<stream>/<YYYYMMDD>/<YYYYMMDD-HHMM>.jsonl` for the minute holding `ms`.
pub fn minute_path(root: &Path, stream: Stream, ms: i64) -> PathBuf {
    let stem = minute_stem(ms);
    root.join(stream.dir_name())
        .join(&stem[..8])
        .join(file_name(ms, false))
}

/// Where a plain minute file's records are once its minute is compressed:
/// `X.jsonl.gz` for `X.jsonl`. (The server writes it whole before removing `X.jsonl`.)
pub fn compressed_path(plain: &Path) -> PathBuf {
    with_suffix(plain, ".gz")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Where a file is written before it is renamed to `path`, so that no reader sees half
/// of it: `X.jsonl.gz.tmp` for `X.jsonl.gz`. Readers never take `*.tmp`.
pub fn tmp_path(path: &Path) -> PathBuf {
    with_suffix(path, ".tmp")
}

/// The name of [`tmp_path`] for a file named `name`.
pub fn tmp_name(name: &str) -> String {
    format!("{name}.tmp")
}

/// What stands where a regular file or a directory of the layout should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Odd {
    Symlink,
    Directory,
    Fifo,
    Socket,
    Device,
    /// A regular file where a directory should be.
    File,
    Unknown,
}

impl Odd {
    fn of(t: FileType) -> Odd {
        match t {
            FileType::Symlink => Odd::Symlink,
            FileType::Directory => Odd::Directory,
            FileType::Fifo => Odd::Fifo,
            FileType::Socket => Odd::Socket,
            FileType::CharacterDevice | FileType::BlockDevice => Odd::Device,
            FileType::RegularFile => Odd::File,
            FileType::Unknown => Odd::Unknown,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Odd::Symlink => "a symbolic link (never followed in a log tree)",
            Odd::Directory => "a directory, not a file",
            Odd::Fifo => "a FIFO, not a regular file",
            Odd::Socket => "a socket, not a regular file",
            Odd::Device => "a device, not a regular file",
            Odd::File => "a file, not a directory",
            Odd::Unknown => "not a regular file",
        }
    }
}

/// Something in a log tree that is not what the layout puts there; skipped and counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OddEntry {
    pub path: PathBuf,
    pub what: Odd,
}

impl fmt::Display for OddEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.what.describe())
    }
}

impl std::error::Error for OddEntry {}

impl OddEntry {
    fn error(path: PathBuf, what: Odd) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, OddEntry { path, what })
    }

    /// The odd entry an open failed on, if that is why it failed.
    pub fn of_error(e: &io::Error) -> Option<&OddEntry> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<OddEntry>())
    }
}

/// How a file of a log tree is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    /// Write at the end, creating the file when missing.
    Append,
    /// Read and write, truncating nothing (a repair reads the tail and cuts the file).
    Write,
    /// Create a file that must not exist yet.
    CreateNew,
}

fn open_flags(access: Access) -> OFlags {
    let base = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    base | match access {
        Access::Read => OFlags::RDONLY,
        Access::Append => OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE,
        Access::Write => OFlags::RDWR,
        Access::CreateNew => OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
    }
}

/// Describes why opening `name` in `dir` without following links failed: when what
/// stands there is not a regular file (a link refused by `O_NOFOLLOW`, a FIFO with no
/// reader, a directory), that is the reason.
fn refine(dir: &OwnedFd, name: &OsStr, path: PathBuf, err: rustix::io::Errno) -> io::Error {
    if err != rustix::io::Errno::NOENT {
        if let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            let t = FileType::from_raw_mode(st.st_mode);
            if t != FileType::RegularFile {
                return OddEntry::error(path, Odd::of(t));
            }
        }
    }
    let e = io::Error::from(err);
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Makes a FIFO at `path`: what tests put where a minute file or directory belongs.
#[cfg(test)]
pub fn mkfifo(path: &Path) {
    rustix::fs::mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o644), 0).expect("mkfifo");
}

/// A directory of a log tree, held open: its files are opened, renamed and removed
/// through its descriptor, never through a path that could lead elsewhere.
#[derive(Debug)]
pub struct TreeDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl TreeDir {
    /// The tree's root, as given (it may be a link: the operator chose it).
    pub fn root(path: &Path) -> io::Result<TreeDir> {
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            let e = io::Error::from(e);
            io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        })?;
        Ok(TreeDir {
            fd,
            path: path.to_owned(),
        })
    }

    /// `root/<stream>/<day>`, or `root/<stream>` when `day` is `None`, following no link.
    /// With `create`, missing directories are made.
    pub fn open(root: &Path, parts: &[&str], create: bool) -> io::Result<TreeDir> {
        let mut dir = TreeDir::root(root)?;
        for part in parts {
            dir = dir.subdir(part, create)?;
        }
        Ok(dir)
    }

    /// A directory in this one, following no link.
    pub fn subdir(&self, name: &str, create: bool) -> io::Result<TreeDir> {
        let path = self.path.join(name);
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
        let mut opened = rustix::fs::openat(&self.fd, name, flags, Mode::empty());
        if create && matches!(opened, Err(rustix::io::Errno::NOENT)) {
            match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(refine(&self.fd, OsStr::new(name), path, e)),
            }
            opened = rustix::fs::openat(&self.fd, name, flags, Mode::empty());
        }
        match opened {
            Ok(fd) => Ok(TreeDir { fd, path }),
            Err(e) => Err(refine(&self.fd, OsStr::new(name), path, e)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What `stat` says of `name` in this directory: its path is not walked again.
    pub fn stat(&self, name: &OsStr) -> io::Result<rustix::fs::Stat> {
        rustix::fs::statat(&self.fd, name, AtFlags::empty()).map_err(|e| {
            let e = io::Error::from(e);
            io::Error::new(e.kind(), format!("{}: {e}", self.path.join(name).display()))
        })
    }

    /// Opens a regular file of this directory; anything else is an [`OddEntry`] error.
    pub fn open_file(&self, name: &str, access: Access) -> io::Result<File> {
        let path = self.path.join(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            open_flags(access),
            Mode::from_raw_mode(0o644),
        )
        .map_err(|e| refine(&self.fd, OsStr::new(name), path.clone(), e))?;
        let st = rustix::fs::fstat(&fd).map_err(io::Error::from)?;
        let t = FileType::from_raw_mode(st.st_mode);
        if t != FileType::RegularFile {
            return Err(OddEntry::error(path, Odd::of(t)));
        }
        Ok(File::from(fd))
    }

    /// Whether an entry of that name exists (of any kind; links are not followed).
    pub fn contains(&self, name: &str) -> bool {
        rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
    }

    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to)
            .map_err(|e| refine(&self.fd, OsStr::new(from), self.path.join(from), e))
    }

    pub fn remove(&self, name: &str) -> io::Result<()> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())
            .map_err(|e| refine(&self.fd, OsStr::new(name), self.path.join(name), e))
    }

    /// Makes renames and removals in this directory durable.
    pub fn sync(&self) -> io::Result<()> {
        rustix::fs::fsync(&self.fd).map_err(io::Error::from)
    }

    /// Every entry but `.` and `..`, with its kind as the directory lists it (a link
    /// is a link), sorted by name.
    pub fn entries(&self) -> io::Result<Vec<(String, Option<Odd>)>> {
        let mut out = Vec::new();
        let dir = rustix::fs::Dir::read_from(&self.fd).map_err(io::Error::from)?;
        for entry in dir {
            let entry = entry.map_err(io::Error::from)?;
            let raw = entry.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            let name = String::from_utf8_lossy(raw).into_owned();
            let mut t = entry.file_type();
            if t == FileType::Unknown {
                // Some file systems leave d_type empty; ask without following.
                t = rustix::fs::statat(&self.fd, raw, AtFlags::SYMLINK_NOFOLLOW)
                    .map_or(FileType::Unknown, |st| FileType::from_raw_mode(st.st_mode));
            }
            out.push((name, (t != FileType::RegularFile).then(|| Odd::of(t))));
        }
        out.sort();
        Ok(out)
    }
}

/// A minute file found in a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteEntry {
    pub name: String,
    pub minute_ms: i64,
    pub gzip: bool,
    /// Size on disk when listed.
    pub bytes: u64,
}

/// The minute files of one stream of a tree, oldest first, and what stood where one
/// should be (links, FIFOs, directories named like minutes, day names that are links).
#[derive(Debug, Default)]
pub struct Listing {
    pub minutes: Vec<MinuteEntry>,
    pub odd: Vec<OddEntry>,
}

/// Lists `root/<stream>/<day>/<minute file>`; a missing stream directory lists nothing.
/// Entries whose names are not of the layout (temporaries, notes) are ignored.
pub fn list_stream(root: &Path, stream: Stream) -> io::Result<Listing> {
    let mut listing = Listing::default();
    let stream_dir = match TreeDir::open(root, &[stream.dir_name()], false) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(listing),
        Err(e) => {
            if let Some(odd) = OddEntry::of_error(&e) {
                listing.odd.push(odd.clone());
                return Ok(listing);
            }
            return Err(e);
        }
    };
    for (day, kind) in stream_dir.entries()? {
        if !is_day_name(&day) {
            continue;
        }
        match kind {
            Some(Odd::Directory) => {}
            Some(what) => {
                listing.odd.push(OddEntry {
                    path: stream_dir.path().join(&day),
                    what,
                });
                continue;
            }
            None => {
                listing.odd.push(OddEntry {
                    path: stream_dir.path().join(&day),
                    what: Odd::File,
                });
                continue;
            }
        }
        let day_dir = match stream_dir.subdir(&day, false) {
            Ok(d) => d,
            Err(e) => {
                if let Some(odd) = OddEntry::of_error(&e) {
                    listing.odd.push(odd.clone());
                    continue;
                }
                return Err(e);
            }
        };
        for (name, kind) in day_dir.entries()? {
            let Some(parsed) = MinuteName::parse(&name) else {
                continue;
            };
            if parsed.day() != day {
                continue;
            }
            if let Some(what) = kind {
                listing.odd.push(OddEntry {
                    path: day_dir.path().join(&name),
                    what,
                });
                continue;
            }
            let bytes = rustix::fs::statat(&day_dir.fd, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                .map_or(0, |st| u64::try_from(st.st_size).unwrap_or(0));
            listing.minutes.push(MinuteEntry {
                minute_ms: parsed.minute_ms,
                gzip: parsed.gzip,
                bytes,
                name,
            });
        }
    }
    listing
        .minutes
        .sort_by(|a, b| a.minute_ms.cmp(&b.minute_ms).then(a.gzip.cmp(&b.gzip)));
    Ok(listing)
}

/// Opens one minute file of a tree for reading, following no link below `root`.
pub fn open_minute(root: &Path, stream: Stream, name: &str) -> io::Result<File> {
    let parsed = MinuteName::parse(name).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a minute file name"),
        )
    })?;
    TreeDir::open(root, &[stream.dir_name(), parsed.day()], false)?.open_file(name, Access::Read)
}

/// Opens a file found by walking a recording (whose directories were listed without
/// following links) for reading: a regular file, not a link, never blocking on a FIFO.
pub fn open_found(path: &Path) -> io::Result<File> {
    let fd =
        rustix::fs::openat(CWD, path, open_flags(Access::Read), Mode::empty()).map_err(|e| {
            if e == rustix::io::Errno::LOOP {
                return OddEntry::error(path.to_owned(), Odd::Symlink);
            }
            let e = io::Error::from(e);
            io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        })?;
    let st = rustix::fs::fstat(&fd).map_err(io::Error::from)?;
    let t = FileType::from_raw_mode(st.st_mode);
    if t != FileType::RegularFile {
        return Err(OddEntry::error(path.to_owned(), Odd::of(t)));
    }
    Ok(File::from(fd))
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
