//! `aggregator bench ...` subcommands and their conversion into each benchmark's config.

use clap::{Args, Subcommand};

use super::parse;
use super::serve::StoreArgs;
use super::workload::WorkloadArgs;
use crate::bench::ceiling::CeilingConfig;

/// Events the ceiling commits when `--events` is not given.
const CEILING_EVENTS: u64 = 200_000;
/// Events per commit when `--batch-size` is not given.
const CEILING_BATCH_SIZE: usize = 1_000;
/// Concurrent committers when `--connections` is not given.
const CEILING_CONNECTIONS: usize = 4;

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Commit a generated workload directly through the store (no HTTP, no actors).
    Ceiling(CeilingArgs),
}

/// Everything `aggregator bench ceiling` takes.
#[derive(Debug, Clone, Args)]
pub struct CeilingArgs {
    /// Store to measure (PostgreSQL URL or, without it, the embedded store in `--data-dir`).
    #[command(flatten)]
    pub store: StoreArgs,
    /// The workload, with the flags of `aggregator publish`.
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Concurrent committers (each has its own counter row, like a shard).
    #[arg(long, default_value_t = CEILING_CONNECTIONS, value_parser = parse::positive)]
    pub connections: usize,
    /// Commit the rows alone, leaving every counter row untouched: with `--batch-size 1`, the
    /// naive durable design (one plain commit per event) that group commit is measured against.
    #[arg(long)]
    pub without_counters: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

impl CeilingArgs {
    /// The benchmark's configuration.
    pub fn config(&self) -> CeilingConfig {
        CeilingConfig {
            store: self.store.options(),
            workload: self.workload.options(CEILING_EVENTS, CEILING_BATCH_SIZE),
            connections: self.connections,
            counted: !self.without_counters,
            json: self.json,
        }
    }
}
