//! The engine: plain Rust, no terminal, network or runtime. Sources push records in;
//! reports and views read figures out.
//!
//! - [`record`]: the record schemas and their readers;
//! - [`cmcd`]: CMCD reports, their readers, and the sessions derived from them;
//! - [`cube`]: the facts `ship` derives for the ClickHouse cubes, and their bins;
//! - [`observe`]: records to observations (interning, dedup, location);
//! - [`aggregate`]: the online rule, buckets, history tiers, QoE, and `report`'s exact
//!   aggregator;
//! - [`monitor`]: the live engine behind `watch` and `replay`, answering [`query`]s;
//! - [`geography`]: IP location and the map;
//! - [`probes`]: probe paths, their series and route-change scores;
//! - [`alerts`]: rules over one-minute points;
//! - [`explain`]: which cells hold a change from a baseline;
//! - [`calendar`]: days and clock times in the configured zone.

pub mod aggregate;
pub mod alerts;
pub mod calendar;
pub mod cdn;
pub mod cmcd;
pub mod cube;
pub mod explain;
pub mod geography;
pub mod monitor;
pub mod observe;
pub mod probes;
pub mod query;
pub mod record;
