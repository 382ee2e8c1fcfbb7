//! The `peerscope` command: one binary, one subcommand per part of the system.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use peerscope::agent::{self, ProbeArgs};
use peerscope::cli::UsageError;
use peerscope::commands::{self, replay::ReplayArgs, watch::WatchArgs};
use peerscope::config::{self, CommonArgs};
use peerscope::report::{self, ReportArgs};
use peerscope::server::{self, ServeArgs};
use peerscope::simulate::{self, SimulateArgs};

#[derive(Debug, Parser)]
#[command(name = "peerscope", version, about = "Terminal monitoring for P2P live streaming", long_about = None)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Daily, per-minute, per-ISP and per-session tables from a recording or CDN access
    /// logs; per-node figures from access logs
    Report(ReportArgs),
    /// A feedback server: accept records over HTTP, append them to per-minute logs, serve them
    Serve(ServeArgs),
    /// Generate an Olympic-style workload into a recording directory
    Simulate(SimulateArgs),
    /// Replay a recording in the terminal UI, driven by a replay clock
    Replay(ReplayArgs),
    /// Follow feedback servers or log directories live in the terminal UI
    Watch(WatchArgs),
    /// A probe agent: measure TCP connect RTT and failures to destinations, POST probe records
    Probe(ProbeArgs),
    /// Ship a recording's records, as cube facts, into ClickHouse (schema: --init)
    Ship(peerscope::ship::ShipArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::resolve(&cli.common) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("peerscope: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Command::Report(args) => report::run(args, &settings),
        Command::Serve(args) => server::run(args, &settings),
        Command::Simulate(args) => simulate::run(args, &settings),
        Command::Replay(args) => commands::replay::run(args, &settings),
        Command::Watch(args) => commands::watch::run(args, &settings),
        Command::Probe(args) => agent::run(args, &settings),
        Command::Ship(args) => peerscope::ship::run(args, &settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peerscope: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
