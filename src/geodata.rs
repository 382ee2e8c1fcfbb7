//! The IP-location sources the settings name: the table, then MaxMind databases when
//! configured (placed on the map's districts). One loader, so `report`, `replay` and
//! `watch` locate peers the same way.

use std::sync::Arc;

use crate::config::Settings;
use crate::engine::geography::Geography;
use crate::engine::geography::location::IpGeo;
use crate::engine::geography::maxmind::MaxMind;

/// The IP-location table, with the MaxMind databases behind it when configured.
/// `geography` places database coordinates in districts (without it: `Unknown`).
pub fn load_ip_geo(
    settings: &Settings,
    geography: Option<Arc<Geography>>,
) -> anyhow::Result<IpGeo> {
    // The table's own error names the file and the cause; say once where it was chosen.
    let geo = IpGeo::load(&settings.ip_geo)
        .map_err(|e| anyhow::anyhow!("{e} ({})", settings.ip_geo_origin))?;
    if settings.city_db.is_none() && settings.asn_db.is_none() {
        return Ok(geo);
    }
    let db = MaxMind::open(settings.city_db.as_deref(), settings.asn_db.as_deref())?;
    Ok(geo.with_maxmind(db, &settings.isp_names, geography))
}

/// The map files of the settings, loaded; an error becomes the message views 4 and 5
/// show (the other views, and `report`, work without a map).
pub fn load_geography(settings: &Settings) -> Result<Arc<Geography>, String> {
    Geography::load(&settings.districts, &settings.outline)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}
