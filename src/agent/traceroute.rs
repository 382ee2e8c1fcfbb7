//! The forward path from the system's `traceroute`, when it is installed.
//!
//! Run as `traceroute -n -q 1 -w 1 -m 20 HOST`: numeric, one query per hop. Lines
//! are `" 3  192.0.2.1  4.211 ms"`, `" 4  *"` for a silent hop (left out), and with
//! `-A` or a patched build `" 5  192.0.2.9 [AS4760]  7.1 ms"`, whose AS is kept.

use std::process::Command;
use std::time::Duration;

use crate::engine::record::Hop;

/// The hops towards `host`, or why there are none.
pub fn trace(host: &str, max_wait: Duration) -> Result<Vec<Hop>, String> {
    let wait = max_wait.as_secs().clamp(1, 5).to_string();
    let out = Command::new("traceroute")
        .args(["-n", "-q", "1", "-w", &wait, "-m", "20", host])
        .output()
        .map_err(|e| format!("cannot run traceroute: {e}"))?;
    if !out.status.success() && out.stdout.is_empty() {
        return Err(format!(
            "traceroute {host} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

pub fn parse(text: &str) -> Vec<Hop> {
    let mut hops = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if first.parse::<u32>().is_err() {
            continue; // the "traceroute to …" heading
        }
        let Some(ip) = words.next() else { continue };
        if ip == "*" || ip.parse::<std::net::IpAddr>().is_err() {
            continue;
        }
        let asn = words
            .next()
            .and_then(|w| w.strip_prefix("[AS"))
            .and_then(|w| w.strip_suffix(']'))
            .and_then(|w| w.split('/').next())
            .and_then(|w| w.parse().ok());
        hops.push(Hop {
            ip: ip.to_owned(),
            asn,
        });
    }
    hops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_hops_are_left_out_and_ases_kept() {
        let text = "traceroute to 192.0.2.80 (192.0.2.80), 20 hops max, 60 byte packets
 1  10.0.0.1  0.412 ms
 2  *
 3  203.0.113.5 [AS4760]  3.870 ms
 4  192.0.2.80 [AS3356/AS3549]  9.1 ms
";
        let hops = parse(text);
        assert_eq!(hops.len(), 3);
        assert_eq!(
            hops[0],
            Hop {
                ip: "10.0.0.1".into(),
                asn: None
            }
        );
        assert_eq!(hops[1].asn, Some(4760));
        assert_eq!(hops[2].asn, Some(3356));
    }
}
