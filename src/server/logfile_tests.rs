use super::*;

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
        let r = repair_tail(&path).expect("repair");
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
        assert_eq!(repair_tail(&path).expect("again").dropped_bytes, 0);
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
        repair_tail(&path).expect("repair");
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
        let jsonl = dir.path().join("20120807-0130.jsonl");
        fs::write(&jsonl, two_records()).expect("write");
        compress_minute(&jsonl, 6, Some(step)).expect("compress until the crash");
        let r = recover_dir(dir.path(), None, 6).expect("recover");
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
            gz_holds(&gz_path(&jsonl), two_records().as_bytes()),
            "{step:?}"
        );
        // A second recovery changes nothing.
        assert_eq!(
            recover_dir(dir.path(), None, 6).expect("again"),
            Recovery::default()
        );
    }
}

#[test]
fn a_half_written_gz_beside_its_original_is_redone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jsonl = dir.path().join("20120807-0130.jsonl");
    fs::write(&jsonl, two_records()).expect("write");
    compress_minute(&jsonl, 6, Some(Step::Rename)).expect("compress");
    let gz = gz_path(&jsonl);
    let bytes = fs::read(&gz).expect("read");
    fs::write(&gz, &bytes[..bytes.len() / 2]).expect("truncate");
    let r = recover_dir(dir.path(), None, 6).expect("recover");
    assert_eq!(r.removed_bad_gz, vec![gz.clone()]);
    assert!(gz_holds(&gz, two_records().as_bytes()));
    assert!(!jsonl.exists());
}

#[test]
fn the_open_minute_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = dir.path().join("20120807-0131.jsonl");
    fs::write(&open, record(3)).expect("write");
    let r = recover_dir(dir.path(), Some(&open), 6).expect("recover");
    assert_eq!(r, Recovery::default());
    assert!(open.exists());
}

#[test]
fn minute_paths_follow_the_layout() {
    let p = minute_path(Path::new("/logs"), "feedback", 1_344_303_000_000);
    assert_eq!(p, Path::new("/logs/feedback/20120807/20120807-0130.jsonl"));
}
