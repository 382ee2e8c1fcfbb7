//! Numbers and times as the screens print them.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::engine::query::metric::Metric;

/// A metric's value with its usual precision (the metric table's); "–" when there is
/// none.
pub fn value(metric: Metric, v: Option<f64>) -> String {
    let Some(v) = v else { return "–".into() };
    let decimals = metric.info().decimals;
    match metric {
        // Counts and milliseconds read best with thousands separators.
        Metric::Online | Metric::NewPeers | Metric::StartupP50 | Metric::StartupP90 => {
            thousands(v.round() as i64)
        }
        _ => format!("{v:.decimals$}"),
    }
}

/// Units shown beside a value.
pub fn unit(metric: Metric) -> &'static str {
    metric.info().unit
}

/// Short tile titles that fit 80 columns.
pub fn short(metric: Metric) -> &'static str {
    metric.info().short
}

pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The instant in the zone shown (`tz`, or UTC when `utc`), with `pattern`.
pub fn clock(ms: i64, tz: Tz, utc: bool, pattern: &str) -> String {
    let Some(t) = DateTime::<Utc>::from_timestamp_millis(ms) else {
        return "–".into();
    };
    if utc {
        t.format(pattern).to_string()
    } else {
        t.with_timezone(&tz).format(pattern).to_string()
    }
}

/// The zone's abbreviation as shown in the status bar.
pub fn zone(ms: i64, tz: Tz, utc: bool) -> String {
    if utc {
        "UTC".into()
    } else {
        clock(ms, tz, false, "%Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(7006), "7,006");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(value(Metric::Qoe, Some(3.8371)), "3.84");
        assert_eq!(value(Metric::Continuity, None), "–");
    }
}
