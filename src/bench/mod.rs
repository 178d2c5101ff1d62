//! `aggregator bench ...`: measurements that are not tests.
//!
//! [`ceiling`] writes a generated workload straight to a store, bypassing HTTP and the actors,
//! so that the aggregator's end-to-end rate can be compared with what its own storage layer can
//! do on the same machine in the same run (`benches/run.sh` prints the ratio).

pub mod ceiling;

use clap::Subcommand;

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Commit a generated workload directly through the store (no HTTP, no actors).
    Ceiling(ceiling::CeilingArgs),
}

/// Runs the chosen benchmark.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ceiling(args) => ceiling::run(args).await.map(drop),
    }
}
