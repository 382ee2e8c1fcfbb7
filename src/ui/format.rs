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

/// How far behind a source is, in the unit that reads best: `12 s`, `14 min`, `5 h`,
/// `3 d` (a source silent for years should not read as nine digits of seconds).
pub fn lag(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        ..90 => format!("{s} s"),
        90..5_400 => format!("{} min", s / 60),
        5_400..172_800 => format!("{} h", s / 3_600),
        _ => format!("{} d", s / 86_400),
    }
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

/// `text` in lines of at most `width` characters, broken between words (a word
/// longer than a line is split), every line after the first indented by `indent`:
/// a narrow panel shows the whole text rather than cut it.
pub fn wrap(text: &str, width: usize, indent: usize) -> Vec<String> {
    let width = width.max(indent + 1);
    // Leading spaces are kept: they can mean something (an alert's mark column).
    let body = text.trim_start_matches(' ');
    let mut line = " ".repeat((text.len() - body.len()).min(width - 1));
    let mut lines: Vec<String> = Vec::new();
    // Characters on the line, and whether a word is on it yet.
    let mut used = line.len();
    let mut words_on_line = false;
    for word in body.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let gap = usize::from(words_on_line);
            if used + gap + word.len() <= width {
                if words_on_line {
                    line.push(' ');
                }
                line.extend(&word);
                used += gap + word.len();
                words_on_line = true;
                break;
            }
            if !words_on_line {
                // Too long for any line: as much as fits here, the rest on the next.
                let fits = width - used;
                line.extend(&word[..fits]);
                word.drain(..fits);
            }
            lines.push(std::mem::take(&mut line));
            line.push_str(&" ".repeat(indent));
            used = indent;
            words_on_line = false;
        }
    }
    if words_on_line || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` in at most `width` characters without cutting a word: whole, or up to the
/// last word (or `/`-separated part) that fits, then "…".
pub fn fit(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return text.to_owned();
    }
    let room = width.saturating_sub(1);
    let cut = (1..=room)
        .rev()
        .find(|&i| chars[i] == ' ' || chars[i - 1] == '/')
        .unwrap_or(room);
    let kept: String = chars[..cut].iter().collect();
    format!("{}…", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_read_in_their_unit() {
        assert_eq!(lag(-5), "0 s");
        assert_eq!(lag(89_999), "89 s");
        assert_eq!(lag(90_000), "1 min");
        assert_eq!(lag(7_200_000), "2 h");
        assert_eq!(lag(451_963_399_000), "5231 d");
    }

    #[test]
    fn wrapping_keeps_every_word_and_indents_what_follows() {
        assert_eq!(
            wrap("online +67 % in 7 min (11 min)", 14, 3),
            ["online +67 %", "   in 7 min", "   (11 min)"]
        );
        assert_eq!(wrap("short", 14, 3), ["short"]);
        assert_eq!(
            wrap("recording olympics-2012-sample ok", 12, 2),
            ["recording", "  olympics-2", "  012-sample", "  ok"]
        );
        assert_eq!(wrap("", 10, 2), [""]);
        assert_eq!(
            wrap(" 09:29–09:40 flash crowd:", 14, 3),
            [" 09:29–09:40", "   flash", "   crowd:"]
        );
    }

    #[test]
    fn fitting_keeps_whole_words() {
        assert_eq!(fit("25 Sha Tin", 14), "25 Sha Tin");
        assert_eq!(fit("04 Islands/Tuen Mun SW", 14), "04 Islands/…");
        assert_eq!(fit("07 Central and Western", 14), "07 Central…");
        assert_eq!(fit("Supercalifragilistic", 6), "Super…");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(7006), "7,006");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(value(Metric::Qoe, Some(3.8371)), "3.84");
        assert_eq!(value(Metric::Continuity, None), "–");
    }
}
