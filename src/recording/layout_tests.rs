use super::*;
use std::os::unix::fs::symlink;

#[test]
fn names_and_paths_follow_the_layout() {
    assert_eq!(minute_of_stem("20120807-0130"), Some(1_344_303_000_000));
    for bad in [
        "20120807-2460",
        "2012080-01300",
        "20120807_0130",
        "2012080x-0130",
        "+2012087-0130",
        "20120807-013",
    ] {
        assert_eq!(minute_of_stem(bad), None, "{bad}");
    }
    assert_eq!(minute_stem(1_344_303_000_000 + 59_999), "20120807-0130");
    assert_eq!(
        minute_path(Path::new("/logs"), Stream::Feedback, 1_344_303_000_000),
        Path::new("/logs/feedback/20120807/20120807-0130.jsonl")
    );
    assert_eq!(file_name(1_344_303_000_000, true), "20120807-0130.jsonl.gz");
    assert!(is_day_name("20120807"));
    assert!(!is_day_name("20121307"));
    assert!(!is_day_name("2012080"));
    for bad in [
        "../x.jsonl",
        "20120807-0130.jsonl/..",
        "%2e%2e",
        "20120807-0130.json",
        "20120807-2561.jsonl",
        "/etc/passwd",
        "C:\\x.jsonl",
        "20120807-0130.jsonl\0",
        "20120807-0130.jsonl.gz.tmp",
    ] {
        assert_eq!(MinuteName::parse(bad), None, "{bad}");
    }
    let n = MinuteName::parse("20120807-0130.jsonl.gz").expect("valid");
    assert_eq!(
        (n.stem, n.day(), n.gzip),
        ("20120807-0130", "20120807", true)
    );
    assert_eq!(Stream::from_dir_name("probes"), Some(Stream::Probes));
    assert_eq!(Stream::from_dir_name("../feedback"), None);
}

#[test]
fn a_link_fifo_or_directory_is_never_opened_as_a_minute_file() {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("secret");
    std::fs::write(&secret, "secret\n").expect("write");
    let day = root.path().join("feedback/20120807");
    std::fs::create_dir_all(&day).expect("mkdir");
    symlink(&secret, day.join("20120807-0130.jsonl")).expect("symlink");
    mkfifo(&day.join("20120807-0131.jsonl"));
    std::fs::create_dir(day.join("20120807-0132.jsonl")).expect("mkdir");
    std::fs::write(day.join("20120807-0133.jsonl"), "{}\n").expect("write");

    for (name, what) in [
        ("20120807-0130.jsonl", Odd::Symlink),
        ("20120807-0131.jsonl", Odd::Fifo),
        ("20120807-0132.jsonl", Odd::Directory),
    ] {
        for access in [Access::Read, Access::Append, Access::Write] {
            let dir = TreeDir::open(root.path(), &["feedback", "20120807"], false).expect("day");
            let err = dir.open_file(name, access).expect_err(name);
            let odd = OddEntry::of_error(&err).unwrap_or_else(|| panic!("{name}: {err}"));
            assert_eq!((odd.what, odd.path.clone()), (what, day.join(name)));
            assert!(err.to_string().contains(name), "{err}");
        }
        let err = open_minute(root.path(), Stream::Feedback, name).expect_err(name);
        assert!(OddEntry::of_error(&err).is_some());
        let err = open_found(&day.join(name)).expect_err(name);
        assert_eq!(OddEntry::of_error(&err).map(|o| o.what), Some(what));
    }
    assert_eq!(std::fs::read(&secret).expect("read"), b"secret\n");
    assert!(open_minute(root.path(), Stream::Feedback, "20120807-0133.jsonl").is_ok());

    let listing = list_stream(root.path(), Stream::Feedback).expect("list");
    let names: Vec<&str> = listing.minutes.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["20120807-0133.jsonl"]);
    let mut odd: Vec<Odd> = listing.odd.iter().map(|o| o.what).collect();
    odd.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(odd, [Odd::Directory, Odd::Fifo, Odd::Symlink]);
}

#[test]
fn a_linked_day_or_stream_directory_is_not_entered() {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("20120807-0130.jsonl"), "{}\n").expect("write");
    std::fs::create_dir_all(root.path().join("feedback")).expect("mkdir");
    symlink(outside.path(), root.path().join("feedback/20120807")).expect("symlink");
    let listing = list_stream(root.path(), Stream::Feedback).expect("list");
    assert!(listing.minutes.is_empty());
    assert_eq!(listing.odd.len(), 1);
    assert_eq!(listing.odd[0].what, Odd::Symlink);
    let err = open_minute(root.path(), Stream::Feedback, "20120807-0130.jsonl").expect_err("link");
    assert_eq!(OddEntry::of_error(&err).map(|o| o.what), Some(Odd::Symlink));
    // Creating through it is refused too: the writer would otherwise write outside.
    let err = TreeDir::open(root.path(), &["feedback", "20120807"], true).expect_err("link");
    assert!(OddEntry::of_error(&err).is_some(), "{err}");

    let other = tempfile::tempdir().expect("tempdir");
    symlink(outside.path(), other.path().join("probes")).expect("symlink");
    let listing = list_stream(other.path(), Stream::Probes).expect("list");
    assert!(listing.minutes.is_empty());
    assert_eq!(listing.odd[0].what, Odd::Symlink);
}

#[test]
fn tree_directories_are_created_and_files_made_once() {
    let root = tempfile::tempdir().expect("tempdir");
    let day = TreeDir::open(root.path(), &["probes", "20120807"], true).expect("create");
    assert_eq!(day.path(), root.path().join("probes/20120807"));
    let name = "20120807-0130.jsonl";
    let mut f = day.open_file(name, Access::CreateNew).expect("new");
    std::io::Write::write_all(&mut f, b"{}\n").expect("write");
    assert!(day.open_file(name, Access::CreateNew).is_err());
    assert!(day.contains(name));
    day.rename(name, "20120807-0130.jsonl.gz").expect("rename");
    day.remove("20120807-0130.jsonl.gz").expect("remove");
    assert!(!day.contains(name));
    day.sync().expect("sync");
}

proptest::proptest! {
    /// The digit reader takes exactly the stems chrono's `%Y%m%d-%H%M` takes, as the
    /// same instant (ranges just past each field's bounds: 13th months, 32nd days,
    /// 24th hours, 60th minutes, February's 29th in and out of leap years).
    #[test]
    fn a_stem_reads_as_chrono_reads_it(
        year in 0u32..10_000,
        month in 0u32..14,
        day in 0u32..33,
        hour in 0u32..26,
        minute in 0u32..62,
    ) {
        let stem = format!("{year:04}{month:02}{day:02}-{hour:02}{minute:02}");
        let chrono = chrono::NaiveDateTime::parse_from_str(&stem, "%Y%m%d-%H%M")
            .ok()
            .map(|t| t.and_utc().timestamp() * 1000);
        proptest::prop_assert_eq!(minute_of_stem(&stem), chrono);
    }
}
