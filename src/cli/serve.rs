//! `aggregator serve` flags, grouped by the layer they configure, and their conversion into
//! [`AppConfig`]: the only place a flag becomes a layer's setting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::parse;
use super::retention::RetentionArgs;
use crate::actors::{config as tree, BatchingConfig, ChaosConfig, RestartBudget, TreeConfig};
use crate::app::{self, AppConfig};
use crate::auth::AccessOptions;
use crate::http::{
    limits, ConnectionLimits, Limits, LokiMapping, OtlpMapping, TlsFiles, TopicTemplate,
};
use crate::store::{options as store, StoreOptions};
use crate::telemetry::LogFormat;

/// Everything `aggregator serve` takes.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A TOML file of settings, one section per concern (`aggregator config example` prints
    /// one); environment variables and flags override it.
    #[arg(long, env = "AGG_CONFIG", value_parser = parse::path_or_empty,
          help_heading = "Server")]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "AGG_BIND", default_value_t = app::DEFAULT_BIND, help_heading = "Server")]
    pub bind: SocketAddr,
    /// Number of shard actors; topics are spread over them by a stable hash.
    #[arg(long, env = "AGG_SHARDS", default_value_t = tree::DEFAULT_SHARDS,
          value_parser = clap::value_parser!(u32).range(1..=1024),
          help_heading = "Shards and batching")]
    pub shards: u32,
    /// Where events are stored.
    #[command(flatten)]
    pub store: StoreArgs,
    /// How shards group events into commits.
    #[command(flatten)]
    pub batching: BatchingArgs,
    /// Limits on what one request may ask for.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Shard restart budget.
    #[command(flatten)]
    pub supervision: SupervisionArgs,
    /// Fault injection for the chaos tests, off by default; hidden from `--help`, which lists
    /// production settings only.
    #[command(flatten)]
    pub chaos: ChaosArgs,
    /// Retention and the pruner.
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Longest a graceful shutdown may take before the process exits anyway (e.g. 30s)
    /// [default: 30s].
    #[arg(long, env = "AGG_SHUTDOWN_TIMEOUT", value_parser = parse::duration,
          help_heading = "Server")]
    pub shutdown_timeout: Option<Duration>,
    /// Deprecated: --shutdown-timeout in milliseconds.
    #[arg(long, env = "AGG_SHUTDOWN_TIMEOUT_MS", hide = true)]
    pub shutdown_timeout_ms: Option<u64>,
    /// Log line format.
    #[arg(long, env = "AGG_LOG_FORMAT", value_enum, default_value_t = LogFormatArg::Text,
          help_heading = "Server")]
    pub log_format: LogFormatArg,
    /// HTTPS, off unless both files are given.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// API keys.
    #[command(flatten)]
    pub access: AccessArgs,
    /// How OpenTelemetry log records get their topic.
    #[command(flatten)]
    pub otlp: OtlpArgs,
    /// How Loki log lines get their topic.
    #[command(flatten)]
    pub loki: LokiArgs,
}

/// `POST /loki/api/v1/push`: the topic of each Loki log line.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Shippers")]
pub struct LokiArgs {
    /// Stream labels whose value is a Loki line's topic, the first present wins.
    #[arg(
        long,
        env = "AGG_LOKI_TOPIC_LABEL",
        value_delimiter = ',',
        default_value = "service_name,job"
    )]
    pub loki_topic_label: Vec<String>,
    /// Topic of a line whose stream has none of the `--loki-topic-label` labels.
    #[arg(long, env = "AGG_LOKI_DEFAULT_TOPIC", default_value = "loki",
          value_parser = parse::topic)]
    pub loki_default_topic: String,
}

/// `POST /v1/logs`: the topic of each OpenTelemetry log record.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Shippers")]
pub struct OtlpArgs {
    /// Topic of an OTLP log record: text and `{attribute}` names of its resource, e.g.
    /// `otel.{service.namespace}.{service.name}`.
    #[arg(long, env = "AGG_OTLP_TOPIC", default_value_t = TopicTemplate::service_name())]
    pub otlp_topic: TopicTemplate,
    /// Topic of a record whose resource lacks an attribute `--otlp-topic` names.
    #[arg(long, env = "AGG_OTLP_DEFAULT_TOPIC", default_value = "otlp",
          value_parser = parse::topic)]
    pub otlp_default_topic: String,
}

/// Who may use the API: the keys file, or explicitly nobody checked.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "API keys")]
pub struct AccessArgs {
    /// File of API keys (`aggregator keys add` makes one); every route but /health, /ready and
    /// /docs then needs a key. Re-read on SIGHUP and when it changes. Empty means none (so
    /// `AGG_KEYS_FILE=` turns off the one an image sets).
    #[arg(long, env = "AGG_KEYS_FILE",
          value_parser = parse::path_or_empty)]
    pub keys_file: Option<PathBuf>,
    /// Serve a non-loopback address without API keys (refused otherwise); no effect with a keys
    /// file.
    #[arg(long, env = "AGG_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
    /// How often the keys file is checked for a change (e.g. 2s); 0 reloads it on SIGHUP only.
    #[arg(long, env = "AGG_KEYS_CHECK_INTERVAL", default_value = "2s", value_parser = parse::duration)]
    pub keys_check_interval: Duration,
}

/// Store selection and connection settings (shared with `bench ceiling`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Store")]
pub struct StoreArgs {
    /// PostgreSQL URL, e.g. postgres://user:pass@host/db. Without it the embedded store is used.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory of the embedded store (used when no database URL is given).
    #[arg(long, env = "AGG_DATA_DIR", default_value = store::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// PostgreSQL connection pool size.
    #[arg(long, env = "AGG_DB_POOL_SIZE", default_value_t = store::DEFAULT_POOL_SIZE,
          value_parser = parse::positive)]
    pub db_pool_size: usize,
    /// Upper bound on one store operation (e.g. 5s); past it the request gets a 503
    /// [default: 5s].
    #[arg(long, env = "AGG_STORE_TIMEOUT", value_parser = parse::duration)]
    pub store_timeout: Option<Duration>,
    /// Deprecated: --store-timeout in milliseconds.
    #[arg(long, env = "AGG_STORE_TIMEOUT_MS", hide = true)]
    pub store_timeout_ms: Option<u64>,
    /// Name of this process's counter rows; give each aggregator sharing a database its own.
    #[arg(long, env = "AGG_INSTANCE_ID", default_value = store::DEFAULT_INSTANCE_ID)]
    pub instance_id: String,
    /// Time limit of one search (`GET /events?q=`, e.g. 10s); past it the search is refused
    /// with a 400 that says how to narrow it.
    #[arg(long, env = "AGG_QUERY_TIMEOUT", default_value = "10s", value_parser = parse::period)]
    pub query_timeout: Duration,
    /// Searches run at once; past it a search gets 429. On PostgreSQL they have this many
    /// connections of their own, so they never take a connection ingest needs.
    #[arg(long, env = "AGG_MAX_CONCURRENT_QUERIES",
          default_value_t = store::DEFAULT_MAX_CONCURRENT_QUERIES, value_parser = parse::positive)]
    pub max_concurrent_queries: usize,
}

/// Group-commit knobs of the shard actors, and the fast path's budget.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Shards and batching")]
pub struct BatchingArgs {
    /// A shard commits as soon as it buffers this many events.
    #[arg(long, env = "AGG_BATCH_MAX_EVENTS", default_value_t = tree::DEFAULT_BATCH_MAX_EVENTS,
          value_parser = parse::positive)]
    pub batch_max_events: usize,
    /// Longest a buffered event waits for more before its commit (e.g. 1ms) [default: 1ms].
    #[arg(long, env = "AGG_BATCH_LINGER", value_parser = parse::duration)]
    pub batch_linger: Option<Duration>,
    /// Deprecated: --batch-linger in milliseconds.
    #[arg(long, env = "AGG_BATCH_LINGER_MS", hide = true)]
    pub batch_linger_ms: Option<u64>,
    /// Commits of one shard that may run at once (pipelining: the next batch is sent while the
    /// previous one waits for its disk flush). Order within a topic holds either way.
    #[arg(long, env = "AGG_COMMITS_IN_FLIGHT", default_value_t = tree::DEFAULT_COMMITS_IN_FLIGHT,
          value_parser = parse::positive)]
    pub commits_in_flight: usize,
    /// Committed keys kept in memory, by all shards together, to answer re-sends without a
    /// database probe (0 turns the fast path off). Memory is bounded by it, whatever the number
    /// of stored keys.
    #[arg(long, env = "AGG_FASTPATH_KEYS", default_value_t = tree::DEFAULT_FASTPATH_KEYS)]
    pub fastpath_keys: usize,
}

/// Limits on requests and connections: HTTP-level ones and the shards' in-flight budget.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Largest accepted request body, in bytes; larger bodies get 413.
    #[arg(long, env = "AGG_MAX_BODY_BYTES", default_value_t = limits::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Most events accepted in one publish request; more get 422.
    #[arg(long, env = "AGG_MAX_EVENTS_PER_REQUEST",
          default_value_t = limits::DEFAULT_MAX_EVENTS_PER_REQUEST)]
    pub max_events_per_request: usize,
    /// Longest a publish waits for its events to commit (e.g. 10s); past it, 503
    /// [default: 10s].
    #[arg(long, env = "AGG_REQUEST_TIMEOUT", value_parser = parse::duration)]
    pub request_timeout: Option<Duration>,
    /// Deprecated: --request-timeout in milliseconds.
    #[arg(long, env = "AGG_REQUEST_TIMEOUT_MS", hide = true)]
    pub request_timeout_ms: Option<u64>,
    /// Most events a shard holds in flight (buffered or committing); beyond it publish gets 429.
    #[arg(long, env = "AGG_MAX_INFLIGHT_EVENTS_PER_SHARD",
          default_value_t = tree::DEFAULT_MAX_INFLIGHT_EVENTS_PER_SHARD, value_parser = parse::positive)]
    pub max_inflight_events_per_shard: usize,
    /// Deepest nesting of objects and arrays accepted in a payload; deeper events get 422.
    #[arg(long, env = "AGG_MAX_PAYLOAD_DEPTH", default_value_t = limits::DEFAULT_MAX_PAYLOAD_DEPTH,
          value_parser = parse::positive)]
    pub max_payload_depth: usize,
    /// Payload bytes on one GET /events page; the page ends early (with a cursor) past it.
    #[arg(long, env = "AGG_MAX_PAGE_BYTES", default_value_t = limits::DEFAULT_MAX_PAGE_BYTES,
          value_parser = parse::positive)]
    pub max_page_bytes: usize,
    /// Request body bytes buffered at once by all requests together; past it, 429.
    #[arg(long, env = "AGG_MAX_BUFFERED_BODY_BYTES",
          default_value_t = limits::DEFAULT_MAX_BUFFERED_BODY_BYTES, value_parser = parse::positive)]
    pub max_buffered_body_bytes: usize,
    /// Time a client has to send a whole request body (e.g. 30s); past it, 408.
    #[arg(long, env = "AGG_BODY_READ_TIMEOUT", default_value = "30s", value_parser = parse::duration)]
    pub body_read_timeout: Duration,
    /// Live tails (GET /events/stream) served at once; past it, 503.
    #[arg(long, env = "AGG_MAX_SUBSCRIBERS", default_value_t = limits::DEFAULT_MAX_SUBSCRIBERS,
          value_parser = parse::positive)]
    pub max_subscribers: usize,
    /// Interval of the keep-alive comments an idle live tail sends (e.g. 15s).
    #[arg(long, env = "AGG_STREAM_HEARTBEAT", default_value = "15s", value_parser = parse::period)]
    pub stream_heartbeat: Duration,
    /// Most connections open at once; past it a new connection is closed at once.
    #[arg(long, env = "AGG_MAX_CONNECTIONS", default_value_t = limits::DEFAULT_MAX_CONNECTIONS,
          value_parser = parse::positive)]
    pub max_connections: usize,
    /// Connections, within --max-connections, kept for /health and /ready only.
    #[arg(long, env = "AGG_RESERVED_CONNECTIONS",
          default_value_t = limits::DEFAULT_RESERVED_CONNECTIONS)]
    pub reserved_connections: usize,
    /// Time a client has to send a whole request head, also between keep-alive requests.
    #[arg(long, env = "AGG_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse::duration)]
    pub header_read_timeout: Duration,
    /// Time a connection may stay without traffic before it is closed.
    #[arg(long, env = "AGG_IDLE_TIMEOUT", default_value = "60s", value_parser = parse::duration)]
    pub idle_timeout: Duration,
    /// Longest life of a connection; it then closes once its current answer is sent.
    #[arg(long, env = "AGG_MAX_CONNECTION_AGE", default_value = "10m", value_parser = parse::duration)]
    pub max_connection_age: Duration,
    /// Most HTTP requests processed at once; beyond it requests get 429 at once.
    #[arg(long, env = "AGG_MAX_CONCURRENT_REQUESTS",
          default_value_t = limits::DEFAULT_MAX_CONCURRENT_REQUESTS, value_parser = parse::positive)]
    pub max_concurrent_requests: usize,
}

/// How many shard deaths the supervisor absorbs before it gives up and the process exits
/// non-zero (so that an orchestrator restarts it). Kills made by chaos mode are not counted.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Shards and batching")]
pub struct SupervisionArgs {
    /// Shard restarts allowed within the window.
    #[arg(long, env = "AGG_MAX_RESTARTS", default_value_t = tree::DEFAULT_MAX_RESTARTS)]
    pub max_restarts: usize,
    /// Length of the restart budget's sliding window (e.g. 60s) [default: 60s].
    #[arg(long, env = "AGG_RESTART_WINDOW", value_parser = parse::duration)]
    pub restart_window: Option<Duration>,
    /// Deprecated: --restart-window in seconds.
    #[arg(long, env = "AGG_RESTART_WINDOW_SECS", hide = true)]
    pub restart_window_secs: Option<u64>,
}

/// Fault injection for chaos testing. Never enable in production.
#[derive(Debug, Clone, Args)]
pub struct ChaosArgs {
    /// Kill a random shard actor every this many milliseconds.
    #[arg(long, env = "AGG_CHAOS_KILL_INTERVAL_MS", hide = true)]
    pub chaos_kill_interval_ms: Option<u64>,
    /// Probability (0 to 1) that a shard panics while handling a batch.
    #[arg(long, env = "AGG_CHAOS_PANIC_RATE", default_value_t = 0.0,
          value_parser = parse::probability, hide = true)]
    pub chaos_panic_rate: f64,
}

/// The certificate and key to serve HTTPS with; without them the server speaks plain HTTP.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "TLS")]
pub struct TlsArgs {
    /// PEM file of the certificate chain to serve HTTPS with (the server's certificate first).
    #[arg(long, env = "AGG_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM file of the private key of --tls-cert.
    #[arg(long, env = "AGG_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The files, when HTTPS is on (clap makes sure both or neither are given).
    pub fn files(&self) -> Option<TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }
}

/// Log output format, as the flag spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl ServeArgs {
    /// The app's configuration.
    pub fn config(&self) -> AppConfig {
        AppConfig {
            bind: self.bind,
            store: self.store.options(),
            tree: TreeConfig {
                shards: self.shards,
                batching: BatchingConfig {
                    max_events: self.batching.batch_max_events,
                    linger: self.batching.batch_linger(),
                    commits_in_flight: self.batching.commits_in_flight,
                },
                fastpath_keys: self.batching.fastpath_keys,
                max_inflight_events_per_shard: self.limits.max_inflight_events_per_shard,
                ingest_timeout: self.limits.request_timeout(),
                restart_budget: RestartBudget {
                    max_restarts: self.supervision.max_restarts,
                    window: self.supervision.restart_window(),
                },
                chaos: ChaosConfig {
                    kill_interval: self
                        .chaos
                        .chaos_kill_interval_ms
                        .filter(|&ms| ms > 0)
                        .map(Duration::from_millis),
                    panic_rate: self.chaos.chaos_panic_rate,
                },
                retention: self.retention.config(),
            },
            limits: Limits {
                max_body_bytes: self.limits.max_body_bytes,
                max_events_per_request: self.limits.max_events_per_request,
                max_concurrent_requests: self.limits.max_concurrent_requests,
                max_payload_depth: self.limits.max_payload_depth,
                max_page_bytes: self.limits.max_page_bytes,
                max_buffered_body_bytes: self.limits.max_buffered_body_bytes,
                body_read_timeout: self.limits.body_read_timeout,
                max_subscribers: self.limits.max_subscribers,
                stream_heartbeat: self.limits.stream_heartbeat,
                max_concurrent_queries: self.store.max_concurrent_queries,
                connections: ConnectionLimits {
                    max_connections: self.limits.max_connections,
                    reserved_connections: self.limits.reserved_connections,
                    header_read_timeout: self.limits.header_read_timeout,
                    idle_timeout: self.limits.idle_timeout,
                    max_connection_age: self.limits.max_connection_age,
                },
            },
            shutdown_timeout: self.shutdown_timeout(),
            otlp: OtlpMapping {
                topic: self.otlp.otlp_topic.clone(),
                default_topic: self.otlp.otlp_default_topic.clone(),
            },
            loki: LokiMapping {
                topic_labels: self.loki.loki_topic_label.clone(),
                default_topic: self.loki.loki_default_topic.clone(),
            },
            tls: self.tls.files(),
            access: AccessOptions {
                keys_file: self
                    .access
                    .keys_file
                    .clone()
                    .filter(|path| !path.as_os_str().is_empty()),
                allow_unauthenticated: self.access.allow_unauthenticated,
                check_interval: Some(self.access.keys_check_interval)
                    .filter(|interval| !interval.is_zero()),
            },
        }
    }

    fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
            .or(self.shutdown_timeout_ms.map(Duration::from_millis))
            .unwrap_or(app::DEFAULT_SHUTDOWN_TIMEOUT)
    }

    /// The deprecated flags (or their variables) this command line uses, each with the one
    /// that replaces it: `serve` logs a warning for each at start. They keep working.
    pub fn deprecations(&self) -> Vec<Deprecated> {
        let used = [
            (
                self.shutdown_timeout_ms.is_some(),
                "--shutdown-timeout-ms",
                "--shutdown-timeout",
            ),
            (
                self.store.store_timeout_ms.is_some(),
                "--store-timeout-ms",
                "--store-timeout",
            ),
            (
                self.batching.batch_linger_ms.is_some(),
                "--batch-linger-ms",
                "--batch-linger",
            ),
            (
                self.limits.request_timeout_ms.is_some(),
                "--request-timeout-ms",
                "--request-timeout",
            ),
            (
                self.supervision.restart_window_secs.is_some(),
                "--restart-window-secs",
                "--restart-window",
            ),
        ];
        used.into_iter()
            .filter(|(used, _, _)| *used)
            .map(|(_, old, new)| Deprecated { old, new })
            .collect()
    }

    /// The log format.
    pub fn log_format(&self) -> LogFormat {
        match self.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

/// A deprecated flag in use, and the flag that replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deprecated {
    /// The old flag (or its `AGG_..._MS`/`_SECS` variable).
    pub old: &'static str,
    /// The flag taking a duration such as `250ms`, `2s`, `5m`.
    pub new: &'static str,
}

impl BatchingArgs {
    fn batch_linger(&self) -> Duration {
        self.batch_linger
            .or(self.batch_linger_ms.map(Duration::from_millis))
            .unwrap_or(tree::DEFAULT_BATCH_LINGER)
    }
}

impl LimitArgs {
    fn request_timeout(&self) -> Duration {
        self.request_timeout
            .or(self.request_timeout_ms.map(Duration::from_millis))
            .unwrap_or(tree::DEFAULT_INGEST_TIMEOUT)
    }
}

impl SupervisionArgs {
    fn restart_window(&self) -> Duration {
        self.restart_window
            .or(self.restart_window_secs.map(Duration::from_secs))
            .unwrap_or(tree::DEFAULT_RESTART_WINDOW)
    }
}

impl StoreArgs {
    fn store_timeout(&self) -> Duration {
        self.store_timeout
            .or(self.store_timeout_ms.map(Duration::from_millis))
            .unwrap_or(store::DEFAULT_TIMEOUT)
    }

    /// The store's options.
    pub fn options(&self) -> StoreOptions {
        StoreOptions {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            pool_size: self.db_pool_size,
            timeout: self.store_timeout(),
            instance_id: self.instance_id.clone(),
            query_timeout: self.query_timeout,
            max_concurrent_queries: self.max_concurrent_queries,
        }
    }
}
