//! Where peers are: their ISP and district from their address ([`location`], with
//! MaxMind databases behind it in [`maxmind`]), and the map — districts from a GeoJSON
//! file, the land outline, and the outline divided into equal areas (DESIGN §5, §6 views
//! 4 and 5).
//!
//! Everything is kept in a local equirectangular projection (x = lon · cos φ₀, y = lat,
//! φ₀ the outline's middle latitude), where areas and shapes are true enough for a
//! city. The equal areas come from recursive bisection: the region is cut across its
//! longer side where the land on one side is exactly its share (found by bisection on
//! the cut), so the result is deterministic and every area is within a hair of the
//! mean. Point lookups go through a coarse grid of candidate regions, then the exact
//! polygon test; rasters for the terminal are computed once per size and kept.

mod area_names;
pub mod areas;
pub mod location;
pub mod maxmind;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use geo::{
    Area, BooleanOps, BoundingRect, Centroid, Contains, Coord, InteriorPoint, MultiPolygon, Point,
    Polygon, Rect,
};

/// Areas the land is divided into (DESIGN §6 view 5).
pub const AREA_COUNT: usize = 38;

#[derive(Debug, thiserror::Error)]
pub enum GeographyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// A district or an area: a named shape in projected coordinates.
#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    /// What a reader knows it by: a district's name; an area's districts
    /// ("Sha Tin N", "Tai Po/North").
    pub label: String,
    /// Short code drawn on the map (`CW`, `A07`).
    pub code: String,
    pub shape: MultiPolygon<f64>,
    pub bbox: Rect<f64>,
    /// A point inside the shape (for labels, and for peers known only by district).
    pub anchor: Coord<f64>,
}

impl Region {
    fn new(name: String, code: String, shape: MultiPolygon<f64>) -> Option<Region> {
        let bbox = shape.bounding_rect()?;
        let anchor = shape
            .interior_point()
            .or_else(|| shape.centroid())
            .map(Point::into)?;
        Some(Region {
            label: name.clone(),
            name,
            code,
            shape,
            bbox,
            anchor,
        })
    }

    /// Land area in projected square degrees.
    pub fn area(&self) -> f64 {
        self.shape.unsigned_area()
    }
}

/// Candidate regions per grid cell: a point is tested only against a few polygons.
#[derive(Debug, Clone)]
struct Grid {
    bounds: Rect<f64>,
    columns: usize,
    rows: usize,
    cells: Vec<Vec<u16>>,
}

impl Grid {
    const SIDE: usize = 64;

    fn new(bounds: Rect<f64>, regions: &[Region]) -> Grid {
        let (columns, rows) = (Self::SIDE, Self::SIDE);
        let mut cells = vec![Vec::new(); columns * rows];
        for (i, r) in regions.iter().enumerate() {
            let (c0, r0) = Self::cell_of(bounds, columns, rows, r.bbox.min());
            let (c1, r1) = Self::cell_of(bounds, columns, rows, r.bbox.max());
            for row in r0..=r1 {
                for col in c0..=c1 {
                    cells[row * columns + col].push(i as u16);
                }
            }
        }
        Grid {
            bounds,
            columns,
            rows,
            cells,
        }
    }

    fn cell_of(bounds: Rect<f64>, columns: usize, rows: usize, p: Coord<f64>) -> (usize, usize) {
        let fx = (p.x - bounds.min().x) / bounds.width().max(f64::EPSILON);
        let fy = (p.y - bounds.min().y) / bounds.height().max(f64::EPSILON);
        let col = ((fx * columns as f64).floor().max(0.0) as usize).min(columns - 1);
        let row = ((fy * rows as f64).floor().max(0.0) as usize).min(rows - 1);
        (col, row)
    }

    fn candidates(&self, p: Coord<f64>) -> &[u16] {
        if p.x < self.bounds.min().x
            || p.x > self.bounds.max().x
            || p.y < self.bounds.min().y
            || p.y > self.bounds.max().y
        {
            return &[];
        }
        let (col, row) = Self::cell_of(self.bounds, self.columns, self.rows, p);
        &self.cells[row * self.columns + col]
    }
}

/// Which of the two region sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Districts,
    Areas,
}

/// Region index per map pixel, row-major from the top; pixels are square in projected
/// units, two per terminal cell (upper and lower half).
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<Option<u16>>,
}

impl Raster {
    pub fn at(&self, x: usize, y: usize) -> Option<u16> {
        self.pixels.get(y * self.width + x).copied().flatten()
    }
}

#[derive(Debug)]
pub struct Geography {
    pub districts: Vec<Region>,
    pub areas: Vec<Region>,
    pub outline: MultiPolygon<f64>,
    pub bounds: Rect<f64>,
    /// cos φ₀ of the projection.
    pub x_scale: f64,
    district_grid: Grid,
    area_grid: Grid,
    rasters: Mutex<HashMap<(Layer, usize, usize), Arc<Raster>>>,
}

fn read(path: &Path) -> Result<String, GeographyError> {
    std::fs::read_to_string(path).map_err(|source| GeographyError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// A GeoJSON feature's properties and its polygons in lon/lat.
type Feature = (
    serde_json::Map<String, serde_json::Value>,
    MultiPolygon<f64>,
);

/// The features of a GeoJSON text.
fn features(text: &str, path: &str) -> Result<Vec<Feature>, GeographyError> {
    let invalid = |message: String| GeographyError::Invalid {
        path: path.to_owned(),
        message,
    };
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e| invalid(format!("not GeoJSON: {e}")))?;
    let geojson::GeoJson::FeatureCollection(fc) = gj else {
        return Err(invalid("expected a FeatureCollection".into()));
    };
    let mut out = Vec::new();
    for (i, f) in fc.features.into_iter().enumerate() {
        let props = f.properties.clone().unwrap_or_default();
        let Some(geometry) = f.geometry else {
            return Err(invalid(format!("feature {i} has no geometry")));
        };
        let shape: geo::Geometry<f64> = geometry
            .try_into()
            .map_err(|e| invalid(format!("feature {i}: {e}")))?;
        let multi = match shape {
            geo::Geometry::Polygon(p) => MultiPolygon::new(vec![p]),
            geo::Geometry::MultiPolygon(m) => m,
            _ => {
                return Err(invalid(format!(
                    "feature {i}: expected a Polygon or MultiPolygon"
                )));
            }
        };
        out.push((props, multi));
    }
    Ok(out)
}

fn project(shape: &MultiPolygon<f64>, x_scale: f64) -> MultiPolygon<f64> {
    use geo::MapCoords;
    shape.map_coords(|c| Coord {
        x: c.x * x_scale,
        y: c.y,
    })
}

impl Geography {
    /// Loads districts (features with `name` and `code`) and the land outline.
    pub fn load(districts: &Path, outline: &Path) -> Result<Geography, GeographyError> {
        Geography::from_geojson(
            &read(districts)?,
            &districts.display().to_string(),
            &read(outline)?,
            &outline.display().to_string(),
        )
    }

    pub fn from_geojson(
        districts_text: &str,
        districts_path: &str,
        outline_text: &str,
        outline_path: &str,
    ) -> Result<Geography, GeographyError> {
        let outline_features = features(outline_text, outline_path)?;
        let mut outline_lonlat = MultiPolygon::new(Vec::new());
        for (_, m) in outline_features {
            outline_lonlat.0.extend(m.0);
        }
        let Some(lonlat_bounds) = outline_lonlat.bounding_rect() else {
            return Err(GeographyError::Invalid {
                path: outline_path.to_owned(),
                message: "the outline is empty".into(),
            });
        };
        let x_scale = (lonlat_bounds.center().y.to_radians()).cos();
        let outline = project(&outline_lonlat, x_scale);
        let mut districts = Vec::new();
        for (i, (props, shape)) in features(districts_text, districts_path)?
            .into_iter()
            .enumerate()
        {
            let text = |k: &str| props.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let name = text("name").ok_or_else(|| GeographyError::Invalid {
                path: districts_path.to_owned(),
                message: format!("feature {i} has no \"name\" property"),
            })?;
            let code = text("code").unwrap_or_else(|| name.chars().take(3).collect());
            if let Some(r) = Region::new(name, code, project(&shape, x_scale)) {
                districts.push(r);
            }
        }
        if districts.is_empty() {
            return Err(GeographyError::Invalid {
                path: districts_path.to_owned(),
                message: "no district polygons".into(),
            });
        }
        let bounds = outline.bounding_rect().unwrap_or(lonlat_bounds);
        let mut pieces = Vec::with_capacity(AREA_COUNT);
        bisect(&outline, AREA_COUNT, &mut pieces);
        let mut areas: Vec<Region> = pieces
            .into_iter()
            .enumerate()
            .filter_map(|(i, shape)| {
                Region::new(format!("Area {:02}", i + 1), format!("{:02}", i + 1), shape)
            })
            .collect();
        let district_grid = Grid::new(bounds, &districts);
        let district_at = |p: Coord<f64>| {
            district_grid
                .candidates(p)
                .iter()
                .copied()
                .find(|&i| districts[i as usize].shape.contains(&Point(p)))
        };
        let labels = area_names::area_labels(&areas, &districts, &district_at);
        for (area, label) in areas.iter_mut().zip(labels) {
            area.label = label;
        }
        Ok(Geography {
            district_grid,
            area_grid: Grid::new(bounds, &areas),
            districts,
            areas,
            outline,
            bounds,
            x_scale,
            rasters: Mutex::new(HashMap::new()),
        })
    }

    /// The map shipped in `maps/`, built into the binary: the simulator's address plan
    /// is laid out on it, and tests read it.
    pub fn shipped() -> Geography {
        Geography::from_geojson(
            include_str!("../../../maps/hk-districts.geojson"),
            "maps/hk-districts.geojson",
            include_str!("../../../maps/hk-outline.geojson"),
            "maps/hk-outline.geojson",
        )
        .expect("the shipped map is valid (a test loads it)")
    }

    /// Projects a latitude and longitude.
    pub fn project(&self, lat: f64, lon: f64) -> Coord<f64> {
        Coord {
            x: lon * self.x_scale,
            y: lat,
        }
    }

    fn layer(&self, layer: Layer) -> (&[Region], &Grid) {
        match layer {
            Layer::Districts => (&self.districts, &self.district_grid),
            Layer::Areas => (&self.areas, &self.area_grid),
        }
    }

    /// The region of `layer` containing the projected point.
    pub fn region_at(&self, layer: Layer, p: Coord<f64>) -> Option<u16> {
        let (regions, grid) = self.layer(layer);
        grid.candidates(p)
            .iter()
            .copied()
            .find(|&i| regions[i as usize].shape.contains(&Point(p)))
    }

    pub fn district_at(&self, lat: f64, lon: f64) -> Option<u16> {
        self.region_at(Layer::Districts, self.project(lat, lon))
    }

    /// The area of a peer: by its coordinates, else by its district's anchor point.
    pub fn area_of(&self, lat_lon: Option<(f32, f32)>, district: &str) -> Option<u16> {
        if let Some((lat, lon)) = lat_lon {
            if let Some(a) =
                self.region_at(Layer::Areas, self.project(f64::from(lat), f64::from(lon)))
            {
                return Some(a);
            }
        }
        let d = self.districts.iter().find(|d| d.name == district)?;
        self.region_at(Layer::Areas, d.anchor).or_else(|| {
            // An anchor on a coastline may miss every area: take the nearest anchor.
            self.areas
                .iter()
                .enumerate()
                .min_by(|a, b| {
                    let dist = |r: &Region| {
                        (r.anchor.x - d.anchor.x).powi(2) + (r.anchor.y - d.anchor.y).powi(2)
                    };
                    dist(a.1).total_cmp(&dist(b.1))
                })
                .map(|(i, _)| i as u16)
        })
    }

    /// The raster of `layer` fitting `width` × `height` pixels (a pixel is half a
    /// terminal cell), centred; computed once per size.
    pub fn raster(&self, layer: Layer, width: usize, height: usize) -> Arc<Raster> {
        let key = (layer, width, height);
        if let Some(r) = self.rasters.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return r;
        }
        let raster = Arc::new(self.compute_raster(layer, width, height));
        if let Ok(mut m) = self.rasters.lock() {
            if m.len() > 16 {
                m.clear(); // sizes come and go with resizes; keep the cache small
            }
            m.insert(key, Arc::clone(&raster));
        }
        raster
    }

    /// The projected point at the centre of pixel (x, y) of a `width` × `height` raster.
    pub fn pixel_centre(&self, width: usize, height: usize, x: usize, y: usize) -> Coord<f64> {
        let b = self.bounds;
        let scale = (b.width() / width.max(1) as f64).max(b.height() / height.max(1) as f64);
        let x0 = b.center().x - scale * width as f64 / 2.0;
        let y1 = b.center().y + scale * height as f64 / 2.0;
        Coord {
            x: x0 + (x as f64 + 0.5) * scale,
            y: y1 - (y as f64 + 0.5) * scale,
        }
    }

    fn compute_raster(&self, layer: Layer, width: usize, height: usize) -> Raster {
        let mut pixels = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                pixels.push(self.region_at(layer, self.pixel_centre(width, height, x, y)));
            }
        }
        Raster {
            width,
            height,
            pixels,
        }
    }
}

/// Cuts `region` into `n` pieces of equal area, appending them to `out` in a fixed order.
fn bisect(region: &MultiPolygon<f64>, n: usize, out: &mut Vec<MultiPolygon<f64>>) {
    if n <= 1 {
        out.push(region.clone());
        return;
    }
    let Some(b) = region.bounding_rect() else {
        return;
    };
    let first = n / 2;
    let total = region.unsigned_area();
    let target = total * first as f64 / n as f64;
    let across_x = b.width() >= b.height();
    let (lo, hi) = if across_x {
        (b.min().x, b.max().x)
    } else {
        (b.min().y, b.max().y)
    };
    let side = |from: f64, to: f64| -> MultiPolygon<f64> {
        let rect = if across_x {
            Rect::new(
                Coord {
                    x: from,
                    y: b.min().y - 1.0,
                },
                Coord {
                    x: to,
                    y: b.max().y + 1.0,
                },
            )
        } else {
            Rect::new(
                Coord {
                    x: b.min().x - 1.0,
                    y: from,
                },
                Coord {
                    x: b.max().x + 1.0,
                    y: to,
                },
            )
        };
        region.intersection(&MultiPolygon::new(vec![Polygon::from(rect)]))
    };
    let (mut a, mut z) = (lo, hi);
    for _ in 0..40 {
        let mid = f64::midpoint(a, z);
        if side(lo - 1.0, mid).unsigned_area() < target {
            a = mid;
        } else {
            z = mid;
        }
        if (z - a) < (hi - lo) * 1e-7 {
            break;
        }
    }
    let cut = f64::midpoint(a, z);
    bisect(&side(lo - 1.0, cut), first, out);
    bisect(&side(cut, hi + 1.0), n - first, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Intersects;

    fn hong_kong() -> Geography {
        Geography::shipped()
    }

    /// A small deterministic generator for test points.
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn eighteen_districts_and_thirty_eight_equal_areas_covering_the_land() {
        let g = hong_kong();
        assert_eq!(g.districts.len(), 18);
        assert_eq!(g.areas.len(), AREA_COUNT);
        let land = g.outline.unsigned_area();
        let mean = land / AREA_COUNT as f64;
        let sum: f64 = g.areas.iter().map(Region::area).sum();
        assert!(
            (sum - land).abs() / land < 1e-6,
            "areas cover {sum} of {land}"
        );
        for a in &g.areas {
            let ratio = a.area() / mean;
            assert!(
                (0.8..=1.2).contains(&ratio),
                "{} is {ratio:.3} of the mean",
                a.name
            );
        }
        // No overlap: pairwise intersections have no area.
        for (i, a) in g.areas.iter().enumerate() {
            for b in &g.areas[i + 1..] {
                if a.bbox.intersects(&b.bbox) {
                    let shared = a.shape.intersection(&b.shape).unsigned_area();
                    assert!(
                        shared < mean * 1e-6,
                        "{} and {} overlap by {shared}",
                        a.name,
                        b.name
                    );
                }
            }
        }
    }

    #[test]
    fn lookup_agrees_with_the_exact_test_on_random_points() {
        let g = hong_kong();
        let mut seed = 7;
        let b = g.bounds;
        let mut inside = 0;
        for _ in 0..10_000 {
            let p = Coord {
                x: b.min().x + lcg(&mut seed) * b.width(),
                y: b.min().y + lcg(&mut seed) * b.height(),
            };
            let exact: Vec<u16> = g
                .districts
                .iter()
                .enumerate()
                .filter(|(_, d)| d.shape.contains(&Point(p)))
                .map(|(i, _)| i as u16)
                .collect();
            let found = g.region_at(Layer::Districts, p);
            assert_eq!(found, exact.first().copied(), "at {p:?}");
            inside += usize::from(found.is_some());
        }
        assert!(inside > 1000, "too few points on land: {inside}");
    }

    #[test]
    fn every_pixel_belongs_to_the_district_containing_its_centre() {
        let g = hong_kong();
        let (w, h) = (120, 70);
        let raster = g.raster(Layer::Districts, w, h);
        let mut painted = vec![0usize; g.districts.len()];
        for y in 0..h {
            for x in 0..w {
                let c = g.pixel_centre(w, h, x, y);
                let exact = g
                    .districts
                    .iter()
                    .position(|d| d.shape.contains(&Point(c)))
                    .map(|i| i as u16);
                assert_eq!(raster.at(x, y), exact, "pixel {x},{y}");
                if let Some(d) = exact {
                    painted[d as usize] += 1;
                }
            }
        }
        assert!(
            painted.iter().all(|n| *n > 0),
            "a district got no pixel: {painted:?}"
        );
        // The second call is the cached raster.
        assert!(Arc::ptr_eq(&raster, &g.raster(Layer::Districts, w, h)));
    }

    #[test]
    fn peers_are_placed_by_coordinates_or_their_district() {
        let g = hong_kong();
        let sha_tin = g
            .districts
            .iter()
            .find(|d| d.name == "Sha Tin")
            .expect("Sha Tin");
        let (lat, lon) = (sha_tin.anchor.y, sha_tin.anchor.x / g.x_scale);
        assert_eq!(
            g.district_at(lat, lon)
                .map(|i| g.districts[i as usize].name.as_str()),
            Some("Sha Tin")
        );
        let by_point = g.area_of(Some((lat as f32, lon as f32)), "Sha Tin");
        let by_district = g.area_of(None, "Sha Tin");
        assert!(by_point.is_some() && by_district.is_some());
        assert_eq!(g.area_of(None, "Atlantis"), None);
    }
}
