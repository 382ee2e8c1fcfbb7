//! Filters by ISP, channel and district (DESIGN §5: every metric is available for any
//! combination). A filter keeps a record when each dimension it constrains lists the
//! record's value; values within a dimension are alternatives.
//!
//! Metrics under a filter are the metrics of the filtered record stream: a peer is online
//! in "channel A" while its latest channel-A record is fresh.

use std::collections::BTreeSet;
use std::fmt;

use crate::engine::observe::catalog::Catalog;
use crate::engine::observe::observation::Observation;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub isps: BTreeSet<String>,
    pub channels: BTreeSet<String>,
    pub districts: BTreeSet<String>,
    /// Map areas (`Area 07`): set from the TUI's Map view. Only the live engine, which
    /// knows the geography, applies them; `report` filters cannot name them.
    pub areas: BTreeSet<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "bad filter {term:?}: {why} (expected isp=NAME, channel=NAME or district=NAME, comma-separated)"
)]
pub struct FilterError {
    pub term: String,
    pub why: &'static str,
}

impl Filter {
    /// Parses `isp=A,channel=B,district=C`; a repeated key adds an alternative.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let mut f = Filter::default();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let Some((key, value)) = term.split_once('=') else {
                return Err(FilterError {
                    term: term.into(),
                    why: "missing `=`",
                });
            };
            let value = value.trim();
            if value.is_empty() {
                return Err(FilterError {
                    term: term.into(),
                    why: "empty value",
                });
            }
            let set = match key.trim() {
                "isp" => &mut f.isps,
                "channel" => &mut f.channels,
                "district" => &mut f.districts,
                _ => {
                    return Err(FilterError {
                        term: term.into(),
                        why: "unknown key",
                    });
                }
            };
            set.insert(value.to_owned());
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        self.isps.is_empty()
            && self.channels.is_empty()
            && self.districts.is_empty()
            && self.areas.is_empty()
    }

    pub fn matches(&self, obs: &Observation, catalog: &Catalog) -> bool {
        (self.isps.is_empty() || self.isps.contains(catalog.geo.isp_name(obs.location.isp)))
            && (self.channels.is_empty()
                || self.channels.contains(catalog.channels.name(obs.channel)))
            && (self.districts.is_empty()
                || self
                    .districts
                    .contains(catalog.geo.district_name(obs.location.district)))
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut terms = Vec::new();
        for (key, set) in [
            ("isp", &self.isps),
            ("channel", &self.channels),
            ("district", &self.districts),
            ("area", &self.areas),
        ] {
            terms.extend(set.iter().map(|v| format!("{key}={v}")));
        }
        f.write_str(&terms.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_terms() {
        let f = Filter::parse("isp=PCCW, channel=main,isp=HKBN").expect("valid");
        assert_eq!(f.isps.len(), 2);
        assert_eq!(f.to_string(), "isp=HKBN,isp=PCCW,channel=main");
        assert!(Filter::parse("").expect("empty ok").is_empty());
    }

    #[test]
    fn rejects_bad_terms() {
        assert_eq!(Filter::parse("isp").map_err(|e| e.why), Err("missing `=`"));
        assert_eq!(
            Filter::parse("asn=4760").map_err(|e| e.why),
            Err("unknown key")
        );
        assert_eq!(Filter::parse("isp=").map_err(|e| e.why), Err("empty value"));
    }
}
