//! Retries and duplicates through the coordinator (RELIABILITY 5): simulate → a TCP
//! fault proxy → nginx (`deploy/nginx.conf`) → two `serve`, with one backend killed
//! midway. The proxy gives each new connection one of five behaviours in turn: pass,
//! `reset_peer` (the request reaches nginx, the client gets a TCP reset instead of the
//! answer), `timeout` (the answer is held past the client's timeout), `slow_close` (one
//! answer, then the connection lingers and closes), `slicer` (the request goes up in
//! 5-byte slices). nginx does not retry POSTs, so the client retries with the same
//! `seq`: afterwards the union of the logs holds every acknowledged record, and the
//! only duplicates are those retries can explain.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod common;
use common::spawn_serve;

#[derive(Debug, Clone, Copy)]
enum Fault {
    Pass,
    ResetPeer,
    Timeout,
    SlowClose,
    Slicer,
}

const FAULTS: [Fault; 5] = [
    Fault::Pass,
    Fault::ResetPeer,
    Fault::Timeout,
    Fault::SlowClose,
    Fault::Slicer,
];

/// Connections that got each fault.
#[derive(Default)]
struct Injected([AtomicU64; 5]);

fn pump(mut from: TcpStream, mut to: TcpStream, slices: bool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let sent = if slices {
            buf[..n].chunks(5).try_for_each(|c| {
                std::thread::sleep(Duration::from_micros(200));
                to.write_all(c)
            })
        } else {
            to.write_all(&buf[..n])
        };
        if sent.is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

fn handle(client: TcpStream, upstream: &str, fault: Fault) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let slicing = matches!(fault, Fault::Slicer);
    std::thread::spawn(move || pump(c2, s2, slicing));
    let mut server = server;
    let mut client = client;
    match fault {
        Fault::Pass | Fault::Slicer => pump(server, client, false),
        Fault::ResetPeer => {
            // Wait for nginx's answer (the records are stored), then reset the client.
            let mut buf = [0u8; 4096];
            let _ = server.read(&mut buf);
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            drop(client);
        }
        Fault::Timeout => {
            let mut buf = [0u8; 4096];
            let _ = server.read(&mut buf);
            std::thread::sleep(Duration::from_millis(1500));
        }
        Fault::SlowClose => {
            let mut buf = [0u8; 4096];
            if let Ok(n) = server.read(&mut buf) {
                let _ = client.write_all(&buf[..n]);
            }
            std::thread::sleep(Duration::from_millis(300));
            let _ = client.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Starts the proxy in front of `upstream`; returns its address.
fn fault_proxy(upstream: String, injected: Arc<Injected>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { continue };
            let fault = FAULTS[n % FAULTS.len()];
            injected.0[n % FAULTS.len()].fetch_add(1, Ordering::Relaxed);
            let upstream = upstream.clone();
            std::thread::spawn(move || handle(client, &upstream, fault));
        }
    });
    addr
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light; .ci/run installs it and runs it): cargo test -- --ignored"]
fn faults_between_client_and_coordinator_lose_nothing_and_duplicate_only_retries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (logs1, logs2) = (tmp.path().join("fs1"), tmp.path().join("fs2"));
    let proxy_args = |name: &'static str| ["--trusted-proxy", "127.0.0.1", "--name", name];
    let (mut s1, a1) = spawn_serve(&logs1, "127.0.0.1:0", &proxy_args("fs1"), &[]);
    let (mut s2, a2) = spawn_serve(&logs2, "127.0.0.1:0", &proxy_args("fs2"), &[]);
    let (_nginx, port) = common::nginx::start(tmp.path(), [&a1, &a2], "");
    let injected = Arc::new(Injected::default());
    let proxy = fault_proxy(format!("127.0.0.1:{port}"), Arc::clone(&injected));

    let acked_path = tmp.path().join("acked.txt");
    let sim = std::process::Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["simulate", "--target", &format!("http://{proxy}")])
        .args([
            "--from",
            "2012-08-07 09:25",
            "--to",
            "2012-08-07 09:40",
            "--scale",
            "0.05",
        ])
        .args(["--rate", "1500", "--batch", "5", "--concurrency", "8"])
        .args(["--retries", "10", "--timeout-ms", "1000", "--acked"])
        .arg(&acked_path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("simulate");
    std::thread::sleep(Duration::from_secs(2));
    let _ = s2.kill(); // a backend dies mid-run
    let _ = s2.wait();
    let out = sim.wait_with_output().expect("simulate");
    let report = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "simulate failed: {report}");
    let _ = s1.kill();
    let _ = s1.wait();

    let counts: Vec<u64> = injected
        .0
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    assert!(
        counts.iter().all(|n| *n > 0),
        "every fault was injected: {counts:?}"
    );
    let acked = common::check_acked_in_union(&acked_path, &[&logs1, &logs2], &report, 5);
    assert!(acked > 1000, "only {acked} acknowledged: {report}");
    assert!(
        !report.contains(" 0 retries;"),
        "faults caused no retry: {report}"
    );
}
