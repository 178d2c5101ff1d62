//! Logging setup: `tracing` with an env filter (`RUST_LOG`, default `info`), as text for people
//! or JSON for log collectors (one object per line, with the fields of the current span, so
//! every line logged while handling a request carries its `request_id`; the request spans are
//! opened in `http/telemetry.rs`).

use tracing_subscriber::EnvFilter;

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber. Call once, from `main`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Logging for the client commands (`publish`, `demo`): warnings and errors only (unless
/// `RUST_LOG` says otherwise), on stderr, so that stdout carries just the report. Keeps a
/// subscriber that is already installed.
pub fn init_for_client() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
