//! The workload flags shared by `aggregator publish` and `aggregator bench ceiling`: one flag
//! set, one [`WorkloadOptions`], so that the ceiling measures the very stream `publish` sends.

use clap::Args;

use super::parse;
use crate::client::workload::{self as defaults, WorkloadOptions};

/// What to generate. `--events` and `--batch-size` default per command (see
/// [`WorkloadArgs::options`]).
#[derive(Debug, Clone, Args)]
pub struct WorkloadArgs {
    /// Events to send, duplicates included [default: 5000 for publish, 200000 for bench ceiling].
    #[arg(long, env = "AGG_PUBLISH_EVENTS")]
    pub events: Option<u64>,
    /// Share of the sent events that re-send an event already generated (0 to below 1).
    #[arg(long, env = "AGG_PUBLISH_DUPLICATE_RATIO",
          default_value_t = defaults::DEFAULT_DUPLICATE_RATIO, value_parser = parse::ratio)]
    pub duplicate_ratio: f64,
    /// Number of distinct topics.
    #[arg(long, env = "AGG_PUBLISH_TOPICS", default_value_t = defaults::DEFAULT_TOPICS,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub topics: u32,
    /// Events per request or commit; 1 sends single-event POSTs (a bare object, not an array)
    /// [default: 100 for publish, 1000 for bench ceiling].
    #[arg(long, env = "AGG_PUBLISH_BATCH_SIZE", value_parser = parse::positive)]
    pub batch_size: Option<usize>,
    /// Approximate size of each event's payload object, in bytes.
    #[arg(long, env = "AGG_PUBLISH_PAYLOAD_BYTES", default_value_t = defaults::DEFAULT_PAYLOAD_BYTES)]
    pub payload_bytes: usize,
    /// Seed of the stream: the same seed gives the same keys, topics, payloads and request
    /// shapes, so a second run with the same seed re-sends keys already stored.
    #[arg(long, env = "AGG_PUBLISH_SEED")]
    pub seed: Option<u64>,
}

impl WorkloadArgs {
    /// The options, with this command's defaults for the flags left out.
    pub fn options(&self, default_events: u64, default_batch_size: usize) -> WorkloadOptions {
        WorkloadOptions {
            events: self.events.unwrap_or(default_events),
            duplicate_ratio: self.duplicate_ratio,
            topics: self.topics,
            batch_size: self.batch_size.unwrap_or(default_batch_size),
            mixed: false,
            payload_bytes: self.payload_bytes,
            seed: self.seed,
        }
    }
}
