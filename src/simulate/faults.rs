//! Injected faults: a combination of ISP, channel and district degraded for a span, so
//! that explanations can be checked against the truth.
//!
//! `--fault "isp=HKBN,district=Sha Tin,from=2012-08-07 09:31,minutes=12,stall=0.2"`:
//! the views of peers that match every dimension given (none given: everyone) suffer,
//! in reports whose time falls in `[from, from + minutes)`:
//! - `stall=S`: S of each report's period more is spent stalled (0 < S ≤ 1);
//! - `bitrate=F`: the stream's bitrate is F times its own (0 < F ≤ 1);
//! - `startup=F`: a session's startup delay is F times its own (F ≥ 1);
//! - `drop=D`: a share D of the matching views ends at `from` with a `leave`, and a
//!   matching view that would have started in the span starts at its end instead.
//!
//! The effects are applied after the scenario's random draws, so a recording with
//! faults differs from the one without only where the faults are. The recording's
//! ground truth is `faults.json` at its root.

use serde_json::{Value, json};

use super::olympics::{CHANNELS, Population, User, View};
use super::plan::{DISTRICTS, ISPS};
use super::rng::mix;
use crate::engine::calendar::Calendar;

/// An ISP index past the plan's ISPs: peers of unlisted networks (located as Others).
pub const UNLISTED_ISP: u8 = ISPS.len() as u8;
/// The district of peers of unlisted networks (located nowhere: Unknown).
pub const NO_DISTRICT: u8 = u8::MAX;

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub isp: Option<u8>,
    pub channel: Option<u8>,
    pub district: Option<u8>,
    pub from: i64,
    pub to: i64,
    pub stall: Option<f64>,
    pub bitrate: Option<f64>,
    pub startup: Option<f64>,
    pub drop: Option<f64>,
}

/// What the faults do to one report: extra stall share, bitrate and startup factors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effect {
    pub stall: f64,
    pub bitrate: f64,
    pub startup: f64,
}

impl Effect {
    pub const NONE: Effect = Effect {
        stall: 0.0,
        bitrate: 1.0,
        startup: 1.0,
    };
}

fn find(names: impl Iterator<Item = &'static str>, key: &str, value: &str) -> Result<u8, String> {
    let names: Vec<&str> = names.collect();
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(value.trim()))
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| format!("{key}={value:?} is not one of {}", names.join(", ")))
}

impl Fault {
    /// Reads `key=value,…` (see the module's doc); times in the calendar's zone.
    pub fn parse(text: &str, calendar: &Calendar) -> Result<Fault, String> {
        let mut fault = Fault {
            isp: None,
            channel: None,
            district: None,
            from: 0,
            to: 0,
            stall: None,
            bitrate: None,
            startup: None,
            drop: None,
        };
        let (mut from, mut minutes) = (None, None);
        for term in text.split(',') {
            let (key, value) = term
                .split_once('=')
                .ok_or_else(|| format!("{term:?} is not key=value"))?;
            let key = key.trim();
            let number = || -> Result<f64, String> {
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("{key}={value:?} is not a number"))
            };
            let in_range = |v: f64, ok: bool, range: &str| {
                if ok {
                    Ok(Some(v))
                } else {
                    Err(format!("{key}={v} must be {range}"))
                }
            };
            match key {
                "isp" => fault.isp = Some(find(ISPS.iter().map(|i| i.0), key, value)?),
                "channel" => fault.channel = Some(find(CHANNELS.iter().map(|c| c.0), key, value)?),
                "district" => {
                    fault.district = Some(find(DISTRICTS.iter().map(|d| d.0), key, value)?);
                }
                "from" => {
                    from = Some(calendar.parse_time(value).ok_or_else(|| {
                        format!("from={value:?} is not a time (YYYY-MM-DD HH:MM)")
                    })?);
                }
                "minutes" => {
                    let m = number()?;
                    minutes = in_range(m, m > 0.0 && m <= 60.0 * 24.0 * 17.0, "above 0")?;
                }
                "stall" => {
                    let v = number()?;
                    fault.stall = in_range(v, v > 0.0 && v <= 1.0, "in (0, 1]")?;
                }
                "bitrate" => {
                    let v = number()?;
                    fault.bitrate = in_range(v, v > 0.0 && v <= 1.0, "in (0, 1]")?;
                }
                "startup" => {
                    let v = number()?;
                    fault.startup = in_range(v, (1.0..=100.0).contains(&v), "in [1, 100]")?;
                }
                "drop" => {
                    let v = number()?;
                    fault.drop = in_range(v, v > 0.0 && v <= 1.0, "in (0, 1]")?;
                }
                _ => {
                    return Err(format!(
                        "unknown key {key:?} (expected isp, channel, district, from, minutes, stall, bitrate, startup, drop)"
                    ));
                }
            }
        }
        let (Some(from), Some(minutes)) = (from, minutes) else {
            return Err("from= and minutes= are required".into());
        };
        if fault.stall.is_none()
            && fault.bitrate.is_none()
            && fault.startup.is_none()
            && fault.drop.is_none()
        {
            return Err("give at least one of stall=, bitrate=, startup=, drop=".into());
        }
        fault.from = from;
        #[allow(clippy::cast_possible_truncation)]
        let span = (minutes * 60_000.0).round() as i64;
        fault.to = from + span;
        Ok(fault)
    }

    fn matches(&self, user: &User, view: &View) -> bool {
        // Peers of unlisted networks are located as the plan's Others.
        self.isp.is_none_or(|i| i == user.isp.min(UNLISTED_ISP - 1))
            && self.channel.is_none_or(|c| c == view.channel)
            && self.district.is_none_or(|d| d == user.district)
    }

    fn during(&self, at: i64) -> bool {
        (self.from..self.to).contains(&at)
    }

    /// The fault as `faults.json` lists it.
    pub fn to_json(&self, calendar: &Calendar) -> Value {
        let name = |i: Option<u8>, names: &[&str]| i.map(|i| names[usize::from(i)].to_owned());
        json!({
            "isp": name(self.isp, &ISPS.map(|i| i.0)),
            "channel": name(self.channel, &CHANNELS.map(|c| c.0)),
            "district": name(self.district, &DISTRICTS.map(|d| d.0)),
            "from": calendar.minute_label(self.from),
            "to": calendar.minute_label(self.to),
            "from_ms": self.from,
            "to_ms": self.to,
            "stall": self.stall,
            "bitrate": self.bitrate,
            "startup": self.startup,
            "drop": self.drop,
        })
    }
}

/// What every fault that holds for this view at `at` does to its report.
pub fn effect(faults: &[Fault], user: &User, view: &View, at: i64) -> Effect {
    let mut e = Effect::NONE;
    for f in faults
        .iter()
        .filter(|f| f.during(at) && f.matches(user, view))
    {
        e.stall = (e.stall + f.stall.unwrap_or(0.0)).min(1.0);
        e.bitrate *= f.bitrate.unwrap_or(1.0);
        e.startup *= f.startup.unwrap_or(1.0);
    }
    e
}

/// Ends or postpones the views that `drop=` faults take out (see the module's doc).
pub fn apply_drops(pop: &mut Population, faults: &[Fault]) {
    for (k, f) in faults.iter().enumerate() {
        let Some(share) = f.drop else { continue };
        for v in &mut pop.views {
            if v.start >= f.to || v.end <= f.from || !f.matches(&pop.users[v.user as usize], v) {
                continue;
            }
            #[allow(clippy::cast_precision_loss)]
            let draw = (mix(v.id ^ (k as u64 + 1).wrapping_mul(0xFA17)) >> 11) as f64
                / (1u64 << 53) as f64;
            if draw >= share {
                continue;
            }
            if v.start < f.from {
                v.end = f.from;
                v.leaves = true;
            } else {
                // Starts once the fault is over, or not at all.
                v.start = f.to;
                v.end = v.end.max(f.to);
            }
        }
    }
    pop.views.retain(|v| v.end > v.start);
    pop.views.sort_by_key(|v| (v.start, v.id));
}

/// `faults.json`: the injected faults, the ground truth of an explanation.
pub fn ground_truth(faults: &[Fault], calendar: &Calendar) -> String {
    let doc = json!({ "faults": faults.iter().map(|f| f.to_json(calendar)).collect::<Vec<_>>() });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calendar() -> Calendar {
        Calendar::new(chrono_tz::Asia::Hong_Kong)
    }

    fn user(isp: u8, district: u8) -> User {
        User {
            peer: "p".into(),
            ip: "1.2.3.4".into(),
            isp,
            district,
            first_day: 0,
            favourite_channel: 0,
            nat: 0,
            player: 0,
            os: 0,
            clock_skew_ms: 0,
        }
    }

    fn view(user: u32, channel: u8, start: i64, end: i64) -> View {
        View {
            start,
            end,
            user,
            id: u64::from(user) * 7 + 1,
            channel,
            leaves: false,
            crowd: false,
        }
    }

    #[test]
    fn a_fault_hits_its_combination_in_its_span_only() {
        let cal = calendar();
        let f = Fault::parse(
            "isp=hkbn, district=Sha Tin,from=2012-08-07 09:31,minutes=12,stall=0.2,bitrate=0.5",
            &cal,
        )
        .expect("a fault");
        let from = cal.parse_time("2012-08-07 09:31").expect("time");
        assert_eq!((f.from, f.to), (from, from + 12 * 60_000));
        let sha_tin = u8::try_from(
            DISTRICTS
                .iter()
                .position(|d| d.0 == "Sha Tin")
                .expect("Sha Tin"),
        )
        .expect("small");
        let hkbn = user(1, sha_tin);
        let elsewhere = user(1, 0);
        let v = view(0, 3, 0, i64::MAX);
        let faults = [f];
        let hit = effect(&faults, &hkbn, &v, from + 60_000);
        assert_eq!((hit.stall, hit.bitrate, hit.startup), (0.2, 0.5, 1.0));
        assert_eq!(effect(&faults, &hkbn, &v, from - 1), Effect::NONE);
        assert_eq!(effect(&faults, &hkbn, &v, from + 12 * 60_000), Effect::NONE);
        assert_eq!(effect(&faults, &elsewhere, &v, from + 60_000), Effect::NONE);
        // Unlisted networks are located as Others.
        let others = Fault::parse("isp=Others,from=2012-08-07 09:31,minutes=1,stall=1", &cal)
            .expect("a fault");
        let unlisted = user(UNLISTED_ISP, NO_DISTRICT);
        assert!((effect(&[others], &unlisted, &v, from).stall - 1.0).abs() < 1e-12);
    }

    #[test]
    fn drops_end_views_at_the_start_and_postpone_those_starting_inside() {
        let cal = calendar();
        let f = Fault::parse("channel=main,from=2012-08-07 09:00,minutes=10,drop=1", &cal)
            .expect("a fault");
        let (from, to) = (f.from, f.to);
        let mut pop = Population {
            users: vec![user(0, 0)],
            views: vec![
                view(0, 0, from - 60_000, from + 3_600_000), // watching: leaves at `from`
                view(0, 0, from + 60_000, to + 60_000),      // starts inside: at `to`
                view(0, 0, from + 60_000, from + 120_000),   // wholly inside: gone
                view(0, 1, from + 60_000, from + 120_000),   // another channel: kept
            ],
            faults: Vec::new(),
        };
        apply_drops(&mut pop, &[f]);
        let spans: Vec<(i64, i64, u8, bool)> = pop
            .views
            .iter()
            .map(|v| (v.start - from, v.end - from, v.channel, v.leaves))
            .collect();
        assert_eq!(
            spans,
            [
                (-60_000, 0, 0, true),
                (60_000, 120_000, 1, false),
                (to - from, to - from + 60_000, 0, false),
            ]
        );
    }
}
