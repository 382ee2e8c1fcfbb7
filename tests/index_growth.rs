//! A recording's index grown with a live recording — its minutes written one after
//! another, the newest one still being written — reads only the new minutes and is the
//! index a whole build of the same files makes, byte for byte, with the probe book's
//! copies; a file changed before where the last build kept its state means a whole
//! build again.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use peerscope::engine::probes::route_change::RouteChangeParams;
use peerscope::recording::index::{IndexOptions, Opened, RecordingIndex};
use peerscope::recording::probe_checkpoints::{CHECKPOINT_MS, ProbeCheckpoints};
use peerscope::recording::scan::Recording;
use proptest::prelude::*;

mod common;

/// The simulated recording every case cuts, made once: twelve hours (two copies of
/// the probe book after the first), at 0.01 of the audience.
fn recording() -> &'static Path {
    static RECORDING: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    RECORDING
        .get_or_init(|| common::simulate(11, "2012-08-06 18:00", "2012-08-07 06:00"))
        .path()
}

/// Every minute file of the recording (feedback and probes), relative to it, by its
/// minute (`20120806-1020`), as the recording's scan finds them.
fn files_by_minute(root: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let recording = Recording::scan(root).expect("scan");
    let mut by_minute: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let files = recording.feedback.iter().chain(&recording.probes);
    for file in files.flat_map(|g| &g.files) {
        let name = file.path.file_name().expect("name").to_string_lossy();
        let minute = name.split('.').next().expect("a minute").to_owned();
        let relative = file.path.strip_prefix(root).expect("inside").to_owned();
        by_minute.entry(minute).or_default().push(relative);
    }
    by_minute
}

/// Copies the files of the minutes before `cut` from `from` into `to`, and the minute
/// `cut` as it is while being written: the first half of each of its files' lines,
/// not yet compressed.
fn write_until(from: &Path, to: &Path, minutes: &BTreeMap<String, Vec<PathBuf>>, cut: &str) {
    for (minute, files) in minutes.range(..=cut.to_owned()) {
        for file in files {
            let (source, target) = (from.join(file), to.join(file));
            std::fs::create_dir_all(target.parent().expect("a directory")).expect("mkdir");
            let open = target.with_extension("");
            if minute.as_str() < cut {
                let _ = std::fs::remove_file(&open);
                if !target.exists() {
                    std::fs::copy(&source, &target).expect("copy");
                }
            } else {
                let mut text = String::new();
                flate2::read::GzDecoder::new(std::fs::File::open(&source).expect("open"))
                    .read_to_string(&mut text)
                    .expect("gunzip");
                let lines: Vec<&str> = text.lines().collect();
                let half: String = lines[..lines.len() / 2]
                    .iter()
                    .flat_map(|l| [l, "\n"])
                    .collect();
                std::fs::write(&open, half).expect("write the open minute");
            }
        }
    }
}

/// The index of `dir` kept in `cache`, how it was come by, and the bytes of the index
/// and of the probe book's copies as kept.
fn open(dir: &Path, cache: &Path) -> (Opened, Vec<u8>, Vec<u8>) {
    let recording = Recording::scan(dir).expect("scan");
    let options = IndexOptions {
        cache: Some(cache.to_owned()),
        ..IndexOptions::default()
    };
    let (_, opened) = RecordingIndex::open(dir, &recording.feedback, &recording.probes, &options);
    let kept = |extension: &str| {
        let mut found: Vec<PathBuf> = std::fs::read_dir(cache)
            .expect("the cache")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == extension))
            .collect();
        assert_eq!(found.len(), 1, "one {extension} file: {found:?}");
        std::fs::read(found.remove(0)).expect("read")
    };
    (opened, kept("index"), kept("probes"))
}

fn grown(opened: &Opened) -> Option<usize> {
    match opened {
        Opened::Built { saved, grown } => {
            assert!(saved.is_ok(), "{saved:?}");
            *grown
        }
        Opened::Loaded => panic!("the recording changed: its index is not loaded"),
    }
}

/// Builds the index of the recording written up to `cuts[0]`, grows it with each
/// next cut and the whole recording, and checks it against a whole build.
fn grow_and_compare(cuts: &[usize]) {
    let minutes = files_by_minute(recording());
    let names: Vec<&String> = minutes.keys().collect();
    let live = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("tempdir");
    for (step, &cut) in cuts.iter().enumerate() {
        write_until(recording(), live.path(), &minutes, names[cut]);
        let read = grown(&open(live.path(), cache.path()).0);
        if step > 0 {
            // Read again: the minutes from five before the last one written before (the
            // open minute and those a server may still be compressing) on.
            let read = read.expect("the index grows");
            assert!(
                read <= cut - cuts[step - 1] + 6,
                "read {read} minutes for {cut}"
            );
        }
    }
    write_until(recording(), live.path(), &minutes, "99999999-9999");
    let (last, grown_index, grown_books) = open(live.path(), cache.path());
    assert!(grown(&last).is_some(), "the last step grows too");

    for entry in std::fs::read_dir(cache.path()).expect("cache").flatten() {
        std::fs::remove_file(entry.path()).expect("empty the cache");
    }
    let (whole, whole_index, whole_books) = open(live.path(), cache.path());
    assert_eq!(grown(&whole), None, "an empty cache: a whole build");
    assert!(
        grown_index == whole_index,
        "the grown index is the whole build's"
    );
    assert!(
        grown_books == whole_books,
        "the grown probe books are the whole build's"
    );
}

#[test]
fn an_index_grown_minute_by_minute_and_across_probe_copies_is_the_whole_builds() {
    let last = files_by_minute(recording()).len() - 1;
    // Three minutes from the start; a minute after another; across the six-hour copy
    // of the probe book; the last minute still open.
    grow_and_compare(&[3, 4, 300, 420, last]);
}

#[test]
fn a_file_changed_before_the_kept_state_means_a_whole_build() {
    let minutes = files_by_minute(recording());
    let names: Vec<&String> = minutes.keys().collect();
    let live = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("tempdir");
    write_until(recording(), live.path(), &minutes, names[200]);
    grown(&open(live.path(), cache.path()).0);
    // An early feedback file rewritten (same bytes, a new time) and the recording grown.
    let feedback = minutes[names[10]]
        .iter()
        .find(|f| f.components().any(|c| c.as_os_str() == "feedback"))
        .expect("a feedback file");
    let early = live.path().join(feedback);
    let bytes = std::fs::read(&early).expect("read");
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&early, bytes).expect("rewrite");
    write_until(recording(), live.path(), &minutes, names[230]);
    assert_eq!(grown(&open(live.path(), cache.path()).0), None);
    // From that whole build on, the index grows again.
    write_until(recording(), live.path(), &minutes, names[240]);
    assert!(grown(&open(live.path(), cache.path()).0).is_some());
    // Where to grow from, damaged (one byte): never used.
    let growth = std::fs::read_dir(cache.path())
        .expect("the cache")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "growth"))
        .expect("a growth point");
    let mut bytes = std::fs::read(&growth).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&growth, bytes).expect("damage");
    write_until(recording(), live.path(), &minutes, names[250]);
    assert_eq!(grown(&open(live.path(), cache.path()).0), None);
}

#[test]
fn probe_books_grow_from_their_last_copy_into_the_whole_builds_bytes() {
    let recording = Recording::scan(recording()).expect("scan");
    let probes = &recording.probes;
    let dir = tempfile::tempdir().expect("tempdir");
    let (early, grown, whole) = (
        dir.path().join("early.probes"),
        dir.path().join("grown.probes"),
        dir.path().join("whole.probes"),
    );
    let params = RouteChangeParams::default();
    let books = ProbeCheckpoints::build(
        &probes[..probes.len() * 2 / 3],
        params,
        &early,
        CHECKPOINT_MS,
    )
    .expect("build half");
    let (next, _) = books.last_taken().expect("a copy");
    assert!(next > 0, "the last copy is not the first minute's");
    let grown_books = books.grow(probes, &grown, CHECKPOINT_MS).expect("grow");
    assert!(
        !early.exists(),
        "the earlier books' file is moved, not copied"
    );
    let whole_books =
        ProbeCheckpoints::build(probes, params, &whole, CHECKPOINT_MS).expect("build");
    assert_eq!(
        std::fs::read(&grown).expect("grown"),
        std::fs::read(&whole).expect("whole")
    );
    assert_eq!(grown_books.last_taken(), whole_books.last_taken());
    assert_eq!(grown_books.skipped(), whole_books.skipped());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn an_index_grown_at_any_cut_points_is_the_whole_builds(
        cuts in proptest::collection::btree_set(0usize..719, 1..4)
    ) {
        grow_and_compare(&cuts.into_iter().collect::<Vec<_>>());
    }
}
