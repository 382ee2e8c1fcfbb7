use super::*;
use std::fs;
use std::path::Path;

/// The directory `dir` as a log tree's day directory.
fn day(dir: &Path) -> TreeDir {
    TreeDir::root(dir).expect("open")
}

fn repair(path: &Path) -> Repair {
    let f = fs::OpenOptions::new()
        .write(true)
        .read(true)
        .open(path)
        .expect("open");
    repair_tail(&f).expect("repair")
}

fn holds(dir: &Path, gz: &str, expected: &[u8]) -> bool {
    fs::write(dir.join("expected"), expected).expect("write");
    gz_holds(&day(dir), gz, "expected").expect("compare")
}

fn record(i: u32) -> String {
    format!("{{\"v\":1,\"peer\":\"p{i}\",\"seq\":{i},\"note\":\"é€\"}}\n")
}

fn two_records() -> String {
    record(1) + &record(2)
}

#[test]
fn repair_keeps_every_complete_line_at_every_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.jsonl");
    let whole = two_records();
    let first_end = record(1).len();
    for cut in 0..=whole.len() {
        fs::write(&path, &whole.as_bytes()[..cut]).expect("write");
        let r = repair(&path);
        let kept = fs::read(&path).expect("read");
        let want = if cut == whole.len() {
            whole.len()
        } else if cut >= first_end {
            first_end
        } else {
            0
        };
        assert_eq!(kept.len(), want, "cut at {cut}");
        assert_eq!(r.dropped_bytes as usize, cut - want);
        // Idempotent.
        assert_eq!(repair(&path).dropped_bytes, 0);
        assert_eq!(fs::read(&path).expect("read"), kept);
    }
}

#[test]
fn repair_drops_appended_garbage_but_no_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.jsonl");
    let garbage: [&[u8]; 4] = [b"\0\0\0\0", b"\xe2\x82", b"\0\0\n\0\n", b"{\"v\":1,\"pe\n"];
    for g in garbage {
        let mut bytes = two_records().into_bytes();
        bytes.extend_from_slice(g);
        fs::write(&path, &bytes).expect("write");
        repair(&path);
        assert_eq!(
            fs::read(&path).expect("read"),
            two_records().as_bytes(),
            "garbage {g:?}"
        );
    }
}

#[test]
fn a_crash_at_any_compression_step_recovers_to_one_valid_copy() {
    for step in Step::ALL {
        let dir = tempfile::tempdir().expect("tempdir");
        let jsonl = "20120807-0130.jsonl";
        fs::write(dir.path().join(jsonl), two_records()).expect("write");
        compress_minute(&day(dir.path()), jsonl, 6, Some(step)).expect("compress until the crash");
        let r = recover_dir(&day(dir.path()), None, 6).expect("recover");
        let files: Vec<String> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            files,
            vec!["20120807-0130.jsonl.gz".to_owned()],
            "after a crash after {step:?}: {r:?}"
        );
        assert!(
            holds(
                dir.path(),
                "20120807-0130.jsonl.gz",
                two_records().as_bytes()
            ),
            "{step:?}"
        );
        fs::remove_file(dir.path().join("expected")).expect("clean up");
        // A second recovery changes nothing.
        assert_eq!(
            recover_dir(&day(dir.path()), None, 6).expect("again"),
            Recovery::default()
        );
    }
}

#[test]
fn a_half_written_gz_beside_its_original_is_redone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jsonl = "20120807-0130.jsonl";
    fs::write(dir.path().join(jsonl), two_records()).expect("write");
    compress_minute(&day(dir.path()), jsonl, 6, Some(Step::Rename)).expect("compress");
    let gz = dir.path().join("20120807-0130.jsonl.gz");
    let bytes = fs::read(&gz).expect("read");
    fs::write(&gz, &bytes[..bytes.len() / 2]).expect("truncate");
    let r = recover_dir(&day(dir.path()), None, 6).expect("recover");
    assert_eq!(r.removed_bad_gz, vec!["20120807-0130.jsonl.gz".to_owned()]);
    assert!(holds(
        dir.path(),
        "20120807-0130.jsonl.gz",
        two_records().as_bytes()
    ));
    assert!(!dir.path().join(jsonl).exists());
}

#[test]
fn the_open_minute_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = dir.path().join("20120807-0131.jsonl");
    fs::write(&open, record(3)).expect("write");
    let r = recover_dir(&day(dir.path()), Some("20120807-0131.jsonl"), 6).expect("recover");
    assert_eq!(r, Recovery::default());
    assert!(open.exists());
}

#[test]
fn repair_reads_only_the_tail_of_a_long_minute() {
    // Many records, then a torn one: the cut is found from the last window alone, and a
    // run of garbage longer than the window is walked back through in bigger windows.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.jsonl");
    let mut body = String::new();
    for i in 0..5000 {
        body.push_str(&record(i));
    }
    let whole = body.len() as u64;
    body.push_str("{\"v\":1,\"pe");
    fs::write(&path, &body).expect("write");
    assert_eq!(repair(&path).kept_bytes, whole);
    let mut garbage = fs::read(&path).expect("read");
    for _ in 0..20_000 {
        garbage.extend_from_slice(b"garbage\n");
    }
    fs::write(&path, &garbage).expect("write");
    assert_eq!(repair(&path).kept_bytes, whole);
    // A complete line over the limit is garbage too, whatever it holds.
    let mut long = fs::read(&path).expect("read");
    long.extend_from_slice(b"{\"x\":\"");
    long.extend(std::iter::repeat_n(b'x', MAX_LINE));
    long.extend_from_slice(b"\"}\n");
    fs::write(&path, &long).expect("write");
    assert_eq!(repair(&path).kept_bytes, whole);
}

#[test]
fn recovery_leaves_links_fifos_and_directories_alone_and_reports_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let victim = outside.path().join("victim");
    fs::write(&victim, "precious\n").expect("write");
    std::os::unix::fs::symlink(&victim, dir.path().join("20120807-0130.jsonl")).expect("link");
    crate::recording::layout::mkfifo(&dir.path().join("20120807-0131.jsonl"));
    fs::create_dir(dir.path().join("20120807-0132.jsonl")).expect("mkdir");
    fs::write(dir.path().join("20120807-0133.jsonl"), two_records()).expect("write");
    fs::create_dir(dir.path().join("20120807-0133.jsonl.gz")).expect("mkdir");
    fs::write(dir.path().join("20120807-0134.jsonl"), two_records()).expect("write");
    let r = recover_dir(&day(dir.path()), None, 6).expect("recover");
    let mut odd: Vec<String> = r
        .odd
        .iter()
        .map(|o| {
            o.path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    odd.sort();
    assert_eq!(
        odd,
        [
            "20120807-0130.jsonl",
            "20120807-0131.jsonl",
            "20120807-0132.jsonl",
            "20120807-0133.jsonl.gz"
        ]
    );
    assert_eq!(r.recompressed, ["20120807-0134.jsonl"]);
    assert_eq!(fs::read(&victim).expect("read"), b"precious\n");
    assert!(fs::symlink_metadata(dir.path().join("20120807-0130.jsonl")).is_ok());
    assert!(!outside.path().join("victim.gz").exists());
    // The minute with a directory in place of its copy stays uncompressed and whole.
    assert_eq!(
        fs::read(dir.path().join("20120807-0133.jsonl")).expect("read"),
        two_records().as_bytes()
    );
}
