use super::*;
use std::io::Write;
use std::sync::atomic::AtomicI64;

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

const T0: i64 = 1_344_303_000_000; // 2012-08-07 01:30 UTC

fn writer(root: &Path, fsync: Fsync, clock: Arc<ManualClock>) -> LogWriter {
    LogWriter::start(WriterConfig {
        root: root.to_path_buf(),
        stream: Stream::Feedback,
        fsync,
        gzip_level: 1,
        clock,
        compress_retry: Duration::from_millis(50),
    })
    .expect("start")
}

fn line(i: u64, recv: i64) -> Vec<u8> {
    format!("{{\"seq\":{i},\"recv\":{recv}}}\n").into_bytes()
}

fn all_lines(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let rec = crate::recording::scan::Recording::scan(root).expect("scan");
    for g in &rec.feedback {
        for f in &g.files {
            let t = crate::recording::decode::read_minute_file(f);
            assert!(t.damage.is_none(), "{}: {:?}", f.path.display(), t.damage);
            out.extend(
                String::from_utf8(t.bytes)
                    .expect("utf8")
                    .lines()
                    .map(str::to_owned),
            );
        }
    }
    out
}

#[test]
fn concurrent_appends_are_all_stored_once_and_share_fsyncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    let w = Arc::new(writer(dir.path(), Fsync::Batch, Arc::clone(&clock)));
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let w = Arc::clone(&w);
            std::thread::spawn(move || {
                for i in 0..200u64 {
                    w.append(line(t * 1000 + i, T0), 1, T0).expect("stored");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("producer");
    }
    let stats = &w.stats;
    assert_eq!(stats.records.load(Ordering::Relaxed), 1600);
    // Batch mode: every group is made durable by exactly one fsync before its answers.
    assert_eq!(
        stats.fsyncs.load(Ordering::Relaxed),
        stats.groups.load(Ordering::Relaxed)
    );
    let w = Arc::into_inner(w).expect("sole owner");
    w.shutdown();
    let mut got = all_lines(dir.path());
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 1600);
}

#[test]
fn minutes_roll_over_and_closed_ones_are_compressed_never_reopened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    let w = writer(dir.path(), Fsync::Batch, Arc::clone(&clock));
    w.append(line(1, T0 + 5), 1, T0).expect("stored");
    clock.0.store(T0 + MINUTE_MS + 1, Ordering::SeqCst);
    w.append(line(2, T0 + MINUTE_MS + 1), 1, T0 + MINUTE_MS)
        .expect("stored");
    // The clock steps back two minutes: the record goes into the open minute, late.
    clock.0.store(T0 - MINUTE_MS, Ordering::SeqCst);
    w.append(line(3, T0 - MINUTE_MS), 1, T0 - MINUTE_MS)
        .expect("stored");
    assert_eq!(w.stats.late_records.load(Ordering::Relaxed), 1);
    w.shutdown();
    let day = dir.path().join("feedback/20120807");
    let mut names: Vec<String> = std::fs::read_dir(&day)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["20120807-0130.jsonl.gz", "20120807-0131.jsonl"]);
    let open = std::fs::read_to_string(day.join("20120807-0131.jsonl")).expect("read");
    assert_eq!(open.lines().count(), 2, "{open}");
    assert_eq!(all_lines(dir.path()).len(), 3);
}

#[test]
fn a_restart_in_the_same_minute_repairs_and_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    let w = writer(dir.path(), Fsync::Batch, Arc::clone(&clock));
    w.append(line(1, T0), 1, T0).expect("stored");
    w.shutdown();
    // A crash tore a half record onto the end.
    let path = layout::minute_path(dir.path(), Stream::Feedback, T0);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    f.write_all(b"{\"seq\":2,\"re").expect("tear");
    drop(f);
    let w = writer(
        dir.path(),
        Fsync::Interval(Duration::from_millis(50)),
        clock,
    );
    w.append(line(3, T0), 1, T0).expect("stored");
    w.shutdown();
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "{\"seq\":1,\"recv\":1344303000000}\n{\"seq\":3,\"recv\":1344303000000}\n"
    );
}

#[test]
fn a_compressed_minute_is_never_written_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    let w = writer(dir.path(), Fsync::Batch, Arc::clone(&clock));
    w.append(line(1, T0), 1, T0).expect("stored");
    clock.0.store(T0 + MINUTE_MS, Ordering::SeqCst);
    w.append(line(2, T0 + MINUTE_MS), 1, T0 + MINUTE_MS)
        .expect("stored");
    w.shutdown();
    // Restart with the clock an hour behind: 01:30 is closed, 01:31 still open.
    let w = writer(dir.path(), Fsync::Batch, clock);
    w.append(line(3, T0), 1, T0).expect("stored");
    w.shutdown();
    let day = dir.path().join("feedback/20120807");
    assert!(
        !day.join("20120807-0130.jsonl").exists(),
        "a closed minute was reopened"
    );
    assert_eq!(
        std::fs::read_to_string(day.join("20120807-0131.jsonl"))
            .expect("read")
            .lines()
            .count(),
        2
    );
    assert_eq!(all_lines(dir.path()).len(), 3);
}

#[test]
fn tail_waiters_hear_of_each_stored_group_and_not_of_a_failed_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    let w = writer(dir.path(), Fsync::Batch, clock);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let heard = |minute: i64| {
        // Created before the append, as the tail handler does before it reads the file.
        let appended = w.appended.notified();
        let stored = w.append(line(1, minute), 1, minute);
        let heard = runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(300), appended)
                .await
                .is_ok()
        });
        (stored.is_ok(), heard)
    };
    assert_eq!(heard(T0), (true, true));
    // The next minute's file cannot be created: the group fails and nobody is told.
    std::fs::remove_dir_all(dir.path()).expect("remove");
    std::fs::write(dir.path(), b"not a directory").expect("block the path");
    assert_eq!(heard(T0 + MINUTE_MS), (false, false));
    std::fs::remove_file(dir.path()).expect("clean up");
}

#[test]
fn a_failed_compression_is_counted_and_retried_until_it_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    let w = writer(dir.path(), Fsync::Batch, Arc::clone(&clock));
    w.append(line(1, T0), 1, T0).expect("stored");
    // Something the compressor cannot clear stands where its temporary goes, as a full
    // disk would stop it: the minute stays uncompressed, the failure is counted.
    let day = dir.path().join("feedback/20120807");
    let blocker = day.join("20120807-0130.jsonl.gz.tmp");
    std::fs::create_dir(&blocker).expect("block");
    clock.0.store(T0 + MINUTE_MS, Ordering::SeqCst);
    w.append(line(2, T0 + MINUTE_MS), 1, T0 + MINUTE_MS)
        .expect("stored");
    let until = Instant::now() + Duration::from_secs(10);
    while w.stats.compress_failures.load(Ordering::Relaxed) < 2 {
        assert!(Instant::now() < until, "no failed attempt counted");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(day.join("20120807-0130.jsonl").exists());
    assert_eq!(w.stats.uncompressed_closed.load(Ordering::Relaxed), 1);
    // Space returns: the next retry compresses it, with no restart.
    std::fs::remove_dir(&blocker).expect("unblock");
    while day.join("20120807-0130.jsonl").exists() {
        assert!(Instant::now() < until, "never retried");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(day.join("20120807-0130.jsonl.gz").exists());
    w.shutdown();
    assert_eq!(all_lines(dir.path()).len(), 2);
}

#[test]
fn a_link_where_the_minute_goes_is_refused_and_nothing_outside_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("write");
    let day = dir.path().join("feedback/20120807");
    std::fs::create_dir_all(&day).expect("mkdir");
    std::os::unix::fs::symlink(&victim, day.join("20120807-0130.jsonl")).expect("link");
    // And a day directory that is a link, for the next day.
    std::os::unix::fs::symlink(outside.path(), dir.path().join("feedback/20120808")).expect("link");
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    let w = writer(dir.path(), Fsync::Batch, Arc::clone(&clock));
    let err = w.append(line(1, T0), 1, T0).expect_err("refused");
    assert!(err.0.contains("symbolic link"), "{err}");
    let next_day = T0 + 24 * 60 * MINUTE_MS;
    clock.0.store(next_day, Ordering::SeqCst);
    assert!(w.append(line(2, next_day), 1, next_day).is_err());
    assert_eq!(w.stats.write_errors.load(Ordering::Relaxed), 2);
    w.shutdown();
    assert_eq!(std::fs::read(&victim).expect("read"), b"precious\n");
    assert_eq!(std::fs::read_dir(outside.path()).expect("list").count(), 1);
}
