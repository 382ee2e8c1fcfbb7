//! What the screens show, worked out without drawing: the regions of a layer ranked by
//! the chosen metric (views 4 and 5, their selection and export), and the labels of the
//! filter and mode. Keys (`update`) and exports read these too, so they need nothing
//! from the drawing code.

use crate::engine::explain::{Contributor, Explanation, Target};
use crate::engine::geography::Layer;
use crate::engine::monitor::ExplainQuery;
use crate::engine::query::metric::{Better, Metric};
use crate::engine::query::snapshot::{Breakdown, Point};
use crate::source::frames::FrameData;
use crate::ui::request::BASELINE_MS;
use crate::ui::state::{Cursor, Mode, UiState};

/// A region with its figures in the window (none when nobody reported there).
pub struct RankedRegion<'a> {
    pub index: usize,
    pub name: &'a str,
    pub code: &'a str,
    /// What a reader knows it by (an area's districts).
    pub label: &'a str,
    pub value: Option<f64>,
    pub row: Option<&'a Breakdown>,
}

/// Which of two values of `metric` an on-call engineer wants to see first: the worse
/// (the lower QoE, the higher startup), or the larger for counts; no value last.
pub fn worst_first(metric: Metric, a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Greater, Less};
    match (a, b) {
        (Some(x), Some(y)) => match metric.info().better {
            Better::Higher => x.total_cmp(&y),
            Better::Lower | Better::Neither => y.total_cmp(&x),
        },
        (Some(_), None) => Less,
        (None, Some(_)) => Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// The groups of a breakdown (ISPs, channels), worst first by `metric`.
pub fn ranked_groups(rows: &[Breakdown], metric: Metric) -> Vec<&Breakdown> {
    let mut ranked: Vec<&Breakdown> = rows.iter().collect();
    ranked.sort_by(|a, b| {
        worst_first(metric, metric.of(&a.point), metric.of(&b.point))
            .then_with(|| a.name.cmp(&b.name))
    });
    ranked
}

/// A bar's length in `width` cells for `v` among values from `lo` to `hi`: counts
/// from zero; other metrics over the span of the values shown, so that continuity
/// 0.88 and 0.956 do not look alike (the lowest still gets one cell).
pub fn bar_len(metric: Metric, v: f64, (lo, hi): (f64, f64), width: usize) -> usize {
    let w = width as f64;
    let len = if metric.info().better == Better::Neither {
        if hi > 0.0 { v / hi * w } else { 0.0 }
    } else if hi > lo {
        1.0 + (v - lo) / (hi - lo) * (w - 1.0)
    } else {
        w
    };
    (len.round().max(0.0) as usize).min(width)
}

/// The lowest and highest of some values (0, 0 when there are none).
pub fn span_of(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) }
}

/// Every region of `layer`, worst value first, regions without a value last.
pub fn ranking(data: &FrameData, layer: Layer, metric: Metric) -> Vec<RankedRegion<'_>> {
    let Ok(geo) = &data.geography else {
        return Vec::new();
    };
    let (regions, rows) = match layer {
        Layer::Districts => (&geo.districts, &data.snapshot.by_district),
        Layer::Areas => (&geo.areas, &data.snapshot.by_area),
    };
    let mut out: Vec<RankedRegion> = regions
        .iter()
        .enumerate()
        .map(|(index, r)| {
            let row = rows.iter().find(|b| b.name == r.name);
            RankedRegion {
                index,
                name: &r.name,
                code: &r.code,
                label: &r.label,
                value: row.and_then(|b| metric.of(&b.point)),
                row,
            }
        })
        .collect();
    out.sort_by(|a, b| worst_first(metric, a.value, b.value).then_with(|| a.name.cmp(b.name)));
    out
}

impl RankedRegion<'_> {
    /// How a list names it: a district by name, an area by number and districts
    /// ("25 Sha Tin").
    pub fn list_name(&self) -> String {
        if self.label == self.name {
            self.name.to_owned()
        } else {
            format!("{} {}", self.code, self.label)
        }
    }

    /// How a panel's title names it: "Area 25 · Sha Tin", "Sha Tin (ST)".
    pub fn title(&self) -> String {
        if self.label == self.name {
            format!("{} ({})", self.name, self.code)
        } else {
            format!("{} · {}", self.name, self.label)
        }
    }
}

/// The name `steps` places from `current` along the ranking (the first when none).
pub fn step(ranking: &[RankedRegion], current: Option<&str>, steps: isize) -> Option<String> {
    if ranking.is_empty() {
        return None;
    }
    let from = current
        .and_then(|c| ranking.iter().position(|r| r.name == c))
        .unwrap_or(0) as isize;
    let at = (from + steps).clamp(0, ranking.len() as isize - 1) as usize;
    Some(ranking[at].name.to_owned())
}

/// The selected region: the one named, else the top of the ranking.
pub fn selected<'a>(
    ranking: &'a [RankedRegion<'a>],
    name: Option<&str>,
) -> Option<&'a RankedRegion<'a>> {
    name.and_then(|n| ranking.iter().find(|r| r.name == n))
        .or_else(|| ranking.first())
}

/// "isp=PCCW,HKBN channel=main", or "no filter".
pub fn filter_label(ui: &UiState) -> String {
    let f = &ui.filter;
    let mut parts = Vec::new();
    for (name, set) in [
        ("isp", &f.isps),
        ("channel", &f.channels),
        ("district", &f.districts),
        ("area", &f.areas),
    ] {
        if !set.is_empty() {
            parts.push(format!(
                "{name}={}",
                set.iter().cloned().collect::<Vec<_>>().join(",")
            ));
        }
    }
    if parts.is_empty() {
        "no filter".into()
    } else {
        parts.join(" ")
    }
}

/// LIVE, REPLAY ×speed, PAUSED, or END once the replay has reached the recording's end.
pub fn mode_label(ui: &UiState, at_end: bool) -> String {
    match ui.mode {
        Mode::Live => "LIVE".into(),
        Mode::Replay if at_end => "END".into(),
        Mode::Replay if ui.paused => "PAUSED".into(),
        Mode::Replay => match ui.speed() {
            Some(x) => format!("REPLAY ×{x}"),
            None => "REPLAY ×max".into(),
        },
    }
}

/// The metric's usual value: the median of its one-minute values over the hour before
/// the current window, from at least five of them (counts per window scaled to the
/// window). A tile's trend is against this, so it stays "worse" through an incident
/// instead of turning "→" once the dip stops deepening.
pub fn baseline(data: &FrameData, metric: Metric) -> Option<f64> {
    let s = &data.snapshot;
    baseline_at(data, metric, s.at, s.window_ms)
}

/// The usual value of a window of `window_ms` ending at `end`: the median of the
/// one-minute values over the hour before the window (the Timeline's faint line, one
/// per point, and the tiles' trend).
pub fn baseline_at(data: &FrameData, metric: Metric, end: i64, window_ms: i64) -> Option<f64> {
    let before = end - window_ms;
    let scale = if metric == Metric::NewPeers {
        window_ms as f64 / 60_000.0
    } else {
        1.0
    };
    let minutes = &data.snapshot.minutes;
    // Oldest first: the hour is one contiguous run.
    let from = minutes.partition_point(|p| p.at <= before - BASELINE_MS);
    let to = minutes.partition_point(|p| p.at <= before);
    let mut values: Vec<f64> = minutes[from..to.max(from)]
        .iter()
        .filter_map(|p| timeline_value(data, metric, p, 60_000))
        .map(|v| v * scale)
        .collect();
    if values.len() < 5 {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// How a value compares with its baseline: the change in percent (`None` when there
/// is no baseline, or it is 0 and so is the value).
pub fn change_pct(value: Option<f64>, baseline: Option<f64>) -> Option<f64> {
    let (v, b) = (value?, baseline?);
    if b.abs() < f64::EPSILON {
        return (v.abs() >= f64::EPSILON).then_some(f64::INFINITY.copysign(v));
    }
    Some((v - b) / b.abs() * 100.0)
}

/// A timeline point's value, or `None` where there is no data: a window that starts
/// before the recording (or the live backfill) would count what was never read as 0.
pub fn timeline_value(
    data: &FrameData,
    metric: Metric,
    point: &Point,
    step_ms: i64,
) -> Option<f64> {
    let read = data.start.is_none_or(|start| point.at - step_ms >= start);
    read.then(|| metric.of(point)).flatten()
}

/// The timeline point the time cursor stands on (the nearest to its time), by index.
pub fn cursor_point(data: &FrameData, cursor: Option<Cursor>) -> Option<usize> {
    let points = &data.snapshot.timeline;
    match cursor? {
        Cursor::Newest => points.len().checked_sub(1),
        Cursor::At(at) => nearest_point(points, at),
    }
}

fn nearest_point(points: &[Point], at: i64) -> Option<usize> {
    (0..points.len()).min_by_key(|&i| (points[i].at - at).unsigned_abs())
}

/// The cursor `steps` points further along the timeline, kept inside it; a cursor not
/// yet shown starts on the newest point. On the newest point it follows the clock.
pub fn move_cursor(data: &FrameData, cursor: Option<Cursor>, steps: isize) -> Option<Cursor> {
    let points = &data.snapshot.timeline;
    let last = points.len().checked_sub(1)?;
    let Some(from) = cursor_point(data, cursor) else {
        return Some(Cursor::Newest);
    };
    let to = (from as isize + steps).clamp(0, last as isize) as usize;
    Some(if to == last {
        Cursor::Newest
    } else {
        Cursor::At(points[to].at)
    })
}

/// Where `n` / `N` take the time cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertJump {
    /// To this alert's start, inside the range shown.
    Cursor(i64),
    /// Replay: to this alert's start, with the clock moved so the range holds it.
    Seek { clock: i64, cursor: i64 },
    /// No alert that way.
    Nothing,
}

/// The next (`forward`) or previous alert from the cursor: among the alerts the range
/// shows, else (replay only) the first one past the range either way, whose start is
/// then put mid-range.
pub fn jump_alert(
    data: &FrameData,
    cursor: Option<Cursor>,
    forward: bool,
    replay: bool,
) -> AlertJump {
    let points = &data.snapshot.timeline;
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return AlertJump::Nothing;
    };
    let step = data.snapshot.timeline_step_ms;
    let (from, to) = (first.at - step, last.at);
    // Alerts are compared by the point they fall on, so one that shares the cursor's
    // point is not jumped to again.
    let here = cursor_point(data, cursor);
    let point_of = |at: i64| nearest_point(points, at).unwrap_or(0);
    let mut in_range = data
        .alerts
        .iter()
        .filter(|a| (from..=to).contains(&a.at))
        .map(|a| a.at);
    let found = if forward {
        in_range.find(|&at| here.is_none_or(|h| point_of(at) > h))
    } else {
        in_range.rfind(|&at| here.is_none_or(|h| point_of(at) < h))
    };
    if let Some(at) = found {
        return AlertJump::Cursor(at);
    }
    if !replay {
        return AlertJump::Nothing;
    }
    let beyond = if forward {
        // Not fired by the clock, so not among the alerts shown, even if it started
        // inside the range.
        data.next_alert.clone()
    } else {
        data.alerts.iter().rfind(|a| a.at < from).cloned()
    };
    let Some(alert) = beyond else {
        return AlertJump::Nothing;
    };
    let half = (to - from) / 2;
    let mut clock = (alert.at + half).max(alert.fired_at);
    if let Some(end) = data.end {
        clock = clock.min(end).max(alert.fired_at);
    }
    AlertJump::Seek {
        clock,
        cursor: alert.at,
    }
}

/// What view 7 explains for a metric, if it can: ratios of sums and online peers.
pub fn explain_target(metric: Metric) -> Option<Target> {
    match metric {
        Metric::Qoe => Some(Target::Qoe),
        Metric::Continuity => Some(Target::Continuity),
        Metric::StartupP50 | Metric::StartupP90 => Some(Target::Startup),
        Metric::Online => Some(Target::Online),
        Metric::UpKbps => Some(Target::Up),
        Metric::DownKbps => Some(Target::Down),
        Metric::NewPeers | Metric::Contribution | Metric::P2pShare => None,
    }
}

/// Where view 7's window ends: the Timeline's cursor, or the clock.
pub fn explain_moment(ui: &UiState, clock: i64) -> i64 {
    match ui.cursor {
        Some(Cursor::At(t)) => t.min(clock),
        _ => clock,
    }
}

/// View 7's question: the metric in focus, in the window ending at the Timeline's
/// cursor (or the clock), under the filter, against the chosen baseline.
pub fn explain_query(ui: &UiState, clock: i64) -> Option<ExplainQuery> {
    Some(ExplainQuery {
        target: explain_target(ui.metric())?,
        moment: explain_moment(ui, clock),
        window_ms: ui.window_ms(),
        baseline: ui.explain_baseline,
        filter: ui.filter.clone(),
    })
}

/// View 7's rows, in the order drawn: the cause, then the single places beside it.
pub fn explain_rows(e: &Explanation) -> impl Iterator<Item = &Contributor> {
    e.contributors.iter().chain(&e.others)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_comes_first_and_bars_span_the_values_shown() {
        use std::cmp::Ordering::{Greater, Less};
        assert_eq!(worst_first(Metric::Qoe, Some(3.2), Some(3.9)), Less);
        assert_eq!(
            worst_first(Metric::StartupP90, Some(3000.0), Some(9000.0)),
            Greater
        );
        assert_eq!(
            worst_first(Metric::Online, Some(10.0), Some(200.0)),
            Greater
        );
        assert_eq!(worst_first(Metric::Qoe, None, Some(1.0)), Greater);
        // Continuity 0.88 and 0.956 of a 20-cell bar: 1 cell and 20, not 18 and 20.
        let span = span_of([0.88, 0.956, 0.92].into_iter());
        assert_eq!(bar_len(Metric::Continuity, 0.88, span, 20), 1);
        assert_eq!(bar_len(Metric::Continuity, 0.956, span, 20), 20);
        // Counts stay proportional.
        assert_eq!(bar_len(Metric::Online, 50.0, (10.0, 200.0), 20), 5);
    }

    #[test]
    fn a_change_against_the_baseline_is_in_percent() {
        assert_eq!(change_pct(Some(3.0), Some(4.0)), Some(-25.0));
        assert_eq!(change_pct(Some(5.0), None), None);
        assert_eq!(change_pct(Some(0.0), Some(0.0)), None);
        assert_eq!(change_pct(Some(2.0), Some(0.0)), Some(f64::INFINITY));
    }
}
