//! A recording's index: what a figure for part of a recording needs to know about the
//! rest of it, learnt by one pass and kept in the user's cache, so that `report --day`
//! reads the day's files and their warm-up instead of the whole recording, and a
//! `replay` frame reads only what its views hold.
//!
//! It holds each peer's first accepted record (the "new" and "cumulative" users before
//! the part read, and "new peers" in a replay started anywhere), the channels, the
//! whole service's one-minute points (what replay judges alerts on; they depend on the
//! QoE parameters, so the index is rebuilt when those change), copies of the probe book
//! every six hours ([`ProbeCheckpoints`], in a file beside the index), per quarter hour
//! the earliest start of the views with a record in it (a view that began before the
//! part read is not one of its views, and its startup delay was counted then) and the
//! summed length of the views that began in it (a day's views are counted whole, though
//! the part read ends with the day), the longest time a record keeps its peer online
//! (the online warm-up), and the lines the whole recording skipped (the report's
//! footer). Quarter hours, because every time zone's midnight falls on one.
//!
//! The index names every minute file it was built from (feedback and probes) with its
//! size and modification time; any difference — a file added, grown, compressed,
//! removed — and it is rebuilt, never trusted. A missing, unreadable or damaged index is rebuilt too;
//! one that cannot be saved is used once and a warning says why.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::digest::{crc32, fnv1a};
use super::index_build::{Built, IndexBuilder, SLOT_MS, ServiceBlock, SlotViews, UNSETTLED_MS};
use super::layout::TreeDir;
use super::pipeline::{progress_bar, read_raw_in_order};
use super::probe_checkpoints::{CHECKPOINT_MS, ProbeCheckpoints};
use super::scan::MinuteGroup;
use super::skipped::Skipped;
use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::aggregate::service::ServiceHistory;
use crate::engine::calendar::MINUTE_MS;
use crate::engine::observe::first_seen::FirstSeen;
use crate::engine::probes::route_change::RouteChangeParams;
use crate::engine::query::snapshot::Point;

/// Bumped whenever what is stored, or how it is computed, changes.
const VERSION: u32 = 12;

/// The recording's minute files (feedback, then probes) as they stood when stat-ed:
/// what says whether a kept index is still true. Taken before anything is read, so a
/// file that changes meanwhile makes the next index a stale one, never a wrong one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamps(Vec<FileStamp>);

impl FileStamps {
    /// The files of `groups` and `probes`, named relative to `root`, in the order the
    /// scan found them, stat-ed on `threads` threads: a 17-day recording has 73 k files
    /// to check before every frame.
    fn take(
        root: &Path,
        groups: &[MinuteGroup],
        probes: &[MinuteGroup],
        threads: usize,
    ) -> FileStamps {
        let files: Vec<&Path> = [groups, probes]
            .into_iter()
            .flatten()
            .flat_map(|g| &g.files)
            .map(|f| f.path.as_path())
            .collect();
        // Small recordings are not worth a thread.
        let share = files.len().div_ceil(threads.max(1)).max(4096);
        FileStamps(std::thread::scope(|scope| {
            let parts: Vec<_> = files
                .chunks(share)
                .map(|part| scope.spawn(move || stamps_of(root, part)))
                .collect();
            parts
                .into_iter()
                .flat_map(|part| part.join().expect("a stat does not panic"))
                .collect()
        }))
    }
}

/// A minute file as the index saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileStamp {
    path: PathBuf,
    len: u64,
    modified_ns: u128,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingIndex {
    version: u32,
    root: PathBuf,
    /// The feedback minute files, then the probe minute files.
    files: Vec<FileStamp>,
    /// What `built.minutes` were computed with.
    qoe: QoeParams,
    /// The digest of the version, `files` and `qoe`: what answers kept beside the
    /// index are named by (worked out once, not on every frame from 73 k stamps).
    made_from: u64,
    /// What the pass over the feedback found.
    built: Built,
    /// Copies of the probe book (none for a recording without probes, or an index that
    /// is not kept).
    probes: Option<ProbeCheckpoints>,
}

/// How an index was come by: said on stderr, since a build reads the whole recording.
/// (Not `Origin`: that names where a record came from.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Loaded,
    Built {
        saved: Result<PathBuf, String>,
        /// The minutes read, when the build took up a kept one's state (the recording
        /// grew): `None` for a whole build.
        grown: Option<usize>,
    },
}

impl Opened {
    /// Tells the user, on stderr, that the recording was just read, whole or its new
    /// minutes, to index it, and where the index is kept (or why it is not).
    pub fn say(&self) {
        if let Opened::Built { saved, grown } = self {
            match (saved, grown) {
                (Ok(path), None) => eprintln!("indexed the recording in {}", path.display()),
                (Ok(path), Some(minutes)) => eprintln!(
                    "indexed the recording's last {minutes} minutes (the rest as before) in {}",
                    path.display()
                ),
                (Err(why), _) => eprintln!(
                    "warning: the recording's index is not kept ({why}): the next run builds it again"
                ),
            }
        }
    }
}

/// Where a later build takes this one up (`<index>.growth`, beside the index): the
/// state of the feedback pass at a minute's start, and the probe book's copies; each
/// part is used only when every file before it is as it was when kept.
#[derive(Debug, Serialize, Deserialize)]
struct GrowthPoint {
    version: u32,
    root: PathBuf,
    qoe: QoeParams,
    feedback: Option<FeedbackPoint>,
    probes: Option<ProbePoint>,
}

/// The feedback pass's state ([`IndexBuilder`], in postcard's encoding) when it had read
/// every minute before `next`, whose files are `files`.
#[derive(Debug, Serialize, Deserialize)]
struct FeedbackPoint {
    next: i64,
    files: Vec<FileStamp>,
    state: Vec<u8>,
}

impl FeedbackPoint {
    /// The minute of `groups` to read on from, and the state to read on with, when
    /// every minute before `next` is as it was: the same files (none added, none
    /// changed) in `stamps`, the stamps of every file of `groups`.
    fn resume(self, groups: &[MinuteGroup], stamps: &[FileStamp]) -> Option<(usize, IndexBuilder)> {
        let next = groups.partition_point(|g| g.start_ms < self.next);
        let unchanged = stamps.get(..files_of(groups, next)) == Some(&self.files[..]);
        let builder = unchanged.then(|| postcard::from_bytes(&self.state).ok())??;
        Some((next, builder))
    }
}

/// The probe book's copies, and the stamps of the probe files of the minutes before the
/// last copy.
#[derive(Debug, Serialize, Deserialize)]
struct ProbePoint {
    files: Vec<FileStamp>,
    books: ProbeCheckpoints,
}

impl ProbePoint {
    /// Whether the copies can be grown from their last: made with `params`, their file
    /// whole, and every probe minute before the last copy as it was (`stamps`: every
    /// file of `probes`).
    fn still_true(
        &self,
        probes: &[MinuteGroup],
        stamps: &[FileStamp],
        params: RouteChangeParams,
    ) -> bool {
        let Some((next, until)) = self.books.last_taken() else {
            return false;
        };
        // The copy was taken before the minute at `until`: it must still be there.
        self.books.usable_with(params)
            && probes.get(next).is_some_and(|g| g.start_ms == until)
            && stamps.get(..files_of(probes, next)) == Some(&self.files[..])
    }
}

/// How many files the first `n` of `groups` hold.
fn files_of(groups: &[MinuteGroup], n: usize) -> usize {
    groups[..n].iter().map(|g| g.files.len()).sum()
}

/// Where a build that starts reading `groups` at `first` keeps its state: at the first
/// minute that may still change ([`UNSETTLED_MS`] before the last), or at `first` when
/// that is before it (the state cannot go back), or after the last minute when there is
/// nothing to read.
fn kept_minute(groups: &[MinuteGroup], first: usize) -> Option<usize> {
    let last = groups.last()?;
    let settled = groups.partition_point(|g| g.start_ms < last.start_ms - UNSETTLED_MS);
    Some(settled.max(first))
}

/// How an index is opened: where indexes are kept, and how it is built when needed.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// The directory of kept indexes ([`user_cache`]); `None`: none is kept.
    pub cache: Option<PathBuf>,
    pub qoe: QoeParams,
    /// What the probe book's copies are scored with.
    pub route_change: RouteChangeParams,
    /// Threads that stat the minute files, and that read them for a build.
    pub threads: usize,
    /// A progress bar on stderr while building.
    pub progress: bool,
}

/// Nothing kept, the default parameters, two threads, no progress bar: an index for
/// this run only (tests and benchmarks).
impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            cache: None,
            qoe: QoeParams::default(),
            route_change: RouteChangeParams::default(),
            threads: 2,
            progress: false,
        }
    }
}

impl RecordingIndex {
    /// The index of the recording at `root` whose feedback and probe minutes are
    /// `groups` and `probes`: loaded from the cache when it matches the files (stat-ed
    /// now, on `options.threads` threads, while the kept index is read) and the
    /// parameters exactly, else built and saved — from where the last build's kept
    /// state stopped, when every file before that is as it was then.
    pub fn open(
        root: &Path,
        groups: &[MinuteGroup],
        probes: &[MinuteGroup],
        options: &IndexOptions,
    ) -> (RecordingIndex, Opened) {
        let scanned = root;
        let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
        let path = options.cache.as_deref().map(|dir| cache_path(dir, &root));
        let (kept, FileStamps(files)) = std::thread::scope(|scope| {
            let stamping =
                scope.spawn(|| FileStamps::take(scanned, groups, probes, options.threads));
            let kept = path.as_deref().and_then(load::<RecordingIndex>);
            (kept, stamping.join().expect("a stat does not panic"))
        });
        if let Some(index) = kept {
            let probes_usable = match &index.probes {
                Some(books) => books.usable_with(options.route_change),
                None => probes.is_empty(),
            };
            if index.version == VERSION
                && index.root == root
                && index.files == files
                && index.qoe == options.qoe
                && probes_usable
            {
                return (index, Opened::Loaded);
            }
        }
        let Some(path) = path else {
            let (index, _) = RecordingIndex::build(root, files, groups, options, None, None);
            let saved = Err("neither XDG_CACHE_HOME nor HOME is set".into());
            return (index, Opened::Built { saved, grown: None });
        };
        let growth_path = path.with_extension("growth");
        let growth = load::<GrowthPoint>(&growth_path)
            .filter(|g| g.version == VERSION && g.root == root && g.qoe == options.qoe);
        let feedback_count = files_of(groups, groups.len());
        let (feedback_files, probe_files) = files.split_at(feedback_count);
        let (resume, probe_books) = match growth {
            Some(g) => (
                g.feedback.and_then(|f| f.resume(groups, feedback_files)),
                g.probes
                    .filter(|p| p.still_true(probes, probe_files, options.route_change))
                    .map(|p| p.books),
            ),
            None => (None, None),
        };
        let grown = resume.as_ref().map(|(next, _)| groups.len() - next);
        let keep_at = kept_minute(groups, resume.as_ref().map_or(0, |(next, _)| *next));
        let (mut index, feedback) =
            RecordingIndex::build(root, files, groups, options, resume, keep_at);
        let saved = index
            .keep_probe_books(probes, options.route_change, &path, probe_books)
            .and_then(|()| {
                let growth = GrowthPoint {
                    version: VERSION,
                    root: index.root.clone(),
                    qoe: options.qoe,
                    feedback,
                    probes: index.probes.clone().map(|books| {
                        let next = books.last_taken().map_or(0, |(next, _)| next);
                        let before = feedback_count + files_of(probes, next);
                        let files = index.files[feedback_count..before].to_vec();
                        ProbePoint { files, books }
                    }),
                };
                save(&growth, &growth_path)
            })
            .and_then(|()| save(&index, &path))
            .map(|()| {
                index.remove_old_probe_books(&path);
                path
            });
        (index, Opened::Built { saved, grown })
    }

    /// Writes the probe book's copies beside the index at `path`, in a file named by
    /// what they were made from (two runs building one index write the same file):
    /// on from the last copy of `earlier` when given, the copies of an earlier build
    /// whose files before its last copy are still those of `probes`.
    fn keep_probe_books(
        &mut self,
        probes: &[MinuteGroup],
        params: RouteChangeParams,
        path: &Path,
        earlier: Option<ProbeCheckpoints>,
    ) -> Result<(), String> {
        if probes.is_empty() {
            return Ok(());
        }
        let what = postcard::to_stdvec(&(&self.files, params)).map_err(|e| e.to_string())?;
        let dir = path.parent().ok_or("no directory")?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let store = path.with_extension(format!("{:016x}.probes", fnv1a(&what)));
        let grown = earlier.and_then(|books| books.grow(probes, &store, CHECKPOINT_MS).ok());
        self.probes = Some(match grown {
            Some(books) => books,
            None => ProbeCheckpoints::build(probes, params, &store, CHECKPOINT_MS)?,
        });
        Ok(())
    }

    /// Removes the probe books of earlier builds of the index at `path`.
    fn remove_old_probe_books(&self, path: &Path) {
        let kept = self.probes.as_ref().map(ProbeCheckpoints::store);
        remove_beside(path, "probes", kept);
    }

    /// Reads `groups` — from `resume`'s minute with its state, else from the first —
    /// and, when `keep_at` says so, keeps the state at the start of that minute.
    fn build(
        root: PathBuf,
        files: Vec<FileStamp>,
        groups: &[MinuteGroup],
        options: &IndexOptions,
        resume: Option<(usize, IndexBuilder)>,
        keep_at: Option<usize>,
    ) -> (RecordingIndex, Option<FeedbackPoint>) {
        let (first, mut builder) = resume.unwrap_or_else(|| (0, IndexBuilder::new(options.qoe)));
        let mut kept = None;
        let end = groups.last().map_or(0, |g| g.start_ms + MINUTE_MS);
        let mut keep = |at: usize, builder: &IndexBuilder| {
            if keep_at == Some(at) {
                kept = postcard::to_stdvec(builder)
                    .ok()
                    .map(|state| FeedbackPoint {
                        next: groups.get(at).map_or(end, |g| g.start_ms),
                        files: files[..files_of(groups, at)].to_vec(),
                        state,
                    });
            }
        };
        let bar = options
            .progress
            .then(|| progress_bar(groups.len() - first, "indexing"));
        let mut at = first;
        read_raw_in_order(&groups[first..], options.threads, |batch| {
            keep(at, &builder);
            builder.take(batch);
            at += 1;
            if let Some(bar) = &bar {
                bar.inc(1);
            }
            true
        });
        keep(at, &builder);
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let start = groups.first().map_or(0, |g| g.start_ms);
        let made_from =
            fnv1a(&postcard::to_stdvec(&(VERSION, &files, options.qoe)).unwrap_or_default());
        let index = RecordingIndex {
            version: VERSION,
            root,
            files,
            qoe: options.qoe,
            made_from,
            built: builder.finish(start, end),
            probes: None,
        };
        (index, kept)
    }

    /// Where to start reading so that every unfiltered figure of `[from, to)` — read up
    /// to `to` — comes out as it would from the whole recording: back to the start of
    /// every view with a record in it, and far enough for every peer online at `from`
    /// to be known. (Under a filter a view can begin, for the figures, after its first
    /// record: `report` reads the whole recording then.)
    pub fn read_from(&self, from: i64, to: i64) -> i64 {
        self.slots_of(from, to)
            .map(|slot| slot.earliest_start)
            .fold(from.saturating_sub(self.built.online_span_ms), i64::min)
    }

    /// The summed length of the views that began in `[from, to)` (quarter-hour bounds),
    /// to their ends wherever those are.
    pub fn view_ms_begun(&self, from: i64, to: i64) -> i64 {
        debug_assert!(from % SLOT_MS == 0 && to % SLOT_MS == 0);
        self.slots_of(from, to).map(|slot| slot.begun_ms).sum()
    }

    fn slots_of(&self, from: i64, to: i64) -> impl Iterator<Item = &SlotViews> {
        let index = |t: i64| {
            usize::try_from((t - self.built.first_slot).div_euclid(SLOT_MS).max(0)).unwrap_or(0)
        };
        let slots = &self.built.slots[..index(to).min(self.built.slots.len())];
        slots.get(index(from)..).unwrap_or_default().iter()
    }

    /// Peers whose first accepted record came before `t`.
    pub fn peers_before(&self, t: i64) -> &[(Box<str>, i64)] {
        &self.built.first_seen[..self.built.first_seen.partition_point(|(_, recv)| *recv < t)]
    }

    /// The lines the whole recording skipped, and its damaged files.
    pub fn skipped(&self) -> &Skipped {
        &self.built.skipped
    }

    /// Each peer's first appearance, for exact "new peers" wherever an engine starts.
    pub fn first_seen(&self) -> FirstSeen {
        let mut first = FirstSeen::default();
        for (peer, recv) in &self.built.first_seen {
            first.observe(peer, *recv);
        }
        first
    }

    /// Every channel the recording holds, sorted.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.built.channels.iter().map(|c| &**c)
    }

    /// The whole service's point of every minute of the recording, in time order.
    pub fn minutes(&self) -> &[Point] {
        &self.built.minutes
    }

    /// The whole service's history, for replay engines that read only their cells'
    /// records.
    pub fn take_service_history(&mut self) -> ServiceHistory {
        ServiceHistory::from_blocks(
            std::mem::take(&mut self.built.service)
                .into_iter()
                .map(ServiceBlock::into_block)
                .collect(),
            std::mem::take(&mut self.built.skipped_by_minute),
        )
    }

    /// Copies of the probe book through the recording, if kept.
    pub fn take_probe_books(&mut self) -> Option<ProbeCheckpoints> {
        self.probes.take()
    }

    /// Where answers worked out from this recording are kept in `cache`, beside its
    /// index: `<index>.<hash>.<extension>`, the hash of the files the index was built
    /// from, its parameters and `what` else the answers depend on. Files or parameters
    /// that differ give another name, so a kept answer is never one of another recording.
    pub fn kept_beside(&self, cache: &Path, what: &[u8], extension: &str) -> PathBuf {
        let mut made_from = self.made_from.to_le_bytes().to_vec();
        made_from.extend_from_slice(what);
        let path = cache_path(cache, &self.root);
        path.with_extension(format!("{:016x}.{extension}", fnv1a(&made_from)))
    }
}

/// Removes the other files of `kept`'s kind (its extension) beside its index: those
/// of earlier files or parameters.
pub fn remove_others_beside(kept: &Path) {
    let Some(extension) = kept.extension() else {
        return;
    };
    remove_beside(kept, &extension.to_string_lossy(), Some(kept));
}

/// Removes the files `<index>.*.<extension>` beside the index that `path` (the index
/// or a file beside it) belongs to, but `keep`.
fn remove_beside(path: &Path, extension: &str, keep: Option<&Path>) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let name = name.to_string_lossy();
    let stem = name.split_once('.').map_or(&*name, |(stem, _)| stem);
    let prefix = format!("{stem}.");
    let suffix = format!(".{extension}");
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let other = entry.file_name().to_string_lossy().into_owned();
        let old = other.starts_with(&prefix) && other.ends_with(&suffix);
        if old && keep != Some(entry.path().as_path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The stamps of `files`, each stat-ed by its name in its directory, opened once (a
/// file's whole path walked for each cost half of the stat). The scan made every path
/// `<root>/…/<dir>/<name>`: it is cut as bytes, where parsing its components cost as
/// much again.
fn stamps_of(root: &Path, files: &[&Path]) -> Vec<FileStamp> {
    // The day directories met, the latest last: a minute's files are in a few of them.
    // Opened as a tree's root is, only as a directory: a FIFO put there since the scan
    // is never opened in a way that could block.
    let mut dirs: Vec<(&[u8], Option<TreeDir>)> = Vec::new();
    let root_bytes = root.as_os_str().as_encoded_bytes();
    files
        .iter()
        .map(|&path| {
            let bytes = path.as_os_str().as_encoded_bytes();
            let (len, modified_ns) = match bytes.iter().rposition(|&b| b == b'/') {
                Some(cut) if cut > 0 && cut + 1 < bytes.len() => {
                    let (dir, name) = (&bytes[..cut], &bytes[cut + 1..]);
                    let known = dirs.iter().rposition(|(d, _)| *d == dir);
                    let at = known.unwrap_or_else(|| {
                        dirs.push((dir, TreeDir::root(Path::new(os_str(dir))).ok()));
                        dirs.len() - 1
                    });
                    match &dirs[at].1 {
                        Some(dir) => size_and_modified_in(dir, os_str(name)),
                        None => size_and_modified(path),
                    }
                }
                _ => size_and_modified(path),
            };
            let relative = bytes
                .strip_prefix(root_bytes)
                .and_then(|rest| match rest.strip_prefix(b"/") {
                    Some(rest) => Some(rest),
                    None => root_bytes.ends_with(b"/").then_some(rest),
                })
                .filter(|rest| !rest.is_empty())
                .map_or_else(
                    || path.strip_prefix(root).unwrap_or(path),
                    |rest| Path::new(os_str(rest)),
                );
            FileStamp {
                path: relative.to_owned(),
                len,
                modified_ns,
            }
        })
        .collect()
}

/// Bytes cut from an `OsStr` at an ASCII `/`, back as one.
fn os_str(bytes: &[u8]) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes)
}

/// [`size_and_modified`] of the file `name` in the open directory `dir`.
fn size_and_modified_in(dir: &TreeDir, name: &std::ffi::OsStr) -> (u64, u128) {
    let Ok(stat) = dir.stat(name) else {
        return (0, 0);
    };
    let len = u64::try_from(stat.st_size).unwrap_or(0);
    // Before the epoch counts as unreadable, as in `size_and_modified`.
    let modified = u128::try_from(stat.st_mtime)
        .map_or(0, |s| s * 1_000_000_000 + u128::from(stat.st_mtime_nsec));
    (len, modified)
}

/// A file's size and modification time (ns since the epoch), 0 for what cannot be read:
/// what tells that a file changed.
pub fn size_and_modified(path: &Path) -> (u64, u128) {
    let meta = std::fs::metadata(path).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    (meta.map_or(0, |m| m.len()), modified)
}

/// Where the user's indexes are kept: `$XDG_CACHE_HOME/peerscope/index`, else
/// `~/.cache/peerscope/index`.
pub fn user_cache() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("peerscope/index"))
}

/// `<cache>/<hash of the recording's path>.index`.
fn cache_path(cache: &Path, root: &Path) -> PathBuf {
    // FNV-1a: stable across builds and versions, unlike std's hasher.
    let hash = fnv1a(root.as_os_str().as_encoded_bytes());
    cache.join(format!("{hash:016x}.index"))
}

/// What is kept at `path` (an index, or where to grow it): its body's [`crc32`] (4 bytes, little-endian), then the
/// body in postcard's encoding. `None` when the bytes are not whole: postcard alone
/// would read a changed number as another number.
fn load<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    let (sum, body) = bytes.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*sum) != crc32(body) {
        return None;
    }
    postcard::from_bytes(body).ok()
}

/// Numbers each partial file: two threads of one process may write one file.
static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Writes a file kept in the cache (an index, the explanations beside it) beside its
/// final name and renames it over that: a reader never sees half a file.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let extension = path.extension().unwrap_or_default().to_string_lossy();
    let partial = path.with_extension(format!(
        "{extension}.{}-{write}.partial",
        std::process::id()
    ));
    std::fs::write(&partial, bytes)
        .and_then(|()| std::fs::rename(&partial, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&partial);
        })
}

/// Keeps `kept` (an index, or where to grow it) at `path`, as [`load`] reads it.
fn save(kept: &impl Serialize, path: &Path) -> Result<(), String> {
    let dir = path.parent().ok_or("no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let body = postcard::to_stdvec(kept).map_err(|e| e.to_string())?;
    let mut bytes = crc32(&body).to_le_bytes().to_vec();
    bytes.extend_from_slice(&body);
    write_whole(path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    // Versions before 5 kept the index as JSON, under the same hash.
    let _ = std::fs::remove_file(path.with_extension("json"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::index_build::{ViewSpan, slot_views};

    const Q: i64 = SLOT_MS;

    fn index(views: &[ViewSpan]) -> RecordingIndex {
        let (first_slot, slots) = slot_views(views.iter().copied());
        RecordingIndex {
            version: VERSION,
            root: PathBuf::new(),
            files: Vec::new(),
            qoe: QoeParams::default(),
            made_from: 0,
            built: Built {
                channels: Vec::new(),
                minutes: Vec::new(),
                service: Vec::new(),
                skipped_by_minute: Vec::new(),
                first_seen: vec![("a".into(), 5), ("b".into(), Q), ("c".into(), 3 * Q)],
                first_slot,
                slots,
                online_span_ms: 60_000,
                skipped: Skipped::default(),
            },
            probes: None,
        }
    }

    #[test]
    fn a_kept_index_reads_back_whole_and_a_changed_byte_is_a_damaged_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("aaaa.index");
        let kept = index(&[((Q - 100, 2 * Q + 50), Some((Q - 100, Q + 150)))]);
        save(&kept, &path).expect("save");
        assert_eq!(load(&path), Some(kept.clone()));
        // A byte whose change postcard still reads, as another index: only the
        // checksum tells.
        let bytes = std::fs::read(&path).expect("read");
        let changed = (4..bytes.len())
            .rev()
            .map(|at| {
                let mut changed = bytes.clone();
                changed[at] ^= 0x01;
                changed
            })
            .find(|changed| {
                postcard::from_bytes::<RecordingIndex>(&changed[4..])
                    .is_ok_and(|other| other != kept)
            })
            .expect("a change postcard reads");
        std::fs::write(&path, &changed).expect("write");
        assert_eq!(load::<RecordingIndex>(&path), None);
        std::fs::write(&path, &bytes[..bytes.len() - 1]).expect("write");
        assert_eq!(load::<RecordingIndex>(&path), None);
    }

    #[test]
    fn files_are_stat_ed_in_their_directory_and_a_fifo_there_is_never_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let day = dir.path().join("feedback/20120807");
        std::fs::create_dir_all(&day).expect("mkdir");
        let file = day.join("20120807-0130.jsonl");
        std::fs::write(&file, b"0123456789").expect("write");
        // A day directory replaced by a FIFO after the scan: opening it to read would
        // wait for a writer.
        let fifo = dir.path().join("feedback/20120808");
        crate::recording::layout::mkfifo(&fifo);
        let (root, gone) = (dir.path().to_owned(), fifo.join("20120808-0000.jsonl"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(stamps_of(&root, &[file.as_path(), gone.as_path()]));
        });
        let stamps = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a FIFO where a day directory was does not block");
        assert_eq!(
            stamps[0].path,
            Path::new("feedback/20120807/20120807-0130.jsonl")
        );
        assert_eq!(
            (stamps[0].len, stamps[0].modified_ns),
            size_and_modified(&dir.path().join(&stamps[0].path))
        );
        assert_eq!(stamps[0].len, 10);
        assert_eq!((stamps[1].len, stamps[1].modified_ns), (0, 0));
    }

    /// Paths are cut as bytes: a root given with a trailing slash, or as `.`, names
    /// each file as the plain root does, and a sibling that only begins like the root
    /// keeps its whole path.
    #[test]
    fn files_are_named_relative_to_the_root_however_it_was_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("rec/feedback/20120807/20120807-0130.jsonl");
        std::fs::create_dir_all(file.parent().expect("day")).expect("mkdir");
        std::fs::write(&file, b"01234").expect("write");
        let named = |root: &Path, file: &Path| {
            let stamp = &stamps_of(root, &[file])[0];
            (stamp.path.clone(), stamp.len)
        };
        let relative = PathBuf::from("feedback/20120807/20120807-0130.jsonl");
        let root = dir.path().join("rec");
        assert_eq!(named(&root, &file), (relative.clone(), 5));
        let slashed = PathBuf::from(format!("{}/", root.display()));
        assert_eq!(
            named(&slashed, &slashed.join(&relative)),
            (relative.clone(), 5)
        );
        let sibling = dir.path().join("re");
        assert_eq!(named(&sibling, &file), (file.clone(), 5));
        let dot = Path::new(".");
        let at_dot = dot.join("feedback/20120807/20120807-0130.jsonl");
        assert_eq!(named(dot, &at_dot).0, relative);
    }

    #[test]
    fn a_view_counts_in_every_quarter_hour_it_spans_and_its_length_where_it_began() {
        let (first, slots) = slot_views(
            [
                ((Q + 5, 3 * Q + 1), Some((Q + 5, 2 * Q - 4))),
                ((2 * Q, 2 * Q + 9), None),
            ]
            .into_iter(),
        );
        assert_eq!(first, Q);
        assert_eq!(slots.len(), 3);
        assert_eq!(slots[0].earliest_start, Q + 5);
        assert_eq!(slots[2].earliest_start, Q + 5);
        assert_eq!(slots[0].begun_ms, 2 * Q - 4);
        // A view none of whose records was accepted has no length.
        assert_eq!(slots[1].begun_ms, 0);
    }

    #[test]
    fn the_part_read_reaches_back_to_the_views_and_the_online_warm_up() {
        let index = index(&[
            ((Q - 100, 2 * Q + 50), Some((Q - 100, Q + 150))),
            ((3 * Q, 3 * Q + 10), Some((3 * Q, 10))),
        ]);
        // A view from before `from`: read from its start.
        assert_eq!(index.read_from(2 * Q, 3 * Q), Q - 100);
        assert_eq!(index.read_from(Q, 2 * Q), Q - 60_000);
        // No view in the span: only the online warm-up.
        assert_eq!(index.read_from(10 * Q, 11 * Q), 10 * Q - 60_000);
        assert_eq!(index.read_from(-5 * Q, -4 * Q), -5 * Q - 60_000);
        // Lengths by where views began, whole.
        assert_eq!(index.view_ms_begun(0, Q), Q + 150);
        assert_eq!(index.view_ms_begun(Q, 3 * Q), 0);
        assert_eq!(index.view_ms_begun(0, 10 * Q), Q + 160);
        assert_eq!(index.peers_before(Q).len(), 1);
        assert_eq!(index.peers_before(Q + 1).len(), 2);
    }
}
