//! The TUI in a real terminal: a command under a detached tmux session of its own,
//! driven with send-keys and read back with capture-pane.

use std::process::Command;
use std::time::{Duration, Instant};

use super::require;

/// A tmux server of our own (its own socket), killed when dropped.
pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    /// A detached session `ps` of `width` × `height` running `command` under its own
    /// tmux server (named after `name` and this process).
    pub fn start(name: &str, command: &str, width: u16, height: u16) -> Tmux {
        require(
            Command::new("tmux").arg("-V").output().is_ok(),
            "tmux (apt-get install tmux)",
        );
        let tmux = Tmux {
            socket: format!("peerscope-{name}-{}", std::process::id()),
        };
        let (w, h) = (width.to_string(), height.to_string());
        let out = tmux.cmd(&["new-session", "-d", "-s", "ps", "-x", &w, "-y", &h, command]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tmux
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux")
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.cmd(&["send-keys", "-t", "ps", k]);
            assert!(out.status.success(), "send-keys {k}");
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "ps"]).stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok`; returns it.
    pub fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// After `how` (a key, a signal): replay wrote exit status 0 to `exit_file` and the
    /// pane is off the alternate screen, the terminal restored.
    pub fn exited_cleanly(&self, exit_file: &std::path::Path, how: &str) {
        let until = Instant::now() + Duration::from_secs(10);
        while !exit_file.exists() {
            assert!(Instant::now() < until, "replay did not stop on {how}");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            std::fs::read_to_string(exit_file).expect("exit").trim(),
            "0"
        );
        let alt = self.cmd(&["display-message", "-p", "-t", "ps", "#{alternate_on}"]);
        assert_eq!(
            String::from_utf8_lossy(&alt.stdout).trim(),
            "0",
            "still on the alternate screen after {how}"
        );
    }

    pub fn status_bar(&self) -> String {
        self.screen()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}
