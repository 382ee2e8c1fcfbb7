//! The shipped recording is exactly what its documented command writes: the simulator is
//! deterministic and `recordings/README.md` tells the truth.

use std::path::Path;
use std::process::Command;

fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("list").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_documented_command_reproduces_the_sample_byte_for_byte() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("recordings/README.md")).expect("README");
    assert!(readme.contains("--scale 0.1 --malformed 0.0002 --gzip-level 9"));
    // The injected fault whose explanation the README walks through.
    let fault = "isp=PCCW,channel=main,from=2012-08-07 09:05,minutes=15,stall=0.25";
    assert!(readme.contains(&format!("--fault \"{fault}\"")));
    let out = tempfile::tempdir().expect("tempdir");
    let status = Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .current_dir(repo)
        .args(["simulate", "--out"])
        .arg(out.path())
        .args([
            "--from",
            "2012-08-07 08:00",
            "--to",
            "2012-08-07 11:00",
            "--scale",
            "0.1",
        ])
        .args([
            "--malformed",
            "0.0002",
            "--gzip-level",
            "9",
            "--fault",
            fault,
        ])
        .status()
        .expect("run simulate");
    assert!(status.success());
    let made = files(out.path());
    let shipped = files(&repo.join("recordings/olympics-2012-sample"));
    assert_eq!(made.len(), shipped.len());
    for ((a, x), (b, y)) in made.iter().zip(&shipped) {
        assert_eq!(a, b);
        assert!(x == y, "{a} differs");
    }
}
