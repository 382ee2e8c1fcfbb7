//! IP location from MaxMind-format databases (GeoIP2/GeoLite2 City and ASN), used for
//! addresses the IP-location table does not cover.
//!
//! The City database gives coordinates, and the district is the one of the map that
//! contains them; the ASN database gives the network, named as an ISP through the
//! `[isp_names]` table of the configuration (by AS number, else by a word of the
//! organisation's name). Whatever stays unknown is `Others` / `Unknown`, as for the table.

use std::net::IpAddr;
use std::path::Path;

use maxminddb::{Reader, geoip2};

#[derive(Debug, thiserror::Error)]
#[error("cannot open MaxMind database {path}: {message}")]
pub struct MaxMindError {
    pub path: String,
    pub message: String,
}

/// What the databases say of one address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MaxMindAnswer {
    pub lat_lon: Option<(f64, f64)>,
    pub asn: Option<u32>,
    pub organisation: Option<String>,
}

pub struct MaxMind {
    city: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
}

impl std::fmt::Debug for MaxMind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaxMind")
            .field("city", &self.city.is_some())
            .field("asn", &self.asn.is_some())
            .finish()
    }
}

fn open(path: &Path) -> Result<Reader<Vec<u8>>, MaxMindError> {
    Reader::open_readfile(path).map_err(|e| MaxMindError {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

impl MaxMind {
    pub fn open(city: Option<&Path>, asn: Option<&Path>) -> Result<MaxMind, MaxMindError> {
        Ok(MaxMind {
            city: city.map(open).transpose()?,
            asn: asn.map(open).transpose()?,
        })
    }

    pub fn from_bytes(
        city: Option<Vec<u8>>,
        asn: Option<Vec<u8>>,
    ) -> Result<MaxMind, MaxMindError> {
        let read = |bytes: Vec<u8>, what: &str| {
            Reader::from_source(bytes).map_err(|e| MaxMindError {
                path: what.to_owned(),
                message: e.to_string(),
            })
        };
        Ok(MaxMind {
            city: city.map(|b| read(b, "city database")).transpose()?,
            asn: asn.map(|b| read(b, "ASN database")).transpose()?,
        })
    }

    pub fn lookup(&self, ip: IpAddr) -> MaxMindAnswer {
        let mut answer = MaxMindAnswer::default();
        if let Some(r) = &self.city {
            if let Ok(Some(city)) = r.lookup(ip).and_then(|l| l.decode::<geoip2::City>()) {
                if let (Some(lat), Some(lon)) = (city.location.latitude, city.location.longitude) {
                    answer.lat_lon = Some((lat, lon));
                }
            }
        }
        if let Some(r) = &self.asn {
            if let Ok(Some(asn)) = r.lookup(ip).and_then(|l| l.decode::<geoip2::Asn>()) {
                answer.asn = asn.autonomous_system_number;
                answer.organisation = asn.autonomous_system_organization.map(str::to_owned);
            }
        }
        answer
    }
}
