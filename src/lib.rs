//! peerscope: terminal monitoring of P2P live streaming from feedback logs.
//!
//! The library holds everything the `peerscope` binary does; `engine` is plain Rust
//! with no I/O, `recording` reads log directories, `report` prints tables from them,
//! `simulate` writes Olympic-style workloads, `agent` is the probe agent.

pub mod agent;
pub mod cli;
pub mod config;
pub mod engine;
pub mod geodata;
pub mod recording;
pub mod report;
pub mod server;
pub mod signals;
pub mod simulate;
pub mod source;
pub mod ui;
