//! Helpers shared by the end-to-end tests: starting `peerscope serve`, and reading back
//! what a log directory holds.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `peerscope serve` on `listen` with a log directory; returns the child and the
/// address it reports (port 0 picks a free one).
pub fn spawn_serve(
    dir: &Path,
    listen: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerscope"));
    cmd.args(["serve", "--listen", listen, "--log-dir"])
        .arg(dir)
        .args(extra)
        .env_remove("PEERSCOPE_TOKEN")
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    start_serve(cmd)
}

/// Spawns a prepared `serve` command (stderr piped) and waits for the address it reports.
pub fn start_serve(mut cmd: Command) -> (Child, String) {
    let mut child = cmd.stderr(Stdio::piped()).spawn().expect("start serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    // Start-up recovery may report first; the address line follows.
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on "))
        .expect("the server reports its address");
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    let addr = first
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("an address")
        .to_owned();
    (child, addr)
}

/// Every logged (peer, seq) of a log directory, asserting that each line parses and
/// each closed minute is valid gzip.
pub fn logged(dir: &Path) -> Vec<(String, u64)> {
    let rec = peerscope::recording::scan::Recording::scan(dir).expect("scan");
    let mut out = Vec::new();
    for g in &rec.feedback {
        for f in &g.files {
            let text = peerscope::recording::decode::read_minute_file(f);
            assert!(
                text.damage.is_none(),
                "{}: {:?}",
                f.path.display(),
                text.damage
            );
            for (n, line) in peerscope::recording::decode::lines(&text.bytes) {
                let r = peerscope::engine::record::parse_feedback(
                    line,
                    peerscope::engine::record::Origin::Log,
                )
                .unwrap_or_else(|e| panic!("{}:{n}: {e}", f.path.display()));
                out.push((r.peer.into_owned(), r.seq));
            }
        }
    }
    out
}
