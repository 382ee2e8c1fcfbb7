//! Resource exhaustion (RELIABILITY 7): slowloris on headers and on the body, idle
//! keep-alive connections, the cap on open connections, the cap on waiting long-polls,
//! and a tail consumer that stops reading while ingest goes on.
//!
//! The bounds asserted here are generous multiples of the configured timeouts: they
//! check that a timeout exists and fires, not how fast the machine is.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod common;
use common::{feedback_record, spawn_serve, terminate};

/// Reads until the server closes the connection; returns what it sent and how long it took.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).expect("read timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server kept the connection open past {limit:?}: {e}"),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn a_client_trickling_its_headers_is_cut_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) =
        spawn_serve(dir.path(), "127.0.0.1:0", &["--header-timeout-s", "1"], &[]);
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.write_all(b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\n")
        .expect("start");
    let trickle = s.try_clone().expect("clone");
    let writer = std::thread::spawn(move || {
        let mut trickle = trickle;
        for b in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if trickle.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let (_, took) = read_until_closed(&mut s, Duration::from_secs(8));
    assert!(took < Duration::from_secs(8));
    let _ = writer.join();
    terminate(&mut child);
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) =
        spawn_serve(dir.path(), "127.0.0.1:0", &["--header-timeout-s", "1"], &[]);
    let mut s = TcpStream::connect(&addr).expect("connect");
    let (_, took) = read_until_closed(&mut s, Duration::from_secs(8));
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
    terminate(&mut child);
}

#[test]
fn a_client_trickling_its_body_gets_408_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) = spawn_serve(dir.path(), "127.0.0.1:0", &["--body-timeout-s", "1"], &[]);
    let body = feedback_record("slow", 1);
    let mut s = TcpStream::connect(&addr).expect("connect");
    write!(
        s,
        "POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("headers");
    // Half the body, then silence.
    s.write_all(&body.as_bytes()[..body.len() / 2])
        .expect("half");
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(8));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let metrics = reqwest::blocking::get(format!("http://{addr}/metrics"))
        .expect("metrics")
        .text()
        .expect("text");
    assert!(
        metrics.contains("peerscope_bodies_refused_total{reason=\"body_timeout\"} 1"),
        "{metrics}"
    );
    terminate(&mut child);
    assert!(common::logged(dir.path()).is_empty());
}

#[test]
fn connections_over_the_cap_are_closed_on_accept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) =
        spawn_serve(dir.path(), "127.0.0.1:0", &["--max-connections", "3"], &[]);
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    // Give the server time to accept the three.
    std::thread::sleep(Duration::from_millis(300));
    let mut fourth = TcpStream::connect(&addr).expect("the kernel still accepts");
    let _ = fourth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let (answer, _) = read_until_closed(&mut fourth, Duration::from_secs(8));
    assert!(
        answer.is_empty(),
        "a fourth connection was served: {answer}"
    );
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    let metrics = reqwest::blocking::get(format!("http://{addr}/metrics"))
        .expect("served again once the idle ones left")
        .text()
        .expect("text");
    assert!(
        metrics.contains("peerscope_connections_refused_total 1"),
        "{metrics}"
    );
    terminate(&mut child);
}

#[test]
fn waiting_long_polls_are_capped_and_a_slow_reader_does_not_block_ingest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) =
        spawn_serve(dir.path(), "127.0.0.1:0", &["--max-tail-waiters", "2"], &[]);
    let c = reqwest::blocking::Client::new();
    let post = |seqs: std::ops::Range<u64>| {
        let body: String = seqs.map(|s| feedback_record("tail", s) + "\n").collect();
        c.post(format!("http://{addr}/v1/feedback"))
            .body(body)
            .send()
            .expect("post")
            .status()
            .as_u16()
    };
    assert_eq!(post(0..1), 204);
    let cursor = reqwest::blocking::get(format!("http://{addr}/v1/tail?stream=feedback"))
        .expect("tail")
        .headers()["x-peerscope-cursor"]
        .to_str()
        .expect("cursor")
        .to_owned();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let url = format!("http://{addr}/v1/tail?stream=feedback&cursor={cursor}&wait=3");
            std::thread::spawn(move || reqwest::blocking::get(url).expect("wait").status())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let third = reqwest::blocking::get(format!(
        "http://{addr}/v1/tail?stream=feedback&cursor={cursor}&wait=3"
    ))
    .expect("third");
    assert_eq!(third.status().as_u16(), 503);
    assert!(third.headers().contains_key("retry-after"));

    // A reader asks for everything and never reads the answer, while ingest goes on.
    assert_eq!(post(1..2000), 204);
    let mut stalled = TcpStream::connect(&addr).expect("connect");
    write!(
        stalled,
        "GET /v1/tail?stream=feedback&cursor={}:0 HTTP/1.1\r\nHost: x\r\n\r\n",
        cursor.split(':').next().expect("minute")
    )
    .expect("request");
    for n in 0..200u64 {
        let first = 2000 + n * 10;
        assert_eq!(post(first..first + 10), 204);
    }
    for w in waiters {
        assert_eq!(w.join().expect("waiter").as_u16(), 200);
    }
    drop(stalled);
    terminate(&mut child);
    assert_eq!(common::logged(dir.path()).len(), 4000);
}
