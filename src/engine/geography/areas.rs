//! Which map area a located peer is in, remembered per (coordinates, district): the
//! live engine and `ship` place peers the same way.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::Geography;
use super::location::{DistrictId, Location};

/// The area of a peer the map does not place (no map, or no area holds it).
pub const NO_AREA: u16 = u16::MAX;
pub const UNKNOWN_AREA: &str = "Unknown";

#[derive(Debug, Clone, Default)]
pub struct Areas {
    geography: Option<Arc<Geography>>,
    memo: FxHashMap<(u32, u32, DistrictId), u16>,
}

impl Areas {
    pub fn new(geography: Option<Arc<Geography>>) -> Self {
        Areas {
            geography,
            memo: FxHashMap::default(),
        }
    }

    pub fn geography(&self) -> Option<&Arc<Geography>> {
        self.geography.as_ref()
    }

    /// The area of a peer at `location` in the district named `district`, or `NO_AREA`.
    pub fn area_of(&mut self, location: &Location, district: &str) -> u16 {
        let Some(g) = &self.geography else {
            return NO_AREA;
        };
        let (lat, lon) = location
            .lat_lon
            .map_or((u32::MAX, u32::MAX), |(a, b)| (a.to_bits(), b.to_bits()));
        let key = (lat, lon, location.district);
        if let Some(a) = self.memo.get(&key) {
            return *a;
        }
        let area = g.area_of(location.lat_lon, district).unwrap_or(NO_AREA);
        self.memo.insert(key, area);
        area
    }

    pub fn name(&self, area: u16) -> &str {
        self.geography
            .as_ref()
            .and_then(|g| g.areas.get(area as usize))
            .map_or(UNKNOWN_AREA, |a| a.name.as_str())
    }
}
