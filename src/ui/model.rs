//! What the screens show, worked out without drawing: the regions of a layer ranked by
//! the chosen metric (views 4 and 5, their selection and export), and the labels of the
//! filter and mode. Keys (`update`) and exports read these too, so they need nothing
//! from the drawing code.

use crate::engine::geography::Layer;
use crate::engine::query::metric::Metric;
use crate::engine::query::snapshot::{Breakdown, Point};
use crate::source::frames::FrameData;
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
