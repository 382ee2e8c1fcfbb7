//! One round towards one destination: TCP connect round-trip times and failures.
//!
//! A TCP handshake costs one round trip, so the time `connect` takes is an RTT
//! measured without privileges (no raw sockets, no ICMP). It cannot tell which way a
//! lost packet went: the share of failed connects is reported as both `loss_fwd` and
//! `loss_rev`, and reordering (which needs sequenced probe pairs) as 0.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Mean connect time of the connects that succeeded; the timeout when none did.
    pub rtt_ms: f64,
    /// Failed connects ÷ attempts.
    pub failure_rate: f64,
    pub samples: u32,
    /// Why the last connect failed, for the log.
    pub last_error: Option<String>,
}

/// `samples` connects to `addr` (resolved once per round), each within `timeout`,
/// `gap` apart.
pub fn measure(addr: &str, samples: u32, timeout: Duration, gap: Duration) -> Measurement {
    let samples = samples.max(1);
    let target: Result<SocketAddr, String> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))
        .and_then(|mut a| a.next().ok_or_else(|| format!("{addr} has no address")));
    let target = match target {
        Ok(t) => t,
        Err(why) => {
            return Measurement {
                rtt_ms: timeout.as_secs_f64() * 1000.0,
                failure_rate: 1.0,
                samples,
                last_error: Some(why),
            };
        }
    };
    let mut times = Vec::with_capacity(samples as usize);
    let mut last_error = None;
    for i in 0..samples {
        if i > 0 {
            std::thread::sleep(gap);
        }
        let t = Instant::now();
        match TcpStream::connect_timeout(&target, timeout) {
            Ok(stream) => {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                drop(stream);
            }
            Err(e) => last_error = Some(e.to_string()),
        }
    }
    let ok = u32::try_from(times.len()).unwrap_or(samples);
    Measurement {
        rtt_ms: if times.is_empty() {
            timeout.as_secs_f64() * 1000.0
        } else {
            times.iter().sum::<f64>() / f64::from(ok)
        },
        failure_rate: f64::from(samples - ok) / f64::from(samples),
        samples,
        last_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::float_cmp)] // whole fractions of a few samples are exact
    fn a_listener_answers_and_a_closed_port_fails() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let m = measure(&addr, 3, Duration::from_secs(1), Duration::ZERO);
        assert_eq!(m.failure_rate, 0.0);
        assert!(m.rtt_ms >= 0.0 && m.rtt_ms < 1000.0, "{m:?}");
        drop(listener);
        let m = measure(&addr, 2, Duration::from_millis(500), Duration::ZERO);
        assert_eq!(m.failure_rate, 1.0);
        assert!(m.last_error.is_some());
        let m = measure(
            "no-such-host.invalid:80",
            2,
            Duration::from_millis(200),
            Duration::ZERO,
        );
        assert_eq!((m.failure_rate, m.samples), (1.0, 2));
    }
}
