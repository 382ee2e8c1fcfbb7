//! peerscope: terminal monitoring of P2P live streaming from feedback logs.
//!
//! The library holds everything the `peerscope` binary does. Dependencies run one way:
//! `engine` (plain Rust, no I/O: records, metrics, online peers, geography, probes,
//! alerts) ← `recording` (the log layout, reading minute files) ← `report` (tables),
//! `source` (replay and live frame sources) and `server` (`serve`) ← `ui` (the TUI) ←
//! `commands` (`replay`, `watch`). `simulate` writes Olympic-style workloads, `agent` is
//! the probe agent, `cli` and `config` are what every command shares.

pub mod agent;
pub mod cli;
pub mod clickhouse;
pub mod commands;
pub mod config;
pub mod engine;
pub mod geodata;
pub mod recording;
pub mod report;
pub mod server;
pub mod ship;
pub mod signals;
pub mod simulate;
pub mod source;
pub mod ui;
