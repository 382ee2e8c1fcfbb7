//! Days and clock labels in the configured time zone (DESIGN §5: "days and displayed
//! clocks use the configured time zone").
//!
//! Event times are UTC milliseconds; a day is a local calendar date, numbered as days
//! since 1970-01-01. Lookups are cached per minute because records arrive in time order.

use std::cell::Cell;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

pub const MINUTE_MS: i64 = 60_000;

/// A local calendar day, as days since 1970-01-01.
pub type Day = i32;

/// Kept as its zone's name.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Calendar {
    tz: Tz,
    cache: Cell<(i64, Day)>,
}

impl From<Calendar> for String {
    fn from(calendar: Calendar) -> String {
        calendar.tz.name().to_owned()
    }
}

impl TryFrom<String> for Calendar {
    type Error = String;

    fn try_from(zone: String) -> Result<Calendar, String> {
        zone.parse::<Tz>()
            .map(Calendar::new)
            .map_err(|e| format!("time zone {zone}: {e}"))
    }
}

impl Calendar {
    pub fn new(tz: Tz) -> Self {
        Calendar {
            tz,
            cache: Cell::new((i64::MIN, 0)),
        }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The local day containing the instant `ms`.
    pub fn day_of(&self, ms: i64) -> Day {
        let minute = ms.div_euclid(MINUTE_MS);
        let (cached_minute, day) = self.cache.get();
        if cached_minute == minute {
            return day;
        }
        let day = self
            .local(minute * MINUTE_MS)
            .map_or(0, |t| days_since_epoch(t.date_naive()));
        self.cache.set((minute, day));
        day
    }

    fn local(&self, ms: i64) -> Option<DateTime<Tz>> {
        DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.with_timezone(&self.tz))
    }

    /// `YYYY-MM-DD HH:MM` of the instant in this zone.
    pub fn minute_label(&self, ms: i64) -> String {
        self.local(ms).map_or_else(
            || ms.to_string(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
    }

    /// `YYYY-MM-DD` of a day.
    pub fn day_label(day: Day) -> String {
        date_of(day).format("%Y-%m-%d").to_string()
    }

    /// Parses `YYYY-MM-DD` into a day number.
    pub fn parse_day(text: &str) -> Option<Day> {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .ok()
            .map(days_since_epoch)
    }

    /// The first instant of a local day, in ms (the earliest, if midnight repeats).
    pub fn day_start(&self, day: Day) -> i64 {
        let date = date_of(day);
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        self.tz
            .from_local_datetime(&midnight)
            .earliest()
            .map_or_else(
                || midnight.and_utc().timestamp_millis(),
                |t| t.timestamp_millis(),
            )
    }

    /// Parses a local time `YYYY-MM-DD HH:MM[:SS]` or `YYYY-MM-DDTHH:MM[:SS]`, an
    /// RFC 3339 time with offset, or a bare date (its midnight), into ms since epoch.
    pub fn parse_time(&self, text: &str) -> Option<i64> {
        let text = text.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(t.timestamp_millis());
        }
        for fmt in [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, fmt) {
                return self
                    .tz
                    .from_local_datetime(&naive)
                    .earliest()
                    .map(|t| t.timestamp_millis());
            }
        }
        Self::parse_day(text).map(|d| self.day_start(d))
    }
}

/// What `g` (go to) reads, for its prompt and its error.
pub const GO_TO_FORMATS: &str = "09:30, 2012-08-07 09:30, -15m or +2h";

impl Calendar {
    /// What was typed after `g`, with `now` the clock it moves: a time of `now`'s day
    /// (`09:30`, `09:30:15`), any time [`Self::parse_time`] reads, or a step from `now`
    /// (`-15m`, `+2h`, `-90s`, `-1d`). Times are in this calendar's zone.
    pub fn parse_go_to(&self, text: &str, now: i64) -> Option<i64> {
        let text = text.trim();
        if let Some(step) = parse_step(text) {
            return now.checked_add(step);
        }
        for fmt in ["%H:%M", "%H:%M:%S"] {
            if let Ok(time) = chrono::NaiveTime::parse_from_str(text, fmt) {
                let date = self.local(now)?.date_naive();
                return self
                    .tz
                    .from_local_datetime(&date.and_time(time))
                    .earliest()
                    .map(|t| t.timestamp_millis());
            }
        }
        self.parse_time(text)
    }
}

/// `±N` with a unit `s`, `m`, `h` or `d`, in ms.
fn parse_step(text: &str) -> Option<i64> {
    let sign = match text.as_bytes().first()? {
        b'-' => -1,
        b'+' => 1,
        _ => return None,
    };
    let body = &text[1..];
    let unit_at = body.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = body.split_at(unit_at);
    let n: i64 = digits.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" | "min" => MINUTE_MS,
        "h" => 60 * MINUTE_MS,
        "d" => 24 * 60 * MINUTE_MS,
        _ => return None,
    };
    n.checked_mul(unit_ms)?.checked_mul(sign)
}

fn days_since_epoch(date: NaiveDate) -> Day {
    date.num_days_from_ce() - 719_163
}

fn date_of(day: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hong_kong_days_start_at_16_utc() {
        let cal = Calendar::new(chrono_tz::Asia::Hong_Kong);
        let day = Calendar::parse_day("2012-08-07").expect("date");
        let start = cal.day_start(day);
        assert_eq!(cal.minute_label(start), "2012-08-07 00:00");
        assert_eq!(cal.day_of(start), day);
        assert_eq!(cal.day_of(start - 1), day - 1);
        assert_eq!(Calendar::day_label(day), "2012-08-07");
        assert_eq!(
            cal.parse_time("2012-08-07 09:30"),
            Some(start + 570 * MINUTE_MS)
        );
        assert_eq!(
            cal.parse_time("2012-08-07T01:30:00Z"),
            Some(start + 570 * MINUTE_MS)
        );
    }

    #[test]
    fn go_to_reads_a_time_of_the_day_a_full_time_or_a_step() {
        let cal = Calendar::new(chrono_tz::Asia::Hong_Kong);
        let now = cal.parse_time("2012-08-07 10:45").expect("time");
        let at = |t: &str| cal.parse_go_to(t, now).map(|ms| cal.minute_label(ms));
        assert_eq!(at("09:30").as_deref(), Some("2012-08-07 09:30"));
        assert_eq!(at("23:59:30").as_deref(), Some("2012-08-07 23:59"));
        assert_eq!(at("2012-08-06 09:30").as_deref(), Some("2012-08-06 09:30"));
        assert_eq!(at("-15m").as_deref(), Some("2012-08-07 10:30"));
        assert_eq!(at("+2h").as_deref(), Some("2012-08-07 12:45"));
        assert_eq!(at("-1d").as_deref(), Some("2012-08-06 10:45"));
        for bad in ["", "9.30", "-15", "-m", "+2y", "25:00", "soon"] {
            assert_eq!(at(bad), None, "{bad:?}");
        }
        // In UTC (after `t`), 09:30 is 09:30 UTC of the day it is there.
        let utc = Calendar::new(chrono_tz::UTC);
        assert_eq!(
            utc.parse_go_to("09:30", now)
                .map(|ms| utc.minute_label(ms))
                .as_deref(),
            Some("2012-08-07 09:30")
        );
    }
}
