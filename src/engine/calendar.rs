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

#[derive(Debug, Clone)]
pub struct Calendar {
    tz: Tz,
    cache: Cell<(i64, Day)>,
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
}
