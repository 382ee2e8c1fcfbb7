//! The engine: plain Rust, no terminal, network or runtime. Sources push records in;
//! reports and views read figures out.

pub mod aggregate;
pub mod alerts;
pub mod bucket;
pub mod calendar;
pub mod catalog;
pub mod filter;
pub mod first_seen;
pub mod geography;
pub mod intern;
pub mod location;
pub mod maxmind;
pub mod metric;
pub mod monitor;
pub mod observation;
pub mod online;
pub mod probe_snapshot;
pub mod probes;
pub mod qoe;
pub mod record;
pub mod route_change;
pub mod seqset;
pub mod snapshot;
pub mod tiers;
