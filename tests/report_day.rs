//! `report --day` reads the day's minutes and what its figures need around them, through
//! the recording's index, and prints exactly the rows a read of the whole recording
//! prints for that day. The index is rebuilt whenever the files differ from what it was
//! built from, or it cannot be read; one that cannot be saved is only a warning.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use peerscope::engine::aggregate::qoe::QoeParams;
use peerscope::engine::calendar::Calendar;
use peerscope::engine::geography::location::IpGeo;
use peerscope::engine::query::filter::Filter;
use peerscope::recording::scan::Recording;
use peerscope::report::analysis::{AnalysisOptions, analyse};
use peerscope::report::figures::by_isp;
use peerscope::report::output::Format;
use tempfile::TempDir;

mod common;

const DAYS: [&str; 3] = ["2012-08-06", "2012-08-07", "2012-08-08"];

struct Run {
    stdout: String,
    stderr: String,
}

fn report(dir: &Path, cache: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("report")
        .arg(dir)
        .args(args)
        .args(["--format", "csv"])
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("run peerscope");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "report {args:?}: {stderr}");
    Run {
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr,
    }
}

/// Three days whose evenings' views run past midnight, at a small scale.
fn recording() -> TempDir {
    common::simulate(5, "2012-08-06 00:00", "2012-08-09 00:00")
}

/// The rows of a whole-recording table that belong to `day`: its CSV lines starting so.
fn rows_of(table: &str, day: &str, by: &str) -> String {
    let key = if by == "minute" {
        format!("{day} ")
    } else {
        format!("{day},")
    };
    table
        .lines()
        .filter(|l| l.starts_with(&key))
        .flat_map(|l| [l, "\n"])
        .collect()
}

fn without_header(csv: &str) -> String {
    csv.lines().skip(1).flat_map(|l| [l, "\n"]).collect()
}

/// "reading 1911 of the recording's 4320 minutes…": (read, of).
fn minutes_read(stderr: &str) -> Option<(usize, usize)> {
    let line = stderr.lines().find(|l| l.contains("of the recording's"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    Some((words[1].parse().ok()?, words[5].parse().ok()?))
}

#[test]
fn each_day_is_the_whole_recordings_rows_for_it_from_a_part_of_it() {
    let rec = recording();
    let cache = tempfile::tempdir().expect("tempdir");
    let empty = tempfile::tempdir().expect("tempdir");
    for by in ["day", "minute"] {
        // A cache with nothing in it: nothing is indexed for a whole-recording read.
        let whole = report(rec.path(), empty.path(), &["--by", by]);
        assert!(!whole.stderr.contains("indexed"), "{}", whole.stderr);
        for day in DAYS {
            let part = report(rec.path(), cache.path(), &["--by", by, "--day", day]);
            assert_eq!(
                without_header(&part.stdout),
                rows_of(&whole.stdout, day, by),
                "--by {by} --day {day}"
            );
            let (read, of) = minutes_read(&part.stderr).expect("says what it read");
            assert!(read < of * 3 / 4, "{day}: read {read} of {of} minutes");
        }
    }
    // The ISP table has no day column: the part against the whole recording read
    // in-process, under a filter too.
    for filter in ["", "channel=main"] {
        let mut args = vec!["--by", "isp", "--day", DAYS[1]];
        if !filter.is_empty() {
            args.extend(["--filter", filter]);
        }
        let part = report(rec.path(), cache.path(), &args);
        assert!(minutes_read(&part.stderr).is_some(), "{}", part.stderr);
        assert_eq!(part.stdout, whole_isp_table(rec.path(), DAYS[1], filter));
    }
}

fn whole_isp_table(dir: &Path, day: &str, filter: &str) -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let recording = Recording::scan(dir).expect("scan");
    let filter = Filter::parse(filter).expect("filter");
    let a = analyse(
        &recording.feedback,
        AnalysisOptions {
            geo: IpGeo::load(&repo.join("maps/ip-geo.csv")).expect("ip table"),
            calendar: Calendar::new(chrono_tz::Asia::Hong_Kong),
            qoe: QoeParams::default(),
            filter: &filter,
            threads: 2,
            progress: false,
            seen_before: &[],
        },
    );
    by_isp(&a, Calendar::parse_day(day)).render(Format::Csv, &a.skipped)
}

#[test]
fn the_index_is_rebuilt_when_the_files_differ_or_it_is_damaged_and_optional() {
    let rec = recording();
    let cache = tempfile::tempdir().expect("tempdir");
    let args = ["--by", "day", "--day", DAYS[1]];
    let first = report(rec.path(), cache.path(), &args);
    assert!(
        first.stderr.contains("indexed the recording in"),
        "{}",
        first.stderr
    );
    let again = report(rec.path(), cache.path(), &args);
    assert!(
        !again.stderr.contains("indexed"),
        "a matching index is used: {}",
        again.stderr
    );
    assert_eq!(again.stdout, first.stdout);

    // A damaged index: rebuilt, same figures. One byte changed in the middle would
    // still decode, as another number or name; cut short, it would not.
    let kept = cache.path().join("peerscope/index");
    let (index, books) = index_files(&kept);
    let whole = std::fs::read(&index).expect("index");
    let mut changed = whole.clone();
    changed[whole.len() / 2] ^= 0x01;
    for damaged in [changed, whole[..whole.len() / 3].to_vec()] {
        std::fs::write(&index, damaged).expect("damage");
        let rebuilt = report(rec.path(), cache.path(), &args);
        assert!(rebuilt.stderr.contains("indexed"), "{}", rebuilt.stderr);
        assert_eq!(rebuilt.stdout, first.stdout);
    }

    // The probe book's copies gone: the index is not used without them.
    std::fs::remove_file(&books).expect("remove the copies");
    let rebuilt = report(rec.path(), cache.path(), &args);
    assert!(rebuilt.stderr.contains("indexed"), "{}", rebuilt.stderr);
    assert_eq!(index_files(&kept), (index, books.clone()));

    // A minute file of the day gains a record: rebuilt, and the record counts.
    let minute = rec
        .path()
        .join("fs1/feedback/20120807/20120807-0300.jsonl.gz");
    let mut lines = gunzip(&minute);
    let last = lines.lines().last().expect("a record").to_owned();
    let peer_at = last.find("\"peer\":\"").expect("peer") + 8;
    let added = format!("{}zz-new{}", &last[..peer_at], &last[peer_at..]);
    lines.push_str(&added);
    lines.push('\n');
    gzip(&minute, &lines);
    let grown = report(rec.path(), cache.path(), &args);
    assert!(grown.stderr.contains("indexed"), "{}", grown.stderr);
    // New copies for the new files; the old ones are removed.
    assert_ne!(index_files(&kept).1, books);
    let new_users = |csv: &str| -> i64 {
        csv.lines()
            .nth(1)
            .and_then(|l| l.split(',').nth(1))
            .and_then(|n| n.parse().ok())
            .expect("new_users")
    };
    assert_eq!(new_users(&grown.stdout), new_users(&first.stdout) + 1);

    // A cache that cannot be written: a warning, the same figures.
    let blocked = cache.path().join("a-file");
    std::fs::write(&blocked, b"").expect("write");
    let unsaved = report(rec.path(), &blocked, &args);
    assert!(
        unsaved
            .stderr
            .contains("warning: the recording's index is not kept"),
        "{}",
        unsaved.stderr
    );
    assert_eq!(unsaved.stdout, grown.stdout);

    // Under a filter new users need every peer's first matching record: the whole
    // recording is read, and the figures are still the day's.
    let filtered = report(
        rec.path(),
        cache.path(),
        &["--by", "day", "--day", DAYS[1], "--filter", "channel=main"],
    );
    assert!(
        minutes_read(&filtered.stderr).is_none(),
        "{}",
        filtered.stderr
    );
    let whole = report(
        rec.path(),
        cache.path(),
        &["--by", "day", "--filter", "channel=main"],
    );
    assert_eq!(
        without_header(&filtered.stdout),
        rows_of(&whole.stdout, DAYS[1], "day")
    );
}

/// The one index kept in `dir` and the one file of its probe book's copies (beside
/// them, where the next build may take this one up).
fn index_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("cache dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort_by_key(|f| f.extension().map(std::ffi::OsStr::to_owned));
    match &files[..] {
        [growth, index, books]
            if growth.extension().is_some_and(|e| e == "growth")
                && index.extension().is_some_and(|e| e == "index")
                && books.extension().is_some_and(|e| e == "probes") =>
        {
            (index.clone(), books.clone())
        }
        _ => panic!("expected an index, its probe books and its growth point: {files:?}"),
    }
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).expect("open"))
        .read_to_string(&mut text)
        .expect("gunzip");
    text
}

fn gzip(path: &Path, text: &str) {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).expect("gzip");
    std::fs::write(path, e.finish().expect("gzip")).expect("write");
}
