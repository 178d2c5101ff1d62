//! Logging setup: `tracing` with an env filter (`RUST_LOG`, default `info`), as text for people
//! or JSON for log collectors (one object per line, with the fields of the current span, so
//! every line logged while handling a request carries its `request_id`; the request spans are
//! opened in `http/telemetry.rs`).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

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
