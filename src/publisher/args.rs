//! `aggregator publish` options: the clap struct [`PublishArgs`] and its defaults.
//!
//! `main` parses these; the demo and the tests build them from [`PublishArgs::default`] and
//! change what they need, so the defaults live in `DEFAULT_*` constants shared by clap and
//! `Default`.

use std::time::Duration;

use clap::Args;

/// Default aggregator URL.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";
/// Default number of events sent (duplicates included).
pub const DEFAULT_EVENTS: u64 = 5_000;
/// Default share of the sent events that re-send an earlier event.
pub const DEFAULT_DUPLICATE_RATIO: f64 = 0.2;
/// Default number of topics.
pub const DEFAULT_TOPICS: u32 = 10;
/// Default events per request.
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// Default number of requests in flight.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Default approximate size of one payload object; the whole event is about 100 bytes more.
pub const DEFAULT_PAYLOAD_BYTES: usize = 200;
/// Default time one request keeps being retried before the run gives up on it.
pub const DEFAULT_RETRY_FOR_SECONDS: f64 = 60.0;
/// Default timeout of one HTTP attempt.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: f64 = 30.0;

/// Everything `aggregator publish` needs.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Base URL of the aggregator.
    #[arg(long, env = "AGG_URL", default_value = DEFAULT_URL)]
    pub url: String,
    /// Events to send, duplicates included.
    #[arg(long, env = "AGG_PUBLISH_EVENTS", default_value_t = DEFAULT_EVENTS)]
    pub events: u64,
    /// Share of the sent events that re-send an event already generated (0 to below 1).
    #[arg(long, env = "AGG_PUBLISH_DUPLICATE_RATIO", default_value_t = DEFAULT_DUPLICATE_RATIO,
          value_parser = parse_ratio)]
    pub duplicate_ratio: f64,
    /// Number of distinct topics.
    #[arg(long, env = "AGG_PUBLISH_TOPICS", default_value_t = DEFAULT_TOPICS,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub topics: u32,
    /// Events per request; 1 sends single-event POSTs (a bare object, not an array).
    #[arg(long, env = "AGG_PUBLISH_BATCH_SIZE", default_value_t = DEFAULT_BATCH_SIZE,
          value_parser = parse_positive)]
    pub batch_size: usize,
    /// Mix request shapes: about half single-event POSTs, the rest batches of 2 to --batch-size.
    #[arg(long, env = "AGG_PUBLISH_MIXED")]
    pub mixed: bool,
    /// Requests in flight at once.
    #[arg(long, env = "AGG_PUBLISH_CONCURRENCY", default_value_t = DEFAULT_CONCURRENCY,
          value_parser = parse_positive)]
    pub concurrency: usize,
    /// Cap on events sent per second (no cap when absent).
    #[arg(long, env = "AGG_PUBLISH_RATE", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Seed of the stream: the same seed gives the same keys, topics, payloads and request
    /// shapes, so a second run with the same seed re-sends keys the server already holds.
    #[arg(long, env = "AGG_PUBLISH_SEED")]
    pub seed: Option<u64>,
    /// Expect every key to be stored already (a second run with the same --seed): verification
    /// then expects `unique_processed` not to move.
    #[arg(long, env = "AGG_PUBLISH_REPLAY", requires = "seed")]
    pub replay: bool,
    /// Approximate size of each event's payload object, in bytes.
    #[arg(long, env = "AGG_PUBLISH_PAYLOAD_BYTES", default_value_t = DEFAULT_PAYLOAD_BYTES)]
    pub payload_bytes: usize,
    /// Seconds one request keeps being retried (connection errors, timeouts, 429, 503).
    #[arg(long, env = "AGG_PUBLISH_RETRY_FOR", default_value_t = DEFAULT_RETRY_FOR_SECONDS,
          value_parser = parse_seconds)]
    pub retry_for: f64,
    /// Timeout of one HTTP attempt, in seconds.
    #[arg(long, env = "AGG_PUBLISH_REQUEST_TIMEOUT",
          default_value_t = DEFAULT_REQUEST_TIMEOUT_SECONDS, value_parser = parse_seconds)]
    pub request_timeout: f64,
    /// Print the report as one JSON object on the last line of stdout.
    #[arg(long, env = "AGG_PUBLISH_JSON")]
    pub json: bool,
    /// Skip the `/stats` verification. Verification assumes this is the only publisher writing
    /// to the server during the run; use this flag when others share it.
    #[arg(long, env = "AGG_PUBLISH_NO_VERIFY")]
    pub no_verify: bool,
}

impl Default for PublishArgs {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.into(),
            events: DEFAULT_EVENTS,
            duplicate_ratio: DEFAULT_DUPLICATE_RATIO,
            topics: DEFAULT_TOPICS,
            batch_size: DEFAULT_BATCH_SIZE,
            mixed: false,
            concurrency: DEFAULT_CONCURRENCY,
            rate: None,
            seed: None,
            replay: false,
            payload_bytes: DEFAULT_PAYLOAD_BYTES,
            retry_for: DEFAULT_RETRY_FOR_SECONDS,
            request_timeout: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            json: false,
            no_verify: false,
        }
    }
}

impl PublishArgs {
    /// How long one request keeps being retried.
    pub fn retry_budget(&self) -> Duration {
        Duration::from_secs_f64(self.retry_for)
    }

    /// Timeout of one HTTP attempt.
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout)
    }
}

fn parse_ratio(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(ratio) if (0.0..1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!(
            "`{raw}` is not a ratio from 0 up to (not including) 1"
        )),
    }
}

fn parse_positive(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("`{raw}` is not a whole number of at least 1")),
        Ok(value) => Ok(value),
    }
}

fn parse_rate(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "`{raw}` is not a positive number of events per second"
        )),
    }
}

fn parse_seconds(raw: &str) -> Result<f64, String> {
    // Bounded so that `Duration::from_secs_f64` cannot panic.
    match raw.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.0..=86_400.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "`{raw}` is not a number of seconds from 0 to 86400"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: PublishArgs,
    }

    #[test]
    fn clap_defaults_match_the_default_impl() {
        let parsed = Wrapper::try_parse_from(["publish"]).unwrap().args;
        let default = PublishArgs::default();
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
    }

    #[test]
    fn nonsense_values_are_refused() {
        for bad in [
            ["publish", "--duplicate-ratio", "1"],
            ["publish", "--duplicate-ratio", "-0.1"],
            ["publish", "--batch-size", "0"],
            ["publish", "--concurrency", "0"],
            ["publish", "--rate", "0"],
            ["publish", "--retry-for", "nan"],
            ["publish", "--topics", "0"],
        ] {
            assert!(Wrapper::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn replay_requires_a_seed() {
        assert!(Wrapper::try_parse_from(["publish", "--replay"]).is_err());
        assert!(Wrapper::try_parse_from(["publish", "--replay", "--seed", "7"]).is_ok());
    }
}
