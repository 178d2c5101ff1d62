//! Configuration: the command line, with an environment-variable fallback for every flag.
//!
//! `main` parses [`Cli`]; the library only ever sees the typed structs below. Tests build
//! [`ServeConfig`] values directly (starting from [`ServeConfig::default`]) and never touch the
//! process environment. Defaults live in the `DEFAULT_*` constants so that clap and `Default`
//! cannot drift apart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::store::embedded::{EmbeddedOptions, SyncMode};
use crate::store::postgres::PostgresOptions;

/// Default listen address: loopback, so a fresh install is not exposed to the network.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Default number of shard actors.
pub const DEFAULT_SHARDS: u32 = 4;
/// Default group-commit size: a shard commits as soon as it buffers this many events.
pub const DEFAULT_BATCH_MAX_EVENTS: usize = 1000;
/// Default group-commit linger: the longest an event waits for company before its commit.
pub const DEFAULT_BATCH_LINGER_MS: u64 = 2;
/// Default fast-path budget: committed keys remembered by all shards together (about 80 bytes
/// each, so about 80 MiB when full).
pub const DEFAULT_FASTPATH_KEYS: usize = 1_000_000;
/// Default request body limit (10 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Default limit on events in one publish request.
pub const DEFAULT_MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// Default upper bound on how long a publish waits for its commit.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Default upper bound on one store operation.
pub const DEFAULT_STORE_TIMEOUT_MS: u64 = 5_000;
/// Default PostgreSQL pool size.
pub const DEFAULT_DB_POOL_SIZE: usize = 8;
/// Default limit on events in flight (buffered or committing) per shard.
pub const DEFAULT_MAX_INFLIGHT_EVENTS_PER_SHARD: usize = 20_000;
/// Default limit on HTTP requests being processed at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1024;
/// Default restart budget: shard deaths tolerated within the window before the process fails.
pub const DEFAULT_MAX_RESTARTS: usize = 20;
/// Default sliding window of the restart budget.
pub const DEFAULT_RESTART_WINDOW_SECS: u64 = 60;
/// Default deadline for a graceful shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 30_000;
/// Default name of this process's counter rows.
pub const DEFAULT_INSTANCE_ID: &str = "default";
/// Default directory of the embedded store.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// `aggregator`: an actor-based pub-sub log aggregator. Without a subcommand it runs `serve`.
#[derive(Debug, Parser)]
#[command(
    name = "aggregator",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to run; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the implicit `serve`.
    #[command(flatten)]
    pub serve: ServeConfig,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the aggregator's HTTP API (the default).
    Serve(ServeConfig),
    /// Publish a generated workload to a running aggregator and verify its counts.
    Publish(crate::publisher::PublishArgs),
    /// Start an aggregator in-process, publish a verified workload to it, keep serving.
    Demo(crate::publisher::demo::DemoArgs),
    /// Measurements (not tests): e.g. the storage ceiling.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Everything `aggregator serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "AGG_BIND", default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// Number of shard actors; topics are spread over them by a stable hash.
    #[arg(long, env = "AGG_SHARDS", default_value_t = DEFAULT_SHARDS,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub shards: u32,
    /// Where events are stored.
    #[command(flatten)]
    pub store: StoreConfig,
    /// How shards group events into commits.
    #[command(flatten)]
    pub batching: BatchConfig,
    /// Limits on what one request may ask for.
    #[command(flatten)]
    pub limits: RequestLimits,
    /// Shard restart budget.
    #[command(flatten)]
    pub supervision: SupervisionConfig,
    /// Fault injection, off by default.
    #[command(flatten)]
    pub chaos: ChaosConfig,
    /// Longest a graceful shutdown may take, in milliseconds, before the process exits anyway.
    #[arg(long, env = "AGG_SHUTDOWN_TIMEOUT_MS", default_value_t = DEFAULT_SHUTDOWN_TIMEOUT_MS)]
    pub shutdown_timeout_ms: u64,
    /// Log line format.
    #[arg(long, env = "AGG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl ServeConfig {
    /// Deadline of a graceful shutdown.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            // cannot fail: DEFAULT_BIND is a literal socket address
            bind: DEFAULT_BIND.parse().expect("valid default bind address"),
            shards: DEFAULT_SHARDS,
            store: StoreConfig::default(),
            batching: BatchConfig::default(),
            limits: RequestLimits::default(),
            supervision: SupervisionConfig::default(),
            chaos: ChaosConfig::default(),
            shutdown_timeout_ms: DEFAULT_SHUTDOWN_TIMEOUT_MS,
            log_format: LogFormat::Text,
        }
    }
}

/// Store selection and connection settings.
#[derive(Debug, Clone, Args)]
pub struct StoreConfig {
    /// PostgreSQL URL, e.g. postgres://user:pass@host/db. Without it the embedded store is used.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory of the embedded store (used when no database URL is given).
    #[arg(long, env = "AGG_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// PostgreSQL connection pool size.
    #[arg(long, env = "AGG_DB_POOL_SIZE", default_value_t = DEFAULT_DB_POOL_SIZE)]
    pub db_pool_size: usize,
    /// Upper bound on one store operation, in milliseconds; past it the request gets a 503.
    #[arg(long, env = "AGG_STORE_TIMEOUT_MS", default_value_t = DEFAULT_STORE_TIMEOUT_MS)]
    pub store_timeout_ms: u64,
    /// Name of this process's counter rows; give each aggregator sharing a database its own.
    #[arg(long, env = "AGG_INSTANCE_ID", default_value = DEFAULT_INSTANCE_ID)]
    pub instance_id: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            db_pool_size: DEFAULT_DB_POOL_SIZE,
            store_timeout_ms: DEFAULT_STORE_TIMEOUT_MS,
            instance_id: DEFAULT_INSTANCE_ID.into(),
        }
    }
}

impl StoreConfig {
    /// Upper bound on one store operation.
    pub fn store_timeout(&self) -> Duration {
        Duration::from_millis(self.store_timeout_ms)
    }

    /// The PostgreSQL settings beyond the URL.
    pub fn postgres_options(&self) -> PostgresOptions {
        PostgresOptions {
            pool_size: self.db_pool_size.max(1),
            timeout: self.store_timeout(),
            instance_id: self.instance_id.clone(),
        }
    }

    /// The embedded store's settings.
    pub fn embedded_options(&self) -> EmbeddedOptions {
        EmbeddedOptions {
            timeout: self.store_timeout(),
            sync: SyncMode::default(),
        }
    }
}

/// Group-commit knobs of the shard actors.
#[derive(Debug, Clone, Args)]
pub struct BatchConfig {
    /// A shard commits as soon as it buffers this many events.
    #[arg(long, env = "AGG_BATCH_MAX_EVENTS", default_value_t = DEFAULT_BATCH_MAX_EVENTS,
          value_parser = parse_positive)]
    pub batch_max_events: usize,
    /// Longest time, in milliseconds, a buffered event waits for more before its commit.
    #[arg(long, env = "AGG_BATCH_LINGER_MS", default_value_t = DEFAULT_BATCH_LINGER_MS)]
    pub batch_linger_ms: u64,
    /// Committed keys kept in memory, by all shards together, to answer re-sends without a
    /// database probe (0 turns the fast path off). Memory is bounded by it, whatever the number
    /// of stored keys.
    #[arg(long, env = "AGG_FASTPATH_KEYS", default_value_t = DEFAULT_FASTPATH_KEYS)]
    pub fastpath_keys: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            batch_max_events: DEFAULT_BATCH_MAX_EVENTS,
            batch_linger_ms: DEFAULT_BATCH_LINGER_MS,
            fastpath_keys: DEFAULT_FASTPATH_KEYS,
        }
    }
}

impl BatchConfig {
    /// The linger as a duration.
    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.batch_linger_ms)
    }
}

/// Limits on one HTTP request.
#[derive(Debug, Clone, Args)]
pub struct RequestLimits {
    /// Largest accepted request body, in bytes; larger bodies get 413.
    #[arg(long, env = "AGG_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Most events accepted in one publish request; more get 422.
    #[arg(long, env = "AGG_MAX_EVENTS_PER_REQUEST", default_value_t = DEFAULT_MAX_EVENTS_PER_REQUEST)]
    pub max_events_per_request: usize,
    /// Longest a publish waits for its events to commit, in milliseconds; past it, 503.
    #[arg(long, env = "AGG_REQUEST_TIMEOUT_MS", default_value_t = DEFAULT_REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,
    /// Most events a shard holds in flight (buffered or committing); beyond it publish gets 429.
    #[arg(long, env = "AGG_MAX_INFLIGHT_EVENTS_PER_SHARD", default_value_t = DEFAULT_MAX_INFLIGHT_EVENTS_PER_SHARD,
          value_parser = parse_positive)]
    pub max_inflight_events_per_shard: usize,
    /// Most HTTP requests processed at once; beyond it requests get 429 at once.
    #[arg(long, env = "AGG_MAX_CONCURRENT_REQUESTS", default_value_t = DEFAULT_MAX_CONCURRENT_REQUESTS,
          value_parser = parse_positive)]
    pub max_concurrent_requests: usize,
}

impl RequestLimits {
    /// How long a publish waits for its commit.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// How many shard deaths the supervisor absorbs before it gives up and the process exits
/// non-zero (so that an orchestrator restarts it). Kills made by chaos mode are not counted.
#[derive(Debug, Clone, Args)]
pub struct SupervisionConfig {
    /// Shard restarts allowed within the window.
    #[arg(long, env = "AGG_MAX_RESTARTS", default_value_t = DEFAULT_MAX_RESTARTS)]
    pub max_restarts: usize,
    /// Length of the restart budget's sliding window, in seconds.
    #[arg(long, env = "AGG_RESTART_WINDOW_SECS", default_value_t = DEFAULT_RESTART_WINDOW_SECS)]
    pub restart_window_secs: u64,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        Self {
            max_restarts: DEFAULT_MAX_RESTARTS,
            restart_window_secs: DEFAULT_RESTART_WINDOW_SECS,
        }
    }
}

impl SupervisionConfig {
    /// The budget's window.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.restart_window_secs)
    }
}

/// Fault injection for chaos testing. Never enable in production.
#[derive(Debug, Clone, Default, Args)]
pub struct ChaosConfig {
    /// Kill a random shard actor every this many milliseconds.
    #[arg(long, env = "AGG_CHAOS_KILL_INTERVAL_MS")]
    pub chaos_kill_interval_ms: Option<u64>,
    /// Probability (0 to 1) that a shard panics while handling a batch.
    #[arg(long, env = "AGG_CHAOS_PANIC_RATE", default_value_t = 0.0, value_parser = parse_probability)]
    pub chaos_panic_rate: f64,
}

impl ChaosConfig {
    /// Whether any fault injection is on.
    pub fn is_enabled(&self) -> bool {
        self.chaos_kill_interval_ms.is_some() || self.chaos_panic_rate > 0.0
    }

    /// The kill interval, when kills are on.
    pub fn kill_interval(&self) -> Option<Duration> {
        self.chaos_kill_interval_ms
            .filter(|&ms| ms > 0)
            .map(Duration::from_millis)
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_events_per_request: DEFAULT_MAX_EVENTS_PER_REQUEST,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            max_inflight_events_per_shard: DEFAULT_MAX_INFLIGHT_EVENTS_PER_SHARD,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
        }
    }
}

/// A count that must be at least 1.
fn parse_positive(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("`{raw}` is not a whole number of at least 1")),
        Ok(value) => Ok(value),
    }
}

/// A probability between 0 and 1.
fn parse_probability(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!("`{raw}` is not a probability between 0 and 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_without_a_subcommand_configure_serve() {
        let cli =
            Cli::try_parse_from(["aggregator", "--shards", "8", "--bind", "0.0.0.0:9000"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.shards, 8);
        assert_eq!(cli.serve.bind.port(), 9000);
    }

    #[test]
    fn chaos_is_off_by_default_and_probabilities_are_checked() {
        let cli = Cli::try_parse_from(["aggregator", "serve"]).unwrap();
        let Some(Command::Serve(serve)) = cli.command else {
            panic!("expected serve");
        };
        assert!(!serve.chaos.is_enabled());
        assert!(Cli::try_parse_from(["aggregator", "--chaos-panic-rate", "1.5"]).is_err());
        let chaotic = Cli::try_parse_from(["aggregator", "--chaos-panic-rate", "0.1"]).unwrap();
        assert!(chaotic.serve.chaos.is_enabled());
    }

    #[test]
    fn zero_shards_are_refused() {
        assert!(Cli::try_parse_from(["aggregator", "serve", "--shards", "0"]).is_err());
    }
}
