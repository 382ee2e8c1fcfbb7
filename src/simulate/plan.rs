//! The simulator's address plan: which prefixes each ISP announces in each district.
//!
//! The same plan writes `maps/ip-geo.csv`, so the shipped table and the simulator cannot
//! drift apart (a test compares them). Each (ISP, district) owns an IPv4 /19 inside the
//! ISP's /14 and an IPv6 /48 inside its /32, each cut into 32 subnets (/24, /53) located
//! at 32 points spread evenly over the district's land on the shipped map, and a
//! district's peers are dealt round the subnets, so the map's 38 equal areas each hold
//! the peers of the land they cover rather than all of a district at one point. (The
//! map has no finer population data: within a district, land stands in for people.)
//! Peers of unlisted networks come from 100.64.0.0/10, which the table leaves out, so
//! they locate as Others / Unknown.

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
/// Subnets per (ISP, district) block, each at its own point of the district.
pub const SUBNETS: u32 = 32;
const V4_SUBNET: u32 = V4_BLOCK / SUBNETS; // a /24

/// The address of the `n`-th peer of an ISP in a district: peers are dealt round the
/// block's subnets, so even a few of them spread over the district.
pub fn ipv4(isp: usize, district: usize, n: u32) -> Ipv4Addr {
    let [a, b] = ISPS[isp].2;
    let base = u32::from(Ipv4Addr::new(a, b, 0, 0));
    let block = base + u32::try_from(district).unwrap_or(0) * V4_BLOCK;
    // Skip .0 and .255 of each subnet; wrap when a scale-up overfills it.
    let host = 1 + (n / SUBNETS) % (V4_SUBNET - 2);
    Ipv4Addr::from(block + (n % SUBNETS) * V4_SUBNET + host)
}

pub fn ipv6(isp: usize, district: usize, n: u32) -> Ipv6Addr {
    let d = u16::try_from(district).unwrap_or(0);
    let host = (n / SUBNETS).to_be_bytes();
    Ipv6Addr::new(
        ISPS[isp].3,
        0x6800,
        d,
        v6_subnet(n % SUBNETS),
        0,
        0,
        u16::from_be_bytes([host[0], host[1]]),
        u16::from_be_bytes([host[2], host[3]]).max(1),
    )
}

/// The fourth group of the `k`-th /53 of a /48.
fn v6_subnet(k: u32) -> u16 {
    u16::try_from(k << 11).unwrap_or(0)
}

/// `SUBNETS` points (lat, lon) per district, in `DISTRICTS` order, spread evenly over
/// its land on the shipped map: a Halton sequence over the district's bounding box,
/// keeping the points that fall on it.
fn district_points() -> Vec<Vec<(f64, f64)>> {
    use crate::engine::geography::Geography;
    use geo::{Contains, Coord, Point};
    let geography = Geography::shipped();
    let halton = |mut i: u32, base: u32| {
        let (mut f, mut r) = (1.0, 0.0);
        while i > 0 {
            f /= f64::from(base);
            r += f * f64::from(i % base);
            i /= base;
        }
        r
    };
    DISTRICTS
        .iter()
        .map(|(name, _, lat, lon)| {
            let Some(region) = geography.districts.iter().find(|r| r.name == *name) else {
                return vec![(*lat, *lon); SUBNETS as usize];
            };
            let b = region.bbox;
            (1..)
                .map(|i| Coord {
                    x: b.min().x + halton(i, 2) * b.width(),
                    y: b.min().y + halton(i, 3) * b.height(),
                })
                .filter(|p| region.shape.contains(&Point(*p)))
                .take(SUBNETS as usize)
                .map(|p| (p.y, p.x / geography.x_scale))
                .collect()
        })
        .collect()
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
    let points = district_points();
    for (isp, _, [a, b], v6) in &ISPS {
        for (d, (district, ..)) in DISTRICTS.iter().enumerate() {
            let base =
                u32::from(Ipv4Addr::new(*a, *b, 0, 0)) + u32::try_from(d).unwrap_or(0) * V4_BLOCK;
            for (k, (lat, lon)) in (0..SUBNETS).zip(&points[d]) {
                let _ = writeln!(
                    out,
                    "{}/24,{isp},{district},{lat:.4},{lon:.4}",
                    Ipv4Addr::from(base + k * V4_SUBNET)
                );
            }
            for (k, (lat, lon)) in (0..SUBNETS).zip(&points[d]) {
                let _ = writeln!(
                    out,
                    "{v6:x}:6800:{d:x}:{:x}::/53,{isp},{district},{lat:.4},{lon:.4}",
                    v6_subnet(k)
                );
            }
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

    /// A district's peers are spread over its land: Sha Tin's first 32 PCCW peers stand
    /// at 32 points inside Sha Tin, in several of the map's equal areas.
    #[test]
    fn a_districts_peers_spread_over_its_land() {
        use crate::engine::geography::Geography;
        let map = Geography::shipped();
        let mut geo = IpGeo::empty();
        geo.extend_from_csv(&ip_geo_csv()).expect("valid table");
        let sha_tin = DISTRICTS
            .iter()
            .position(|d| d.0 == "Sha Tin")
            .expect("Sha Tin");
        let mut points = std::collections::BTreeSet::new();
        let mut areas = std::collections::BTreeSet::new();
        for n in 0..SUBNETS {
            for ip in [
                ipv4(0, sha_tin, n).to_string(),
                ipv6(0, sha_tin, n).to_string(),
            ] {
                let loc = geo.locate_str(&ip);
                let (lat, lon) = loc.lat_lon.expect("a point");
                let (lat, lon) = (f64::from(lat), f64::from(lon));
                assert_eq!(
                    map.district_at(lat, lon)
                        .map(|d| map.districts[usize::from(d)].name.as_str()),
                    Some("Sha Tin"),
                    "{ip} at {lat},{lon}"
                );
                points.insert(((lat * 1e4) as i64, (lon * 1e4) as i64));
                areas.extend(map.area_of(loc.lat_lon, "Sha Tin"));
            }
        }
        assert_eq!(points.len(), SUBNETS as usize);
        assert!(areas.len() >= 3, "{areas:?}");
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
