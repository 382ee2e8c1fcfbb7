//! The wall clock under `faketime`: the process runs with libfaketime preloaded and reads
//! its offset from a file the test rewrites, so the test steps the clock back and
//! forward, or through minute boundaries, while requests flow. Only the wall clock is
//! faked: timers and long-poll waits use the monotonic clock.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::require;

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// The offset file libfaketime reads on every clock call.
pub struct FakeClock(PathBuf);

impl FakeClock {
    /// A clock file in `dir` at offset 0.
    pub fn new(dir: &Path) -> FakeClock {
        require(
            Path::new(LIBFAKETIME).exists(),
            "libfaketime (apt-get install faketime)",
        );
        let clock = FakeClock(dir.join("clock"));
        clock.set(0);
        clock
    }

    /// Runs `cmd` on this clock.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("LD_PRELOAD", LIBFAKETIME)
            .env("FAKETIME_TIMESTAMP_FILE", &self.0)
            .env("FAKETIME_NO_CACHE", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    }

    /// Puts the clock `offset_s` seconds from the real one.
    pub fn set(&self, offset_s: i64) {
        // Written whole and renamed: the server must never read a half-written offset.
        let tmp = self.0.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).expect("clock file");
        writeln!(f, "{offset_s:+}s").expect("write clock");
        std::fs::rename(&tmp, &self.0).expect("rename clock");
    }
}
