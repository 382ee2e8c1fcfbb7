//! Finding the minute files of a recording (DESIGN §3).
//!
//! A recording is any directory holding one or more log trees
//! `<root>/<stream>/<YYYYMMDD>/<YYYYMMDD-HHMM>.jsonl[.gz]`; files of the same stream and
//! minute from different feedback servers are merged. When a server crashed during
//! compression both `X.jsonl` and `X.jsonl.gz` may exist: the `.jsonl` is the original and
//! is read alone. Temporary files (`*.tmp`) are never read.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::layout::{MinuteName, Odd, Stream};

/// One minute file of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteFile {
    pub path: PathBuf,
    pub gzip: bool,
    /// `Feedback` or `Cmcd` in a feedback group (both are viewers' reports), `Probes`.
    pub stream: Stream,
}

/// All files of one minute, across servers: of the `probes` stream, or of viewers'
/// reports (the `feedback` and `cmcd` streams, read together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteGroup {
    /// Start of the minute, ms since epoch (UTC).
    pub start_ms: i64,
    pub files: Vec<MinuteFile>,
}

/// Problems met while scanning: unreadable directories, and links, FIFOs, devices or
/// directories where a minute file should be (skipped, never opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanProblem {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for ScanProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// Why a directory holds no feedback to read: the usage error of `report` and `replay`.
pub fn no_recording_in(dir: &Path) -> String {
    let mut text = format!(
        "no recording in {}: expected {{feedback,cmcd}}/<YYYYMMDD>/<YYYYMMDD-HHMM>.jsonl[.gz] files below it",
        dir.display()
    );
    // A new user's likely mistake: a directory of CDN access logs.
    let logs = std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter(|e| e.file_name().to_string_lossy().contains(".log"))
            .count()
    });
    if logs > 0 {
        let _ = write!(
            text,
            "; access logs are read by naming them ({logs} *.log* files there: {}/*.log*)",
            dir.display()
        );
    }
    text
}

#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// Minutes of viewers' reports: `feedback` and `cmcd` files.
    pub feedback: Vec<MinuteGroup>,
    pub probes: Vec<MinuteGroup>,
    pub problems: Vec<ScanProblem>,
    /// The log trees (a server's `--log-dir`: the directory holding its stream
    /// directories) the minute files were found in.
    pub trees: Vec<PathBuf>,
}

/// How deep below a recording's root a directory of its log trees may be: the root is a
/// server's log directory (`ROOT/feedback/DAY`) or holds several (`ROOT/fs1/feedback/DAY`).
/// Nothing deeper is read: `report /tmp` must not take every recording on the machine.
const DEEPEST_DIR: usize = 3;

impl Recording {
    pub fn scan(root: &Path) -> std::io::Result<Recording> {
        // The root itself must be readable: that is the caller's error to report.
        std::fs::read_dir(root)?;
        // Every minute file found: (stream, minute, its directory in `day_dirs`, gzip).
        let mut found: Vec<(Stream, i64, usize, bool, PathBuf)> = Vec::new();
        let mut day_dirs: Vec<PathBuf> = Vec::new();
        let mut problems = Vec::new();
        let mut stack = vec![(root.to_path_buf(), 0)];
        while let Some((dir, depth)) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(ScanProblem {
                        path: dir,
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            // What this directory is decided once, not for each of its 1,440 files.
            let stream_and_day = stream_and_day(&dir);
            let mut dir_id = None;
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let name = entry.file_name();
                let minute = stream_and_day.and_then(|(stream, day)| {
                    let name = MinuteName::parse(name.to_str()?)?;
                    (name.day() == day).then_some((stream, name.minute_ms, name.gzip))
                });
                if kind.is_dir() && minute.is_none() {
                    if depth < DEEPEST_DIR {
                        stack.push((entry.path(), depth + 1));
                    }
                    continue;
                }
                let Some((stream, minute, gzip)) = minute else {
                    continue;
                };
                if !kind.is_file() {
                    // Listed without following links: a link is reported, not read.
                    let what = if kind.is_symlink() {
                        Odd::Symlink
                    } else if kind.is_dir() {
                        Odd::Directory
                    } else {
                        use std::os::unix::fs::FileTypeExt;
                        if kind.is_fifo() {
                            Odd::Fifo
                        } else if kind.is_socket() {
                            Odd::Socket
                        } else {
                            Odd::Device
                        }
                    };
                    problems.push(ScanProblem {
                        message: format!("{}, skipped", what.describe()),
                        path: entry.path(),
                    });
                    continue;
                }
                let id = *dir_id.get_or_insert_with(|| {
                    day_dirs.push(dir.clone());
                    day_dirs.len() - 1
                });
                found.push((stream, minute, id, gzip, entry.path()));
            }
        }
        // Servers' copies of a minute in the order of their directories' paths, each
        // minute's plain copy before its gzip copy.
        let mut by_path: Vec<usize> = (0..day_dirs.len()).collect();
        by_path.sort_unstable_by(|a, b| day_dirs[*a].cmp(&day_dirs[*b]));
        let mut rank = vec![0; day_dirs.len()];
        for (place, id) in by_path.into_iter().enumerate() {
            rank[id] = place;
        }
        found.sort_unstable_by_key(|f| (f.0, f.1, rank[f.2], f.3));
        let trees: std::collections::BTreeSet<PathBuf> = day_dirs
            .iter()
            .filter_map(|day_dir| Some(day_dir.parent()?.parent()?.to_path_buf()))
            .collect();
        let mut rec = Recording {
            problems,
            trees: trees.into_iter().collect(),
            ..Recording::default()
        };
        let mut previous = None;
        for (stream, minute, id, gzip, path) in found {
            // When a server crashed while compressing, its plain copy is the one read.
            if previous == Some((stream, minute, id)) {
                continue;
            }
            previous = Some((stream, minute, id));
            let file = MinuteFile { path, gzip, stream };
            let groups = match stream {
                Stream::Feedback | Stream::Cmcd => &mut rec.feedback,
                Stream::Probes => &mut rec.probes,
            };
            // Streams come one after the other, each in minute order: `cmcd` minutes
            // join the `feedback` groups already there.
            match groups.binary_search_by_key(&minute, |g| g.start_ms) {
                Ok(i) => groups[i].files.push(file),
                Err(i) => groups.insert(
                    i,
                    MinuteGroup {
                        start_ms: minute,
                        files: vec![file],
                    },
                ),
            }
        }
        Ok(rec)
    }

    pub fn is_empty(&self) -> bool {
        self.feedback.is_empty() && self.probes.is_empty()
    }
}

/// The stream and day of a day directory `<stream>/<YYYYMMDD>`, whose minute files are
/// `<YYYYMMDD-HHMM>.jsonl[.gz]` of that day.
fn stream_and_day(dir: &Path) -> Option<(Stream, &str)> {
    let day = dir.file_name()?.to_str()?;
    let stream = Stream::from_dir_name(dir.parent()?.file_name()?.to_str()?)?;
    Some((stream, day))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty file at `rel` under `root`, with its directories.
    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, b"").expect("write");
    }

    #[test]
    fn only_log_trees_at_the_root_or_one_level_down_are_read_and_named() {
        // `report /tmp` read every recording on the machine at any depth, silently.
        let dir = tempfile::tempdir().expect("tempdir");
        let mk = |rel: &str| touch(dir.path(), rel);
        mk("feedback/20120807/20120807-0130.jsonl");
        mk("fs1/feedback/20120807/20120807-0131.jsonl");
        mk("fs2/probes/20120807/20120807-0131.jsonl");
        mk("old/runs/fs9/feedback/20120807/20120807-0132.jsonl");
        let rec = Recording::scan(dir.path()).expect("scan");
        let minutes: Vec<i64> = rec
            .feedback
            .iter()
            .map(|g| g.start_ms % 3_600_000 / 60_000)
            .collect();
        assert_eq!(minutes, [30, 31], "the tree two levels down is not read");
        let trees: Vec<&Path> = rec
            .trees
            .iter()
            .map(|t| t.strip_prefix(dir.path()).expect("under the root"))
            .collect();
        assert_eq!(trees, [Path::new(""), Path::new("fs1"), Path::new("fs2")]);
    }

    #[test]
    fn a_minutes_files_come_by_stream_then_by_their_directorys_path() {
        // The order the engine reads a minute's files in: the index names them in it,
        // and records of one `recv` are taken in it.
        let dir = tempfile::tempdir().expect("tempdir");
        let names = [
            "fs2/cmcd/20120807/20120807-0130.jsonl",
            "fs2/feedback/20120807/20120807-0130.jsonl.gz",
            "fs10/feedback/20120807/20120807-0130.jsonl",
            "fs1/feedback/20120807/20120807-0131.jsonl",
            "fs1/feedback/20120807/20120807-0130.jsonl.gz",
            "fs1/cmcd/20120807/20120807-0130.jsonl.gz",
        ];
        for name in names {
            touch(dir.path(), name);
        }
        let rec = Recording::scan(dir.path()).expect("scan");
        let read: Vec<Vec<String>> = rec
            .feedback
            .iter()
            .map(|g| {
                g.files
                    .iter()
                    .map(|f| {
                        let rel = f.path.strip_prefix(dir.path()).expect("below");
                        rel.display().to_string()
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            read,
            [
                vec![
                    names[4].to_owned(),
                    names[2].to_owned(),
                    names[1].to_owned(),
                    names[5].to_owned(),
                    names[0].to_owned(),
                ],
                vec![names[3].to_owned()],
            ]
        );
    }

    #[test]
    fn scan_merges_servers_and_prefers_the_uncompressed_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mk = |rel: &str| touch(dir.path(), rel);
        mk("a/feedback/20120807/20120807-0130.jsonl.gz");
        mk("b/feedback/20120807/20120807-0130.jsonl");
        mk("b/feedback/20120807/20120807-0130.jsonl.gz");
        mk("b/feedback/20120807/20120807-0131.jsonl.gz.tmp");
        mk("b/feedback/20120807/notes.txt");
        mk("a/probes/20120807/20120807-0130.jsonl.gz");
        mk("a/feedback/20120808/20120807-0132.jsonl");
        std::os::unix::fs::symlink(
            "/dev/zero",
            dir.path().join("a/feedback/20120807/20120807-0131.jsonl"),
        )
        .expect("link");
        mk("a/feedback/20120807/20120807-0132.jsonl.gz/x");
        let rec = Recording::scan(dir.path()).expect("scan");
        assert_eq!(rec.feedback.len(), 1);
        let mut odd: Vec<String> = rec.problems.iter().map(ToString::to_string).collect();
        odd.sort();
        assert_eq!(odd.len(), 2, "{odd:?}");
        assert!(
            odd[0].contains("20120807-0131.jsonl: a symbolic link"),
            "{odd:?}"
        );
        assert!(
            odd[1].contains("20120807-0132.jsonl.gz: a directory"),
            "{odd:?}"
        );
        let files = &rec.feedback[0].files;
        assert_eq!(files.len(), 2);
        assert!(
            files
                .iter()
                .any(|f| !f.gzip && f.path.starts_with(dir.path().join("b")))
        );
        assert_eq!(rec.probes.len(), 1);
    }
}
