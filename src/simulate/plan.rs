//! The simulator's address plan: which prefixes each ISP announces in each district.
//!
//! The same plan writes `maps/ip-geo.csv`, so the shipped table and the simulator cannot
//! drift apart (a test compares them). Each (ISP, district) owns an IPv4 /19 inside the
//! ISP's /14 and an IPv6 /48 inside its /32; peers of unlisted networks come from
//! 100.64.0.0/10, which the table leaves out, so they locate as Others / Unknown.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The 18 districts in the order of `maps/hk-districts.geojson`, with the 2011 census
/// population (the simulator's weights) and an approximate centroid.
pub const DISTRICTS: [(&str, u32, f64, f64); 18] = [
    ("Central and Western", 251_519, 22.2820, 114.1500),
    ("Wan Chai", 152_608, 22.2770, 114.1830),
    ("Eastern", 588_094, 22.2790, 114.2260),
    ("Southern", 275_162, 22.2430, 114.1780),
    ("Yau Tsim Mong", 307_878, 22.3110, 114.1700),
    ("Sham Shui Po", 380_855, 22.3310, 114.1620),
    ("Kowloon City", 377_351, 22.3200, 114.1900),
    ("Wong Tai Sin", 420_183, 22.3420, 114.1960),
    ("Kwun Tong", 622_152, 22.3130, 114.2250),
    ("Kwai Tsing", 511_167, 22.3540, 114.1030),
    ("Tsuen Wan", 304_637, 22.3710, 114.1140),
    ("Tuen Mun", 487_546, 22.3910, 113.9770),
    ("Yuen Long", 578_529, 22.4450, 114.0220),
    ("North", 304_134, 22.4940, 114.1390),
    ("Tai Po", 296_853, 22.4500, 114.1710),
    ("Sha Tin", 630_273, 22.3830, 114.1880),
    ("Sai Kung", 436_627, 22.3810, 114.2700),
    ("Islands", 141_327, 22.2620, 113.9460),
];

/// ISPs with their IP-coverage share (%), IPv4 /14 base and IPv6 /32 base.
/// "Others" here is the sum of the small Hong Kong ISPs the table does list.
pub const ISPS: [(&str, f64, [u8; 2], u16); 5] = [
    ("PCCW", 32.08, [112, 116], 0x2400),
    ("HKBN", 13.57, [118, 140], 0x2403),
    ("HGC", 5.55, [58, 176], 0x2404),
    ("i-CABLE", 3.57, [61, 92], 0x2405),
    ("Others", 43.23, [223, 16], 0x2406),
];

/// Share (%) of peers on networks the table does not list (counted as Others / Unknown).
pub const UNLISTED_SHARE: f64 = 2.0;

/// IPv6 share of peers on the ISPs that offer it.
pub const IPV6_SHARE: f64 = 0.08;

const V4_BLOCK: u32 = 1 << 13; // a /19

/// The address of the `n`-th peer of an ISP in a district.
pub fn ipv4(isp: usize, district: usize, n: u32) -> Ipv4Addr {
    let [a, b] = ISPS[isp].2;
    let base = u32::from(Ipv4Addr::new(a, b, 0, 0));
    let block = base + u32::try_from(district).unwrap_or(0) * V4_BLOCK;
    // Skip .0 and the top of the block; wrap when a scale-up overfills it.
    Ipv4Addr::from(block + 1 + n % (V4_BLOCK - 2))
}

pub fn ipv6(isp: usize, district: usize, n: u32) -> Ipv6Addr {
    let d = u16::try_from(district).unwrap_or(0);
    let n = n.to_be_bytes();
    Ipv6Addr::new(
        ISPS[isp].3,
        0x6800,
        d,
        0,
        0,
        0,
        u16::from_be_bytes([n[0], n[1]]),
        u16::from_be_bytes([n[2], n[3]]).max(1),
    )
}

/// An address on an unlisted network.
pub fn unlisted(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + 1 + n % ((1 << 22) - 2))
}

/// The `maps/ip-geo.csv` text for this plan.
pub fn ip_geo_csv() -> String {
    let mut out = String::from(
        "# IP-location table for the simulator's address plan (written by `peerscope simulate --write-ip-geo`).\n\
         # Longest prefix wins; unmatched addresses are ISP Others, district Unknown.\n\
         cidr,isp,district,lat,lon\n",
    );
    for (isp, _, [a, b], v6) in &ISPS {
        for (d, (district, _, lat, lon)) in DISTRICTS.iter().enumerate() {
            let base =
                u32::from(Ipv4Addr::new(*a, *b, 0, 0)) + u32::try_from(d).unwrap_or(0) * V4_BLOCK;
            let _ = writeln!(
                out,
                "{}/19,{isp},{district},{lat:.4},{lon:.4}",
                Ipv4Addr::from(base)
            );
            let _ = writeln!(
                out,
                "{v6:x}:6800:{d:x}::/48,{isp},{district},{lat:.4},{lon:.4}"
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::geography::location::IpGeo;

    #[test]
    fn shipped_table_matches_the_plan() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/ip-geo.csv");
        let shipped = std::fs::read_to_string(&path).expect("maps/ip-geo.csv");
        assert_eq!(
            shipped,
            ip_geo_csv(),
            "regenerate with `peerscope simulate --write-ip-geo maps/ip-geo.csv`"
        );
    }

    #[test]
    fn every_planned_address_locates_to_its_isp_and_district() {
        let mut geo = IpGeo::empty();
        geo.extend_from_csv(&ip_geo_csv()).expect("valid table");
        for (isp, (isp_name, ..)) in ISPS.iter().enumerate() {
            for (d, (district_name, ..)) in DISTRICTS.iter().enumerate() {
                for n in [0, 1, 5000, 9000] {
                    for ip in [ipv4(isp, d, n).to_string(), ipv6(isp, d, n).to_string()] {
                        let loc = geo.locate_str(&ip);
                        assert_eq!(geo.isp_name(loc.isp), *isp_name, "{ip}");
                        assert_eq!(geo.district_name(loc.district), *district_name, "{ip}");
                    }
                }
            }
        }
        assert_eq!(
            geo.isp_name(geo.locate_str(&unlisted(77).to_string()).isp),
            "Others"
        );
        let total: f64 = ISPS.iter().map(|i| i.1).sum::<f64>() + UNLISTED_SHARE;
        assert!((total - 100.0).abs() < 1e-9);
    }
}
