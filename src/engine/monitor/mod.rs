//! The live engine behind `watch` and `replay`: ingests records as they come
//! ([`ingest`]), keeps history per (ISP, channel, district, area) cell at decreasing
//! resolution, and answers [`Query`](crate::engine::query::snapshot::Query)s with immutable snapshots
//! for any filter ([`query`], [`histogram`]).
//!
//! Every record counts in its own cell and in [`ALL`], so unfiltered figures are exact
//! (they equal `report`'s); a filter sums the cells it matches. Online peers follow the
//! one rule of [`online`](crate::engine::aggregate::online): the unfiltered count from a tracker of [`ALL`],
//! a filtered one from the cells' tracker plus its correction for peers that moved
//! between cells, so that every filter counts as `report` over the filtered stream does.

mod explain;
mod histogram;

pub use explain::ExplainQuery;
mod ingest;
mod query;

use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::engine::aggregate::bucket::ReportSums;
use crate::engine::aggregate::online::{Expiry, OnlineTracker};
use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::aggregate::tiers::{ALL, CellId, History};
use crate::engine::geography::Geography;
use crate::engine::geography::areas::Areas;
use crate::engine::geography::location::{DistrictId, IpGeo, IspId};
use crate::engine::observe::catalog::Catalog;
use crate::engine::observe::first_seen::FirstSeen;
use crate::engine::observe::observation::Observation;

/// Per-peer report samples are kept this long: the longest window the TUI offers.
const SAMPLE_SPAN_MS: i64 = 15 * 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CellKey {
    isp: IspId,
    channel: u32,
    district: DistrictId,
    /// Index into the geography's areas, or `NO_AREA`.
    area: u16,
}

pub use crate::engine::geography::areas::UNKNOWN_AREA;

/// One report as the histogram needs it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    recv: i64,
    cell: CellId,
    sums: ReportSums,
    startup: Option<i64>,
}

#[derive(Debug, Default)]
struct PeerLive {
    /// Whether this engine has taken a record of the peer.
    seen: bool,
    samples: VecDeque<Sample>,
}

#[derive(Debug)]
pub struct Monitor {
    catalog: Catalog,
    qoe: QoeParams,
    cells: FxHashMap<CellKey, CellId>,
    cell_keys: Vec<CellKey>,
    history: History,
    /// Online peers of the whole stream (the cell [`ALL`]).
    online_all: OnlineTracker,
    /// Online peers per cell, and the moves between cells a filter must correct for.
    online_cells: OnlineTracker,
    peers: Vec<PeerLive>,
    startup_seen: FxHashSet<u32>,
    sampled: FxHashSet<u32>,
    clock: i64,
    latest_recv: i64,
    accepted: u64,
    /// First appearances over the whole recording, when known: "new" is then exact
    /// even for an engine started in the middle (a replay seek).
    first_seen: Option<std::sync::Arc<FirstSeen>>,
    areas: Areas,
}

impl Monitor {
    pub fn new(geo: IpGeo, qoe: QoeParams) -> Self {
        Monitor {
            catalog: Catalog::new(geo),
            qoe,
            cells: FxHashMap::default(),
            cell_keys: Vec::new(),
            history: History::default(),
            online_all: OnlineTracker::new(Expiry::Eager),
            online_cells: OnlineTracker::new(Expiry::Eager),
            peers: Vec::new(),
            startup_seen: FxHashSet::default(),
            sampled: FxHashSet::default(),
            clock: i64::MIN,
            latest_recv: i64::MIN,
            accepted: 0,
            first_seen: None,
            areas: Areas::default(),
        }
    }

    /// Places peers in the geography's areas, for the Map view and area filters.
    #[must_use]
    pub fn with_geography(mut self, geography: std::sync::Arc<Geography>) -> Self {
        self.areas = Areas::new(Some(geography));
        self
    }

    /// Judges "new peer" by the recording's first appearances rather than by what this
    /// engine has seen.
    #[must_use]
    pub fn with_first_seen(mut self, first_seen: std::sync::Arc<FirstSeen>) -> Self {
        self.first_seen = Some(first_seen);
        self
    }

    fn area_name(&self, area: u16) -> &str {
        self.areas.name(area)
    }

    fn area_of(&mut self, obs: &Observation) -> u16 {
        let district = self.catalog.geo.district_name(obs.location.district);
        self.areas.area_of(&obs.location, district)
    }

    fn cell_of(&mut self, obs: &Observation) -> CellId {
        let key = CellKey {
            isp: obs.location.isp,
            channel: obs.channel,
            district: obs.location.district,
            area: self.area_of(obs),
        };
        if let Some(&id) = self.cells.get(&key) {
            return id;
        }
        let id = CellId::try_from(self.cell_keys.len()).unwrap_or(ALL - 1);
        self.cell_keys.push(key);
        self.cells.insert(key, id);
        id
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn clock(&self) -> i64 {
        self.clock
    }

    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Buckets held across tiers: bounded whatever the length of the event.
    pub fn history_slots(&self) -> usize {
        self.history.slot_count()
    }
}
