//! A minimal MaxMind DB writer for tests: IPv4 networks mapped to small records, in
//! the format of the MaxMind DB specification (version 2.0): a binary search tree with
//! 24-bit records, 16 zero bytes, the data section, then the metadata after the marker
//! `\xAB\xCD\xEFMaxMind.com`. Enough to make GeoIP2-City-like and ASN-like databases
//! that the `maxminddb` crate reads; it writes maps, strings, doubles and unsigned ints.

use std::net::Ipv4Addr;

/// A value in the data section.
pub enum Value {
    Map(Vec<(&'static str, Value)>),
    Str(String),
    Double(f64),
    U32(u32),
    U16(u16),
    U64(u64),
    Array(Vec<Value>),
}

fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    // Types above 7 are "extended": type 0 in the control byte, then kind - 7.
    let (first, extended) = if kind > 7 {
        (0u8, Some(kind - 7))
    } else {
        (kind << 5, None)
    };
    match size {
        0..=28 => {
            out.push(first | size as u8);
            out.extend(extended);
        }
        29..=284 => {
            out.push(first | 0x1d); // 29: one more size byte
            out.extend(extended);
            out.push((size - 29) as u8);
        }
        _ => {
            out.push(first | 0x1e); // 30: two more size bytes
            out.extend(extended);
            out.extend_from_slice(&((size - 285) as u16).to_be_bytes());
        }
    }
}

fn uint(out: &mut Vec<u8>, kind: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, kind, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Str(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Double(d) => {
            control(out, 3, 8);
            out.extend_from_slice(&d.to_be_bytes());
        }
        Value::U16(n) => uint(out, 5, u64::from(*n)),
        Value::U32(n) => uint(out, 6, u64::from(*n)),
        Value::U64(n) => uint(out, 9, *n),
        Value::Map(pairs) => {
            control(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(out, &Value::Str((*k).to_owned()));
                encode(out, v);
            }
        }
        Value::Array(items) => {
            control(out, 11, items.len());
            for v in items {
                encode(out, v);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds an IPv4 database of `kind` (e.g. "GeoIP2-City") from (network, prefix, value).
pub fn build(kind: &str, networks: Vec<(Ipv4Addr, u8, Value)>) -> Vec<u8> {
    let mut data = Vec::new();
    let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty; 2]];
    for (addr, len, value) in networks {
        let offset = data.len();
        encode(&mut data, &value);
        let bits = u32::from(addr);
        let mut node = 0;
        for depth in 0..len {
            let bit = ((bits >> (31 - depth)) & 1) as usize;
            if depth + 1 == len {
                nodes[node][bit] = Record::Data(offset);
            } else {
                node = if let Record::Node(n) = nodes[node][bit] {
                    n
                } else {
                    nodes.push([Record::Empty; 2]);
                    let n = nodes.len() - 1;
                    nodes[node][bit] = Record::Node(n);
                    n
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for pair in &nodes {
        for r in pair {
            let v = match *r {
                Record::Empty => count,
                Record::Node(n) => n,
                Record::Data(offset) => count + 16 + offset,
            };
            out.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    let metadata = Value::Map(vec![
        ("binary_format_major_version", Value::U16(2)),
        ("binary_format_minor_version", Value::U16(0)),
        ("build_epoch", Value::U64(1_343_779_200)),
        ("database_type", Value::Str(kind.to_owned())),
        (
            "description",
            Value::Map(vec![("en", Value::Str("peerscope test".into()))]),
        ),
        ("ip_version", Value::U16(4)),
        ("languages", Value::Array(vec![Value::Str("en".into())])),
        ("node_count", Value::U32(count as u32)),
        ("record_size", Value::U16(24)),
    ]);
    encode(&mut out, &metadata);
    out
}

/// A GeoIP2-City-like record with coordinates.
pub fn city(name: &str, lat: f64, lon: f64) -> Value {
    Value::Map(vec![
        (
            "city",
            Value::Map(vec![(
                "names",
                Value::Map(vec![("en", Value::Str(name.into()))]),
            )]),
        ),
        (
            "location",
            Value::Map(vec![
                ("latitude", Value::Double(lat)),
                ("longitude", Value::Double(lon)),
            ]),
        ),
    ])
}

/// A GeoLite2-ASN-like record.
pub fn asn(number: u32, organisation: &str) -> Value {
    Value::Map(vec![
        ("autonomous_system_number", Value::U32(number)),
        (
            "autonomous_system_organization",
            Value::Str(organisation.into()),
        ),
    ])
}
