//! Filters by ISP, channel and district (DESIGN §5: every metric is available for any
//! combination). A filter keeps a record when each dimension it constrains lists the
//! record's value; values within a dimension are alternatives.
//!
//! Metrics under a filter are the metrics of the filtered record stream: a peer is online
//! in "channel A" while its latest channel-A record is fresh.
//!
//! Names match whatever their case (`isp=pccw` is PCCW). A value the recording does not
//! hold is a mistake to report, not a filter that silently takes nothing:
//! [`Filter::check`] names it with the values there are.

use std::collections::BTreeSet;
use std::fmt;

use crate::engine::geography::location::IpGeo;
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
        Self::takes(&self.isps, catalog.geo.isp_name(obs.location.isp))
            && Self::takes(&self.channels, catalog.channels.name(obs.channel))
            && Self::takes(
                &self.districts,
                catalog.geo.district_name(obs.location.district),
            )
    }

    /// Whether a dimension's values (none: any) take `name`, whatever its case.
    pub fn takes(values: &BTreeSet<String>, name: &str) -> bool {
        values.is_empty() || values.iter().any(|v| v.eq_ignore_ascii_case(name))
    }

    /// Every name the filter holds is one there is, whatever its case: ISPs and
    /// districts of the location table, and `channels` (those the recording holds; none
    /// yet, for a live source that has delivered nothing, checks no channel). Else the
    /// first that is not, with the names there are.
    pub fn check_names(&self, geo: &IpGeo, channels: &[&str]) -> Result<(), String> {
        check_dimension("isp", &self.isps, &geo.isps().collect::<Vec<_>>())?;
        check_dimension(
            "district",
            &self.districts,
            &geo.districts().collect::<Vec<_>>(),
        )?;
        if channels.is_empty() {
            return Ok(());
        }
        check_dimension("channel", &self.channels, channels)
    }
}

/// Every value of one dimension is among `known`, whatever its case; else which is not.
pub fn check_dimension(key: &str, values: &BTreeSet<String>, known: &[&str]) -> Result<(), String> {
    for v in values {
        if !known.iter().any(|k| k.eq_ignore_ascii_case(v)) {
            let mut names = known.to_vec();
            names.sort_unstable();
            names.dedup();
            return Err(format!(
                "--filter {key}={v}: no {key} is called that here; there are {}",
                names.join(", ")
            ));
        }
    }
    Ok(())
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
    fn names_match_in_any_case_and_unknown_ones_are_named() {
        let f = Filter::parse("isp=pccw,channel=Main").expect("valid");
        assert!(Filter::takes(&f.isps, "PCCW"));
        assert!(!Filter::takes(&f.isps, "HKBN"));
        assert!(Filter::takes(&f.districts, "anything"));
        let mut geo = IpGeo::empty();
        geo.extend_from_csv(
            "cidr,isp,district\n10.0.0.0/8,PCCW,Wan Chai\n11.0.0.0/8,HKBN,Sha Tin\n",
        )
        .expect("table");
        assert!(f.check_names(&geo, &[]).is_ok(), "no channel known yet");
        assert!(f.check_names(&geo, &["main"]).is_ok());
        let err = f
            .check_names(&geo, &["swimming", "athletics"])
            .expect_err("unknown");
        assert!(
            err.contains("channel=Main") && err.contains("athletics, swimming"),
            "{err}"
        );
        let err = Filter::parse("district=wan chai,isp=CSL")
            .expect("valid")
            .check_names(&geo, &["main"])
            .expect_err("unknown isp");
        assert!(err.ends_with("there are HKBN, Others, PCCW"), "{err}");
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
