//! `replay --snapshot` through the recording's index: a frame drawn while the index is
//! built, one drawn from the kept index (first appearances, alerts, the probe book's
//! copies), and one drawn with no index kept at all are the same frame, byte for byte,
//! at moments across a two-day recording (the probe book is copied every six hours, so
//! the later moments start from a copy).

use std::path::Path;
use std::process::Command;

mod common;

struct Run {
    stdout: String,
    stderr: String,
}

/// A snapshot with the index kept in `cache`, or with no cache at all.
fn snapshot(dir: &Path, cache: Option<&Path>, view: &str, at: &str) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerscope"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("replay")
        .arg(dir)
        .args(["--snapshot", view, "--at", at, "--size", "160x48"]);
    match cache {
        Some(cache) => cmd.env("XDG_CACHE_HOME", cache),
        None => cmd.env_remove("XDG_CACHE_HOME").env_remove("HOME"),
    };
    let out = cmd.output().expect("run peerscope");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "replay {view} at {at}: {stderr}");
    Run {
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr,
    }
}

#[test]
fn a_frame_is_the_same_built_kept_or_without_an_index() {
    let rec = common::simulate(7, "2012-08-06 00:00", "2012-08-08 00:00");
    let cache = tempfile::tempdir().expect("tempdir");

    let built = snapshot(
        rec.path(),
        Some(cache.path()),
        "overview",
        "2012-08-07 21:30",
    );
    assert!(
        built.stderr.contains("indexed the recording in"),
        "{}",
        built.stderr
    );
    let kept_files: Vec<String> = std::fs::read_dir(cache.path().join("peerscope/index"))
        .expect("the index directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        kept_files.iter().any(|f| f.ends_with(".probes")),
        "the probe book's copies are kept: {kept_files:?}"
    );
    let causes = kept_files
        .iter()
        .find(|f| f.ends_with(".causes"))
        .unwrap_or_else(|| panic!("the alerts' explanations are kept: {kept_files:?}"));
    let causes = cache.path().join("peerscope/index").join(causes);
    let kept_causes = std::fs::read_to_string(&causes).expect("kept explanations");
    assert!(kept_causes.contains("\"lines\":[[["), "{kept_causes}");
    for (view, at) in [
        ("overview", "2012-08-07 21:30"),
        ("probes", "2012-08-07 21:30"),
        ("probes", "2012-08-06 05:59"),
        ("probes", "2012-08-07 23:59"),
        ("timeline", "2012-08-06 20:00"),
    ] {
        let kept = snapshot(rec.path(), Some(cache.path()), view, at);
        assert!(
            !kept.stderr.contains("indexed"),
            "the kept index is used: {}",
            kept.stderr
        );
        let without = snapshot(rec.path(), None, view, at);
        assert!(
            without.stderr.contains("the recording's index is not kept"),
            "{}",
            without.stderr
        );
        assert_eq!(kept.stdout, without.stdout, "{view} at {at}");
        if (view, at) == ("overview", "2012-08-07 21:30") {
            assert_eq!(kept.stdout, built.stdout);
        }
    }

    // Kept explanations that were tampered with are set aside and worked out again.
    std::fs::write(&causes, kept_causes.replacen("],\"", "],\"tampered ", 1)).expect("tamper");
    let again = snapshot(
        rec.path(),
        Some(cache.path()),
        "overview",
        "2012-08-07 21:30",
    );
    assert_eq!(again.stdout, built.stdout);
    assert_eq!(
        std::fs::read_to_string(&causes).expect("rewritten"),
        kept_causes
    );
}
