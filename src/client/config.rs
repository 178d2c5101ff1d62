//! [`PublishConfig`]: everything a publish run needs. Plain data: the command line
//! (`cli/publish.rs`) fills it from flags; the demo and the tests build it from
//! [`PublishConfig::default`] and change what they need.

use std::time::Duration;

use super::access::ClientAccess;
use super::workload::WorkloadOptions;

/// Default aggregator URL.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";
/// Default number of requests in flight.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Default time one request keeps being retried before the run gives up on it.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(60);
/// Default timeout of one HTTP attempt.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One publish run.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishConfig {
    /// Base URL of the aggregator.
    pub url: String,
    /// What to send.
    pub workload: WorkloadOptions,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Cap on events sent per second (no cap when `None`).
    pub rate: Option<f64>,
    /// Expect every key to be stored already (a second run with the same seed): verification
    /// then expects `unique_processed` not to move.
    pub replay: bool,
    /// How long one request keeps being retried (connection errors, timeouts, 429, 503).
    pub retry_for: Duration,
    /// Timeout of one HTTP attempt.
    pub request_timeout: Duration,
    /// Print the report as one JSON object on the last line of stdout.
    pub json: bool,
    /// Skip the `/stats` verification (for a server that others write to as well).
    pub no_verify: bool,
    /// The API key sent and the CA certificate trusted.
    pub access: ClientAccess,
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.into(),
            workload: WorkloadOptions::default(),
            concurrency: DEFAULT_CONCURRENCY,
            rate: None,
            replay: false,
            retry_for: DEFAULT_RETRY_FOR,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            json: false,
            no_verify: false,
            access: ClientAccess::default(),
        }
    }
}
