//! IP location: which ISP and district a peer's address belongs to (DESIGN §5).
//!
//! The table is `cidr,isp,district,lat,lon`; the longest matching prefix wins. Lookups
//! probe one hash map per prefix length present, longest first: a table has a handful of
//! distinct lengths, so a lookup is a few hash probes, with no tree to walk.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use crate::engine::observe::intern::Interner;

/// ISP name for addresses the table does not cover.
pub const OTHER_ISP: &str = "Others";
/// District name for addresses the table does not cover.
pub const UNKNOWN_DISTRICT: &str = "Unknown";

pub type IspId = u16;
pub type DistrictId = u16;

/// Where a peer is: resolved ids plus coordinates when the table has them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub isp: IspId,
    pub district: DistrictId,
    pub lat_lon: Option<(f32, f32)>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("cannot read IP-location table {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Prefix tables for one address family: (prefix length, map from masked address).
#[derive(Debug, Default, Clone)]
struct Family {
    by_len: Vec<(u8, FxHashMap<u128, Location>)>,
}

impl Family {
    fn insert(&mut self, bits: u128, len: u8, width: u8, loc: Location) {
        let key = mask(bits, len, width);
        if let Some((_, map)) = self.by_len.iter_mut().find(|(l, _)| *l == len) {
            map.insert(key, loc);
        } else {
            let mut map = FxHashMap::default();
            map.insert(key, loc);
            self.by_len.push((len, map));
            self.by_len.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        }
    }

    fn lookup(&self, bits: u128, width: u8) -> Option<Location> {
        self.by_len
            .iter()
            .find_map(|(len, map)| map.get(&mask(bits, *len, width)).copied())
    }
}

fn mask(bits: u128, len: u8, width: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let keep = u128::MAX << (128 - u32::from(len));
    (bits << (128 - u32::from(width))) & keep
}

/// The IP-location table with the ISP and district names it uses.
#[derive(Debug, Clone)]
pub struct IpGeo {
    v4: Family,
    v6: Family,
    isps: Interner,
    districts: Interner,
    unknown: Location,
    /// MaxMind databases for addresses the table does not cover.
    fallback: Option<std::sync::Arc<Fallback>>,
}

/// How AS numbers and organisations are named as ISPs (`[isp_names]` in the config).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IspNames {
    /// AS number (as a string key) → ISP name, e.g. "4760" = "PCCW".
    pub asn: std::collections::BTreeMap<String, String>,
    /// A word of the AS organisation (any case) → ISP name, e.g. "Broadband" = "HKBN".
    pub org: std::collections::BTreeMap<String, String>,
}

impl Default for IspNames {
    /// The Hong Kong networks of the reference event, by AS number.
    fn default() -> Self {
        let asn = [
            ("3491", "PCCW"),
            ("4760", "PCCW"),
            ("9269", "HKBN"),
            ("9304", "HGC"),
            ("9908", "i-CABLE"),
        ]
        .into_iter()
        .map(|(a, n)| (a.to_owned(), n.to_owned()))
        .collect();
        IspNames {
            asn,
            org: std::collections::BTreeMap::new(),
        }
    }
}

#[derive(Debug)]
struct Fallback {
    db: crate::engine::geography::maxmind::MaxMind,
    isp_by_asn: FxHashMap<u32, IspId>,
    isp_by_org: Vec<(String, IspId)>,
    geography: Option<std::sync::Arc<crate::engine::geography::Geography>>,
    /// District id of each of the geography's districts.
    district_ids: Vec<DistrictId>,
}

impl Default for IpGeo {
    fn default() -> Self {
        Self::empty()
    }
}

impl IpGeo {
    /// A table that matches nothing: every peer is `Others` / `Unknown`.
    pub fn empty() -> Self {
        let mut isps = Interner::default();
        let mut districts = Interner::default();
        let isp = id16(isps.intern(OTHER_ISP));
        let district = id16(districts.intern(UNKNOWN_DISTRICT));
        IpGeo {
            v4: Family::default(),
            v6: Family::default(),
            isps,
            districts,
            unknown: Location {
                isp,
                district,
                lat_lon: None,
            },
            fallback: None,
        }
    }

    pub fn load(path: &Path) -> Result<Self, LocationError> {
        let text = std::fs::read_to_string(path).map_err(|error| LocationError::Read {
            path: path.to_owned(),
            error,
        })?;
        let mut geo = Self::empty();
        geo.extend_from_csv(&text)
            .map_err(|(line, message)| LocationError::Line {
                path: path.to_owned(),
                line,
                message,
            })?;
        Ok(geo)
    }

    /// Reads `cidr,isp,district,lat,lon` rows; errors give the 1-based line.
    pub fn extend_from_csv(&mut self, text: &str) -> Result<(), (usize, String)> {
        let mut lines = text.lines().enumerate();
        let header = loop {
            match lines.next() {
                Some((_, l)) if l.trim().is_empty() || l.starts_with('#') => {}
                Some((i, l)) => break (i, l),
                None => return Ok(()),
            }
        };
        let cols: Vec<String> = split_csv(header.1.trim_start_matches('\u{feff}'));
        let want = ["cidr", "isp", "district", "lat", "lon"];
        if cols.len() < 3
            || cols
                .iter()
                .zip(want)
                .any(|(c, w)| !c.eq_ignore_ascii_case(w))
        {
            return Err((
                header.0 + 1,
                format!("expected header `{}`, got `{}`", want.join(","), header.1),
            ));
        }
        for (i, raw) in lines {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.add_row(line).map_err(|m| (i + 1, m))?;
        }
        Ok(())
    }

    fn add_row(&mut self, line: &str) -> Result<(), String> {
        let f = split_csv(line);
        if f.len() < 3 {
            return Err(format!(
                "expected at least 3 columns (cidr,isp,district), got {}",
                f.len()
            ));
        }
        let (addr, len) = parse_cidr(&f[0])?;
        let isp = id16(self.isps.intern(nonempty(&f[1], "isp")?));
        let district = id16(self.districts.intern(nonempty(&f[2], "district")?));
        let coord = |k: usize, name: &str| -> Result<Option<f32>, String> {
            match f.get(k).map(|s| s.trim()) {
                None | Some("") => Ok(None),
                Some(s) => s
                    .parse::<f32>()
                    .map(Some)
                    .map_err(|_| format!("{name} {s:?} is not a number")),
            }
        };
        let lat_lon = match (coord(3, "lat")?, coord(4, "lon")?) {
            (Some(lat), Some(lon)) => Some((lat, lon)),
            _ => None,
        };
        let loc = Location {
            isp,
            district,
            lat_lon,
        };
        match addr {
            IpAddr::V4(a) => self.v4.insert(u128::from(u32::from(a)), len, 32, loc),
            IpAddr::V6(a) => self.v6.insert(u128::from(a), len, 128, loc),
        }
        Ok(())
    }

    /// Locates an address given as text; anything unparsable or unmatched is unknown.
    pub fn locate_str(&self, ip: &str) -> Location {
        match ip.parse::<IpAddr>() {
            Ok(addr) => self.locate(addr),
            Err(_) => self.unknown,
        }
    }

    pub fn locate(&self, ip: IpAddr) -> Location {
        let found = match ip {
            IpAddr::V4(a) => self.v4.lookup(u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.v4.lookup(u128::from(u32::from(v4)), 32),
                None => self.v6.lookup(u128::from(a), 128),
            },
        };
        found.unwrap_or_else(|| self.locate_in_databases(ip))
    }

    /// Adds MaxMind databases for addresses the table does not cover; the district comes
    /// from the coordinates on `geography`'s map, the ISP from `names`.
    #[must_use]
    pub fn with_maxmind(
        mut self,
        db: crate::engine::geography::maxmind::MaxMind,
        names: &IspNames,
        geography: Option<std::sync::Arc<crate::engine::geography::Geography>>,
    ) -> Self {
        let mut isp_by_asn = FxHashMap::default();
        for (asn, isp) in &names.asn {
            if let Ok(n) = asn.trim().trim_start_matches("AS").parse::<u32>() {
                isp_by_asn.insert(n, id16(self.isps.intern(isp)));
            }
        }
        let isp_by_org = names
            .org
            .iter()
            .map(|(word, isp)| (word.to_lowercase(), id16(self.isps.intern(isp))))
            .collect();
        let district_ids = geography
            .iter()
            .flat_map(|g| g.districts.iter())
            .map(|d| id16(self.districts.intern(&d.name)))
            .collect();
        self.fallback = Some(std::sync::Arc::new(Fallback {
            db,
            isp_by_asn,
            isp_by_org,
            geography,
            district_ids,
        }));
        self
    }

    fn locate_in_databases(&self, ip: IpAddr) -> Location {
        let Some(fb) = &self.fallback else {
            return self.unknown;
        };
        let answer = fb.db.lookup(ip);
        let isp = answer
            .asn
            .and_then(|n| fb.isp_by_asn.get(&n).copied())
            .or_else(|| {
                let org = answer.organisation.as_deref()?.to_lowercase();
                fb.isp_by_org
                    .iter()
                    .find(|(word, _)| org.contains(word.as_str()))
                    .map(|(_, id)| *id)
            })
            .unwrap_or(self.unknown.isp);
        let district = answer
            .lat_lon
            .and_then(|(lat, lon)| fb.geography.as_ref()?.district_at(lat, lon))
            .and_then(|i| fb.district_ids.get(i as usize).copied())
            .unwrap_or(self.unknown.district);
        Location {
            isp,
            district,
            lat_lon: answer.lat_lon.map(|(a, b)| (a as f32, b as f32)),
        }
    }

    pub fn unknown(&self) -> Location {
        self.unknown
    }

    pub fn isp_name(&self, id: IspId) -> &str {
        self.isps.name(u32::from(id))
    }

    pub fn district_name(&self, id: DistrictId) -> &str {
        self.districts.name(u32::from(id))
    }

    pub fn isps(&self) -> impl Iterator<Item = &str> {
        self.isps.names()
    }

    pub fn districts(&self) -> impl Iterator<Item = &str> {
        self.districts.names()
    }
}

fn id16(id: u32) -> u16 {
    u16::try_from(id).expect("fewer than 65,536 ISPs or districts")
}

fn nonempty<'a>(s: &'a str, what: &str) -> Result<&'a str, String> {
    let s = s.trim();
    if s.is_empty() {
        Err(format!("empty {what}"))
    } else {
        Ok(s)
    }
}

fn parse_cidr(text: &str) -> Result<(IpAddr, u8), String> {
    let text = text.trim();
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{text:?} is not an IP prefix"))?;
    let width = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => width,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= width => n,
            _ => return Err(format!("{text:?}: prefix length must be 0..={width}")),
        },
    };
    Ok((addr, len))
}

/// Splits one CSV row, honouring double quotes (names may contain commas).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "isp#{} district#{}", self.isp, self.district)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "cidr,isp,district,lat,lon\n\
        112.118.0.0/16,PCCW,Eastern,22.28,114.22\n\
        112.118.8.0/21,PCCW,Sha Tin,22.38,114.19\n\
        \"2001:db8::/32\",HKBN,\"Kwun Tong\",,\n";

    fn table() -> IpGeo {
        let mut g = IpGeo::empty();
        g.extend_from_csv(TABLE).expect("valid table");
        g
    }

    #[test]
    fn longest_prefix_wins() {
        let g = table();
        let wide = g.locate_str("112.118.1.1");
        let narrow = g.locate_str("112.118.9.1");
        assert_eq!(g.district_name(wide.district), "Eastern");
        assert_eq!(g.district_name(narrow.district), "Sha Tin");
        assert_eq!(narrow.lat_lon, Some((22.38, 114.19)));
    }

    #[test]
    fn ipv6_and_mapped_ipv4() {
        let g = table();
        let v6 = g.locate_str("2001:db8:1::5");
        assert_eq!(g.isp_name(v6.isp), "HKBN");
        assert_eq!(v6.lat_lon, None);
        let mapped = g.locate_str("::ffff:112.118.9.1");
        assert_eq!(g.district_name(mapped.district), "Sha Tin");
    }

    #[test]
    fn unmatched_and_garbage_are_others_unknown() {
        let g = table();
        for ip in ["8.8.8.8", "not an ip", "", "2002::1"] {
            let loc = g.locate_str(ip);
            assert_eq!(g.isp_name(loc.isp), OTHER_ISP, "{ip}");
            assert_eq!(g.district_name(loc.district), UNKNOWN_DISTRICT, "{ip}");
        }
    }

    #[test]
    fn bad_rows_name_their_line() {
        let mut g = IpGeo::empty();
        let err =
            g.extend_from_csv("cidr,isp,district,lat,lon\n1.2.3.0/24,A,B,1,2\n1.2.3.0/33,A,B,,\n");
        assert_eq!(err.map_err(|e| e.0), Err(3));
        let err = IpGeo::empty().extend_from_csv("prefix,name\n");
        assert!(err.is_err());
    }

    #[test]
    fn host_bits_in_a_prefix_are_masked() {
        let mut g = IpGeo::empty();
        g.extend_from_csv("cidr,isp,district,lat,lon\n10.1.2.3/16,X,Y,,\n")
            .expect("valid");
        assert_eq!(g.isp_name(g.locate_str("10.1.200.200").isp), "X");
    }
}
