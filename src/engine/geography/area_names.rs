//! Names for the equal areas by what they cover: an area is numbered by the bisection,
//! which says nothing to a reader, so it is also named by the district (or two) holding
//! most of its land, with a compass point where one district holds several areas
//! ("Sha Tin N", "Sha Tin S", "Tai Po/North").

use geo::{Contains, Coord, Point};

use super::Region;

/// A district is named for an area when it holds at least this share of the land.
const NAMED_SHARE: f64 = 0.3;
/// Sample points per side of an area's bounding box.
const SAMPLES: usize = 24;

/// The districts holding most of `area`'s land, largest share first: (index, share).
fn cover(area: &Region, district_at: &dyn Fn(Coord<f64>) -> Option<u16>) -> Vec<(u16, f64)> {
    let b = area.bbox;
    let mut counts: Vec<(u16, usize)> = Vec::new();
    let mut total = 0usize;
    for i in 0..SAMPLES {
        for j in 0..SAMPLES {
            let p = Coord {
                x: b.min().x + (i as f64 + 0.5) / SAMPLES as f64 * b.width(),
                y: b.min().y + (j as f64 + 0.5) / SAMPLES as f64 * b.height(),
            };
            if !area.shape.contains(&Point(p)) {
                continue;
            }
            total += 1;
            if let Some(d) = district_at(p) {
                match counts.iter_mut().find(|(k, _)| *k == d) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((d, 1)),
                }
            }
        }
    }
    let mut shares: Vec<(u16, f64)> = counts
        .into_iter()
        .map(|(d, n)| (d, n as f64 / total.max(1) as f64))
        .collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    shares
}

/// The compass point from `from` to `to` (8 directions; y is north).
fn compass(from: Coord<f64>, to: Coord<f64>) -> &'static str {
    const POINTS: [&str; 8] = ["E", "NE", "N", "NW", "W", "SW", "S", "SE"];
    let angle = (to.y - from.y).atan2(to.x - from.x).to_degrees();
    let sector = ((angle + 360.0 + 22.5) / 45.0) as usize % 8;
    POINTS[sector]
}

/// A label per area, in `areas` order: the district (or the two) holding most of its
/// land; areas with the same districts get the compass point of each among them.
pub fn area_labels(
    areas: &[Region],
    districts: &[Region],
    district_at: &dyn Fn(Coord<f64>) -> Option<u16>,
) -> Vec<String> {
    let covers: Vec<Vec<(u16, f64)>> = areas.iter().map(|a| cover(a, district_at)).collect();
    let mut labels: Vec<String> = covers
        .iter()
        .map(|shares| {
            let named: Vec<&str> = shares
                .iter()
                .enumerate()
                .filter(|(i, (_, share))| *i == 0 || *share >= NAMED_SHARE)
                .take(2)
                .map(|(_, (d, _))| districts[usize::from(*d)].name.as_str())
                .collect();
            if named.is_empty() {
                "sea".to_owned()
            } else {
                named.join("/")
            }
        })
        .collect();
    // Areas that share a name are told apart by where each lies among them.
    let named = labels.clone();
    for (i, label) in labels.iter_mut().enumerate() {
        let group: Vec<Coord<f64>> = named
            .iter()
            .zip(areas)
            .filter(|(l, _)| **l == named[i])
            .map(|(_, a)| a.anchor)
            .collect();
        if group.len() > 1 {
            let n = group.len() as f64;
            let middle = Coord {
                x: group.iter().map(|c| c.x).sum::<f64>() / n,
                y: group.iter().map(|c| c.y).sum::<f64>() / n,
            };
            *label = format!("{label} {}", compass(middle, areas[i].anchor));
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compass_points_follow_the_map() {
        let o = Coord { x: 0.0, y: 0.0 };
        assert_eq!(compass(o, Coord { x: 0.0, y: 1.0 }), "N");
        assert_eq!(compass(o, Coord { x: 1.0, y: 0.05 }), "E");
        assert_eq!(compass(o, Coord { x: -1.0, y: -1.0 }), "SW");
        assert_eq!(compass(o, Coord { x: 0.1, y: -1.0 }), "S");
    }
}
#[cfg(test)]
mod shipped {
    use super::super::Geography;

    /// The shipped map's areas are named by the districts they cover: Sha Tin is the
    /// area around it, and nearly every name is told apart from the others.
    #[test]
    fn the_shipped_areas_are_named_by_their_districts() {
        let g = Geography::shipped();
        let districts: Vec<&str> = g.districts.iter().map(|d| d.name.as_str()).collect();
        for a in &g.areas {
            let names = a.label.trim_end_matches(|c: char| " NSEW".contains(c));
            assert!(
                names.split('/').all(|n| districts.contains(&n)),
                "{}: {}",
                a.name,
                a.label
            );
        }
        let sha_tin = g.area_of(None, "Sha Tin").expect("an area");
        assert!(g.areas[usize::from(sha_tin)].label.contains("Sha Tin"));
        let distinct: std::collections::BTreeSet<&str> =
            g.areas.iter().map(|a| a.label.as_str()).collect();
        assert!(distinct.len() >= 32, "{distinct:?}");
    }
}
