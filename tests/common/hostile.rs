//! A hostile or broken HTTP server for the client side's tests: it reads each request's
//! head and answers it with whatever the test scripts, counting requests.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How the server answers a request (its request line given): it writes to the stream.
pub type Answer = dyn Fn(&str, &mut TcpStream) + Send + Sync;

pub struct Hostile {
    pub addr: String,
    pub requests: Arc<AtomicUsize>,
}

impl Hostile {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Starts a server on a free loopback port; each connection on its own thread.
pub fn start(answer: Arc<Answer>) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let answer = Arc::clone(&answer);
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                let Ok(read) = stream.try_clone() else { return };
                let mut reader = BufReader::new(read);
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    // The rest of the head.
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" || line == "\n" {
                            break;
                        }
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    answer(request_line.trim_end(), &mut stream);
                    if stream.flush().is_err() {
                        return;
                    }
                }
            });
        }
    });
    Hostile { addr, requests }
}

/// Writes a response head; the body, if any, follows from the caller.
pub fn head(stream: &mut TcpStream, status: &str, headers: &[(&str, String)]) {
    let mut text = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        text.push_str(k);
        text.push_str(": ");
        text.push_str(v);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    let _ = stream.write_all(text.as_bytes());
}
