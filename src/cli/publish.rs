//! `aggregator publish` flags and their conversion into a [`PublishConfig`].

use std::time::Duration;

use clap::Args;

use super::access::ClientAccessArgs;
use super::parse;
use super::workload::WorkloadArgs;
use crate::client::config::{self as defaults, PublishConfig};
use crate::client::workload::{DEFAULT_BATCH_SIZE, DEFAULT_EVENTS};

/// Everything `aggregator publish` takes.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Base URL of the aggregator.
    #[arg(long, env = "AGG_URL", default_value = defaults::DEFAULT_URL)]
    pub url: String,
    /// What to send.
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Mix request shapes: about half single-event POSTs, the rest batches of 2 to --batch-size.
    #[arg(long, env = "AGG_PUBLISH_MIXED")]
    pub mixed: bool,
    /// Requests in flight at once.
    #[arg(long, env = "AGG_PUBLISH_CONCURRENCY", default_value_t = defaults::DEFAULT_CONCURRENCY,
          value_parser = parse::positive)]
    pub concurrency: usize,
    /// Cap on events sent per second (no cap when absent).
    #[arg(long, env = "AGG_PUBLISH_RATE", value_parser = parse::rate)]
    pub rate: Option<f64>,
    /// Expect every key to be stored already (a second run with the same --seed): verification
    /// then expects `unique_processed` not to move.
    #[arg(long, env = "AGG_PUBLISH_REPLAY", requires = "seed")]
    pub replay: bool,
    /// How long one request keeps being retried (connection errors, timeouts, 429, 503):
    /// seconds, or a duration such as 90s or 2m.
    #[arg(long, env = "AGG_PUBLISH_RETRY_FOR", default_value = "60", value_parser = parse::duration)]
    pub retry_for: Duration,
    /// Timeout of one HTTP attempt: seconds, or a duration such as 500ms or 30s.
    #[arg(long, env = "AGG_PUBLISH_REQUEST_TIMEOUT", default_value = "30",
          value_parser = parse::duration)]
    pub request_timeout: Duration,
    /// Print the report as one JSON object on the last line of stdout.
    #[arg(long, env = "AGG_PUBLISH_JSON")]
    pub json: bool,
    /// Skip the `/stats` verification. Verification assumes this is the only publisher writing
    /// to the server during the run; use this flag when others share it.
    #[arg(long, env = "AGG_PUBLISH_NO_VERIFY")]
    pub no_verify: bool,
    /// API key and trusted CA certificate.
    #[command(flatten)]
    pub access: ClientAccessArgs,
}

impl PublishArgs {
    /// The run's configuration.
    pub fn config(&self) -> PublishConfig {
        let mut workload = self.workload.options(DEFAULT_EVENTS, DEFAULT_BATCH_SIZE);
        workload.mixed = self.mixed;
        PublishConfig {
            url: self.url.clone(),
            workload,
            concurrency: self.concurrency,
            rate: self.rate,
            replay: self.replay,
            retry_for: self.retry_for,
            request_timeout: self.request_timeout,
            json: self.json,
            no_verify: self.no_verify,
            access: self.access.access(),
        }
    }
}
