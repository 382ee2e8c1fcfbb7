//! The TUI in a real terminal: `peerscope replay` under a detached tmux session, driven
//! with send-keys and read back with capture-pane after each step. Needs tmux (`.ci/run`
//! installs it).

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::require;
use common::tmux::Tmux;

/// The clock shown in the status bar, as "YYYY-MM-DD HH:MM:SS".
fn clock_of(bar: &str) -> Option<String> {
    let i = bar.find("2012-")?;
    bar.get(i..i + 19).map(str::to_owned)
}

fn seconds(clock: &str) -> i64 {
    let t = chrono::NaiveDateTime::parse_from_str(clock, "%Y-%m-%d %H:%M:%S").expect("clock");
    t.and_utc().timestamp()
}

#[test]
#[ignore = "needs tmux (apt-get install tmux; .ci/run installs it and runs it): cargo test -- --ignored"]
fn replay_in_tmux_switches_views_filters_pauses_seeks_and_quits_cleanly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let exit_file = tmp.path().join("exit");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let command = format!(
        "cd {} && {} replay recordings/olympics-2012-sample --speed 60 --export-dir {}; echo $? > {}; sleep 30",
        root.display(),
        env!("CARGO_BIN_EXE_peerscope"),
        tmp.path().display(),
        exit_file.display()
    );
    let tmux = Tmux::start("test", &command, 100, 30);

    // Overview, with the clock running.
    let s = tmux.wait_for("the overview", |s| {
        s.contains("1 Overview") && s.contains("online")
    });
    assert!(s.contains("REPLAY ×60"), "{s}");
    tmux.keys(&["2"]);
    tmux.wait_for("the timeline", |s| s.contains("online peers · 1 h"));
    // The time cursor reads every figure at its point; Esc hides it.
    tmux.keys(&["l"]);
    tmux.wait_for("the cursor's readout", |s| {
        s.lines()
            .any(|l| l.starts_with('▏') && l.contains("online"))
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the cursor hidden", |s| {
        !s.lines().any(|l| l.starts_with('▏'))
    });
    tmux.keys(&["3"]);
    tmux.wait_for("the histogram", |s| s.contains("QoE (MOS) across"));

    // Filter panel: select the second ISP, close; the status bar shows it.
    tmux.keys(&["1", "f"]);
    tmux.wait_for("the filter panel", |s| s.contains("filter · Space select"));
    tmux.keys(&["j", "Space"]);
    tmux.wait_for("a selected ISP", |s| s.contains("[x]"));
    tmux.keys(&["Escape"]);
    let s = tmux.wait_for("the filter in the status bar", |s| {
        !s.contains("filter · Space select") && s.contains("isp=")
    });
    assert!(!s.contains("no filter"), "{s}");

    // Pause, then seek: exactly one hour forward, and a typed time.
    tmux.keys(&["Space"]);
    tmux.wait_for("PAUSED", |s| s.contains("PAUSED"));
    let before = clock_of(&tmux.status_bar()).expect("a clock");
    tmux.keys(&["]"]);
    let after = tmux.wait_for("the clock to move an hour", |s| {
        clock_of(s.lines().rev().find(|l| l.contains("2012-")).unwrap_or(""))
            .is_some_and(|c| seconds(&c) == seconds(&before) + 3600)
    });
    assert!(after.contains("PAUSED"), "{after}");
    // A full time, a time of the clock's day, a step back (18.12: only the first was read).
    for (typed, lands) in [
        ("2012-08-07 10:05", "2012-08-07 10:05:00"),
        ("09:30", "2012-08-07 09:30:00"),
        ("-15m", "2012-08-07 09:15:00"),
    ] {
        tmux.keys(&["g"]);
        tmux.wait_for("the go-to prompt", |s| {
            s.contains("go to:") && s.contains("09:30, 2012-08-07 09:30, -15m or +2h")
        });
        for c in typed.chars() {
            let key = c.to_string();
            tmux.keys(&[if c == ' ' { "Space" } else { &key }]);
        }
        tmux.keys(&["Enter"]);
        tmux.wait_for(lands, |s| s.contains(lands));
    }

    // Help from the key table: a key it does not use leaves it open, PgDn scrolls to
    // its last bindings where the terminal is short, Esc closes it; then clear the
    // filter; export.
    tmux.keys(&["?"]);
    tmux.wait_for("the help", |s| {
        s.contains("this help") && s.contains("pause / resume")
    });
    tmux.keys(&["x", "NPage", "NPage", "NPage"]);
    tmux.wait_for("the help's last page", |s| s.contains("close this help"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("the help to close", |s| !s.contains("this help"));
    tmux.keys(&["c"]);
    tmux.wait_for("no filter", |s| s.contains("no filter"));
    tmux.keys(&["e"]);
    tmux.wait_for("the export message", |s| s.contains("exported"));
    let exports: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("dir")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("peerscope-overview-")
        })
        .collect();
    assert_eq!(exports.len(), 1);
    let csv = std::fs::read_to_string(exports[0].path()).expect("csv");
    assert!(
        csv.starts_with("section,name,metric,value\nkpi,all,online peers,"),
        "{csv}"
    );

    // Views 4 and 5: select a district, Enter filters to it, the Overview changes.
    let online = |s: &str| -> i64 {
        let mut lines = s.lines().skip_while(|l| !l.starts_with("┌online"));
        lines
            .nth(1)
            .and_then(|l| {
                l.trim_start_matches('│')
                    .split_whitespace()
                    .next()
                    .map(str::to_owned)
            })
            .and_then(|v| v.replace(',', "").parse().ok())
            .unwrap_or(-1)
    };
    tmux.keys(&["1"]);
    let whole = online(&tmux.wait_for("the overview", |s| s.contains("┌online")));
    assert!(whole > 0);
    tmux.keys(&["4"]);
    tmux.wait_for("the district map", |s| {
        s.contains("by district") && s.contains("Ranked")
    });
    tmux.keys(&["j", "Enter"]);
    tmux.wait_for("the district filter", |s| s.contains("district="));
    tmux.keys(&["1"]);
    let part = online(&tmux.wait_for("the filtered overview", |s| s.contains("┌online")));
    assert!(
        part >= 0 && part < whole,
        "online {whole} → {part} under the district filter"
    );
    tmux.keys(&["5"]);
    tmux.wait_for("the area map", |s| s.contains("by area (38 of equal land)"));
    tmux.keys(&["c"]);
    tmux.wait_for("no filter", |s| s.contains("no filter"));

    // View 6 after the cable repair at 10:20: the matrix, the route changes, one
    // destination's probe × time heatmap, the next metric, back, export.
    tmux.keys(&["g"]);
    for c in "2012-08-07 10:40".chars() {
        let key = c.to_string();
        tmux.keys(&[if c == ' ' { "Space" } else { &key }]);
    }
    tmux.keys(&["Enter", "6"]);
    tmux.wait_for("the probe matrix with the repair", |s| {
        s.contains("RTT ms · latest round vs other probes")
            && s.contains("Route changes (1 · 8 events)")
    });
    tmux.keys(&["b"]);
    tmux.wait_for("the paths against their own usual", |s| {
        s.contains("RTT ms · latest round vs its usual")
    });
    tmux.keys(&["b"]);
    tmux.keys(&["j", "Enter"]);
    tmux.wait_for("the probe × time heatmap", |s| {
        s.contains("cuhk · HKIX · RTT ms over") && s.contains("darker = larger")
    });
    tmux.keys(&["m"]);
    tmux.wait_for("the next metric", |s| {
        s.contains("cuhk · HKIX · loss fwd %")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the matrix again", |s| {
        s.contains("loss fwd % · latest round vs other probes")
    });
    tmux.keys(&["e"]);
    tmux.wait_for("the probe export", |s| s.contains("exported"));
    let probes_csv = std::fs::read_dir(tmp.path())
        .expect("dir")
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("peerscope-probes-")
        })
        .map(|e| std::fs::read_to_string(e.path()).expect("csv"))
        .expect("a probes export");
    assert!(
        probes_csv.starts_with("section,time,dest,group,probe,metric,value,detail\nlatest,"),
        "{probes_csv}"
    );
    assert_eq!(probes_csv.matches("\nroute_change,").count(), 8);

    // Quit: exit status 0 and the terminal is back (no alternate screen).
    tmux.keys(&["q"]);
    tmux.exited_cleanly(&exit_file, "q");
    assert!(
        !tmux.screen().contains("1 Overview"),
        "the TUI is still on screen"
    );
}

#[test]
#[ignore = "needs tmux (apt-get install tmux; .ci/run installs it and runs it): cargo test -- --ignored"]
fn sigterm_restores_the_terminal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let exit_file = tmp.path().join("exit");
    // A unique argument, to find this process and no other.
    let marker = tmp.path().join("exports");
    std::fs::create_dir_all(&marker).expect("dir");
    let command = format!(
        "cd {} && {} replay recordings/olympics-2012-sample --export-dir {}; echo $? > {}; sleep 30",
        env!("CARGO_MANIFEST_DIR"),
        env!("CARGO_BIN_EXE_peerscope"),
        marker.display(),
        exit_file.display()
    );
    let tmux = Tmux::start("term", &command, 100, 30);
    tmux.wait_for("the overview", |s| s.contains("1 Overview"));
    // Anchored on the binary, so the shell around it (whose command line holds the
    // same words) is left alone to write the exit status.
    let pattern = format!(
        "^{} replay .*{}",
        env!("CARGO_BIN_EXE_peerscope"),
        marker.display()
    );
    let killed = Command::new("pkill")
        .args(["-TERM", "-f", &pattern])
        .status()
        .expect("pkill");
    assert!(killed.success());
    tmux.exited_cleanly(&exit_file, "SIGTERM");
}

/// Issue 18.1: at the fastest speed the clock never stalls — after a pause, after a seek
/// back — and the status bar says when the recording has ended.
#[test]
#[ignore = "needs tmux (apt-get install tmux; .ci/run installs it and runs it): cargo test -- --ignored"]
fn issue18_1_the_fastest_speed_never_stalls_and_the_end_is_announced() {
    require(
        Command::new("tmux").arg("-V").output().is_ok(),
        "tmux (apt-get install tmux)",
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmux = Tmux {
        socket: format!("peerscope-fastest-{}", std::process::id()),
    };
    let command = format!(
        "cd {} && {} replay recordings/olympics-2012-sample --speed 3600; sleep 30",
        root.display(),
        env!("CARGO_BIN_EXE_peerscope"),
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "ps",
        "-x",
        "120",
        "-y",
        "30",
        &command,
    ]);
    assert!(out.status.success(), "tmux new-session: {out:?}");
    tmux.wait_for("the overview", |s| s.contains("REPLAY ×3600"));
    // Paused first, then to the fastest speed, then unpaused: the frame for the clock
    // is already in, and the clock must move anyway.
    tmux.keys(&["Space"]);
    tmux.wait_for("the pause", |s| s.contains("PAUSED"));
    tmux.keys(&[">", ">", ">", ">"]);
    tmux.keys(&["Space"]);
    let s = tmux.wait_for("the end of the recording", |s| s.contains(" END "));
    assert!(
        clock_of(&tmux.status_bar()).is_some_and(|c| c.ends_with("11:00:00")),
        "{s}"
    );
    // Back an hour: it runs to the end again, with no key pressed.
    tmux.keys(&["["]);
    tmux.wait_for("the clock to leave the end", |s| !s.contains(" END "));
    tmux.keys(&["Space"]);
    tmux.wait_for("the end, again", |s| s.contains(" END "));
    tmux.keys(&["q"]);
}

/// Issue 17: the injected fault's alert says where it is; view 7 names the place, and
/// Enter filters every view to it.
#[test]
#[ignore = "needs tmux (apt-get install tmux; .ci/run installs it and runs it): cargo test -- --ignored"]
fn issue17_alert_then_explain_then_enter_filters() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let command = format!(
        "cd {} && {} replay recordings/olympics-2012-sample --from '2012-08-07 09:12' --metric continuity; sleep 30",
        root.display(),
        env!("CARGO_BIN_EXE_peerscope"),
    );
    let tmux = Tmux::start("explain", &command, 100, 30);
    tmux.wait_for("the overview", |s| s.contains("1 Overview"));
    tmux.keys(&["Space"]);
    tmux.wait_for("the fault's alert, explained", |s| {
        s.contains("PAUSED") && s.contains("% PCCW × main")
    });
    tmux.keys(&["7"]);
    let s = tmux.wait_for("view 7", |s| {
        s.contains("continuity · window 1 min") && s.contains("the cause is 1 place")
    });
    assert!(s.contains("▸ PCCW × main"), "{s}");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("the filter", |s| s.contains("filtered to PCCW × main"));
    tmux.keys(&["1"]);
    let s2 = tmux.wait_for("the overview, filtered", |s| {
        s.contains("1 Overview") && s.contains("isp=PCCW") && s.contains("channel=main")
    });
    assert!(!s2.contains("no filter"), "{s}\n{s2}");
    tmux.keys(&["q"]);
}
