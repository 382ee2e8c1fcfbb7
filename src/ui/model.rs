//! What the screens show, worked out without drawing: the regions of a layer ranked by
//! the chosen metric (views 4 and 5, their selection and export), and the labels of the
//! filter and mode. Keys (`update`) and exports read these too, so they need nothing
//! from the drawing code.

use crate::engine::geography::Layer;
use crate::engine::query::metric::Metric;
use crate::engine::query::snapshot::{Breakdown, Point};
use crate::source::frames::FrameData;
use crate::ui::request::BASELINE_MS;
use crate::ui::state::{Mode, UiState};

/// A region with its figures in the window (none when nobody reported there).
pub struct RankedRegion<'a> {
    pub index: usize,
    pub name: &'a str,
    pub code: &'a str,
    pub value: Option<f64>,
    pub row: Option<&'a Breakdown>,
}

/// Every region of `layer`, best value first, regions without a value last.
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
                value: row.and_then(|b| metric.of(&b.point)),
                row,
            }
        })
        .collect();
    out.sort_by(|a, b| match (a.value, b.value) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.name.cmp(b.name)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.name.cmp(b.name),
    });
    out
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
    let end = s.at - s.window_ms;
    let scale = if metric == Metric::NewPeers {
        s.window_ms as f64 / 60_000.0
    } else {
        1.0
    };
    let mut values: Vec<f64> = s
        .minutes
        .iter()
        .filter(|p| p.at > end - BASELINE_MS && p.at <= end)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_against_the_baseline_is_in_percent() {
        assert_eq!(change_pct(Some(3.0), Some(4.0)), Some(-25.0));
        assert_eq!(change_pct(Some(5.0), None), None);
        assert_eq!(change_pct(Some(0.0), Some(0.0)), None);
        assert_eq!(change_pct(Some(2.0), Some(0.0)), Some(f64::INFINITY));
    }
}
