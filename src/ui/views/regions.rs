//! What views 4 and 5 share: the regions of a layer ranked by the chosen metric, with
//! their figures, and the selection moving along that ranking.

use crate::engine::geography::Layer;
use crate::engine::metric::Metric;
use crate::engine::snapshot::Breakdown;
use crate::ui::data::FrameData;

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
