//! `e`: the current view's data, under the active filters, as CSV — exactly what is on
//! the screen, with full precision.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::engine::explain::Dimension;
use crate::engine::geography::Layer;
use crate::engine::probes::snapshot::{Comparison, format_as_path};
use crate::engine::query::metric::Metric;

use super::format;
use super::model::{self, filter_label};
use super::request::BASELINE_LINE_MAX_STEP_MS;
use super::state::{Split, UiState, View};
use crate::source::frames::FrameData;

fn num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v}"))
}

/// The CSV text of the view `ui.view` shows.
pub fn csv(data: &FrameData, ui: &UiState) -> String {
    let s = &data.snapshot;
    let time = |ms: i64| format::clock(ms, data.tz, ui.utc, "%Y-%m-%dT%H:%M:%S%:z");
    let mut out = String::new();
    match ui.view {
        View::Overview => {
            out.push_str("section,name,metric,value\n");
            for m in Metric::ALL {
                let _ = writeln!(out, "kpi,all,{},{}", m.label(), num(m.of(&s.current)));
            }
            for (section, rows) in [("isp", &s.by_isp), ("channel", &s.by_channel)] {
                for r in rows {
                    let _ = writeln!(
                        out,
                        "{section},{},online peers,{}",
                        quote(&r.name),
                        r.point.online
                    );
                }
            }
            for a in &data.alerts {
                let _ = writeln!(out, "alert,{},{},{}", time(a.at), a.kind.label(), a.value);
            }
        }
        View::Timeline => {
            let metric = ui.metric();
            out.push_str("time,series,metric,value\n");
            let series: Vec<(&str, &Vec<_>)> = if ui.split == Split::None || s.split.is_empty() {
                vec![("all", &s.timeline)]
            } else {
                s.split.iter().map(|(n, p)| (n.as_str(), p)).collect()
            };
            for (name, points) in series {
                for p in points {
                    let _ = writeln!(
                        out,
                        "{},{},{},{}",
                        time(p.at),
                        quote(name),
                        metric.label(),
                        num(model::timeline_value(data, metric, p, s.timeline_step_ms))
                    );
                }
            }
            // The usual line, as drawn.
            if (ui.split == Split::None || s.split.is_empty())
                && s.timeline_step_ms <= BASELINE_LINE_MAX_STEP_MS
            {
                for p in &s.timeline {
                    let usual = model::baseline_at(data, metric, p.at, s.timeline_step_ms);
                    let _ = writeln!(
                        out,
                        "{},usual,{},{}",
                        time(p.at),
                        metric.label(),
                        num(usual)
                    );
                }
            }
        }
        View::District | View::Map => {
            let layer = if ui.view == View::District {
                Layer::Districts
            } else {
                Layer::Areas
            };
            let metric = ui.metric();
            out.push_str("region,code,metric,value,online_peers\n");
            for r in model::ranking(data, layer, metric) {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{}",
                    quote(r.name),
                    quote(r.code),
                    metric.label(),
                    num(r.value),
                    r.row.map_or(0, |b| b.point.online)
                );
            }
        }
        View::Probes => probes_csv(data, &time, &mut out),
        View::Explain => explain_csv(data, &mut out),
        View::Histogram => {
            let h = &s.histogram;
            let label = h.metric.map_or("", super::views::histogram::title);
            out.push_str("metric,bin_low,bin_high,share_of_peers\n");
            for (lo, hi, share) in &h.bins {
                let _ = writeln!(out, "{label},{lo},{hi},{share}");
            }
        }
    }
    out
}

/// View 7, one row per place listed: `section` is `cause` or `beside`; a dimension
/// that is not part of the place is empty (`report --explain --format csv` columns).
fn explain_csv(data: &FrameData, out: &mut String) {
    let dimensions: Vec<&str> = Dimension::ALL.iter().map(|d| d.key()).collect();
    let _ = writeln!(
        out,
        "section,metric,{},share,actual,expected,peers",
        dimensions.join(",")
    );
    let Some(e) = &data.explanation else { return };
    let rows = e
        .contributors
        .iter()
        .map(|c| ("cause", c))
        .chain(e.others.iter().map(|c| ("beside", c)));
    for (section, c) in rows {
        let names: Vec<String> = c
            .cause
            .iter()
            .map(|n| n.as_deref().map(quote).unwrap_or_default())
            .collect();
        let _ = writeln!(
            out,
            "{section},{},{},{},{},{},{}",
            e.target.key(),
            names.join(","),
            c.share,
            num(c.actual),
            num(c.expected),
            c.peers
        );
    }
}

/// View 6, one row per matrix cell (or per point of the open destination's series)
/// and per route change: `section` says which; `value` is the metric's value or the
/// event's score; `detail` the comparison with the other probes (`latest`), the latest
/// value against the path's usual one (`usual`, whose value is the usual), or the AS
/// paths.
fn probes_csv(data: &FrameData, time: &dyn Fn(i64) -> String, out: &mut String) {
    let p = &data.probes;
    let metric = p.metric.name();
    out.push_str("section,time,dest,group,probe,metric,value,detail\n");
    if let Some(d) = &p.detail {
        for (probe, points) in &d.series {
            for (at, v) in points {
                let _ = writeln!(
                    out,
                    "series,{},{},{},{},{metric},{v},",
                    time(*at),
                    quote(&d.dest),
                    quote(&d.group),
                    quote(probe)
                );
            }
        }
    } else {
        for r in &p.rows {
            for (probe, c) in p.probes.iter().zip(&r.cells) {
                let Some(c) = c else { continue };
                let mut row = |section: &str, value: f64, against: Option<Comparison>| {
                    let _ = writeln!(
                        out,
                        "{section},{},{},{},{},{metric},{value},{}",
                        time(p.now),
                        quote(&r.dest),
                        quote(&r.group),
                        quote(probe),
                        against.map_or("", Comparison::label)
                    );
                };
                row("latest", c.value, c.comparison);
                if let Some(usual) = c.usual {
                    row("usual", usual, c.vs_usual);
                }
            }
        }
    }
    for e in &p.events {
        let _ = writeln!(
            out,
            "route_change,{},{},,{},score,{},{} -> {}",
            time(e.at),
            quote(&e.dest),
            quote(&e.probe),
            e.score,
            format_as_path(&e.before),
            format_as_path(&e.after)
        );
    }
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Writes the export into `dir` as `peerscope-VIEW-YYYYMMDD-HHMMSS.csv` (the clock of
/// the data, not of the wall), never over an earlier export of the same second.
pub fn write(data: &FrameData, ui: &UiState, dir: &Path) -> anyhow::Result<PathBuf> {
    let stamp = format::clock(data.snapshot.at, data.tz, ui.utc, "%Y%m%d-%H%M%S");
    let stem = format!("peerscope-{}-{stamp}", ui.view.name());
    let (mut file, path) = create_new(dir, &stem)
        .with_context(|| format!("cannot write {}", dir.join(&stem).display()))?;
    file.write_all(csv(data, ui).as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Creates `STEM.csv` in `dir`, or `STEM-2.csv`, `STEM-3.csv`… when it exists: two
/// exports of one paused moment are two files.
fn create_new(dir: &Path, stem: &str) -> std::io::Result<(std::fs::File, PathBuf)> {
    for n in 1..1000 {
        let path = if n == 1 {
            dir.join(format!("{stem}.csv"))
        } else {
            dir.join(format!("{stem}-{n}.csv"))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "999 exports of this moment already exist",
    ))
}

/// The status-bar message after an export: the file's name first, its directory
/// last, so a narrow bar that cuts the end still names the file.
pub fn message(path: &Path, ui: &UiState) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(String::new, |d| format!(" in {}", d.display()));
    format!("exported {name} ({}){dir}", filter_label(ui))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_never_replaces_one_of_the_same_second() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut first, p1) =
            create_new(dir.path(), "peerscope-overview-20120807-093000").expect("first");
        first.write_all(b"first").expect("write");
        let (_, p2) = create_new(dir.path(), "peerscope-overview-20120807-093000").expect("second");
        assert_eq!(
            p1.file_name().and_then(|n| n.to_str()),
            Some("peerscope-overview-20120807-093000.csv")
        );
        assert_eq!(
            p2.file_name().and_then(|n| n.to_str()),
            Some("peerscope-overview-20120807-093000-2.csv")
        );
        assert_eq!(std::fs::read(&p1).expect("read"), b"first");
    }
}
