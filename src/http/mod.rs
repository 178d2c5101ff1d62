//! The HTTP API (axum): one endpoint family per file, every route listed once in [`router`].
//!
//! Handlers are short: they parse the request, call the actor tree or the store through
//! [`AppState`], and shape the answer. Failures are [`ApiError`] values, turned into status
//! codes in exactly one place ([`error`]). The layer's own settings are [`Limits`].

mod access;
mod auth;
mod batch;
pub mod body;
mod bulk;
mod connection;
mod console;
mod counts;
mod cursor;
mod docs;
mod encoding;
pub mod error;
mod events;
mod fields;
mod follow;
mod health;
mod intake;
pub mod limits;
mod loki;
mod media;
mod metrics;
mod otlp;
mod paging;
mod params;
mod publish;
mod purge;
pub mod router;
pub mod server;
pub mod state;
mod stats;
mod stream;
mod telemetry;
pub mod tls;
mod topics;

pub use error::ApiError;
pub use follow::TailSlots;
pub use limits::{ConnectionLimits, Limits};
pub use loki::LokiMapping;
pub use otlp::{OtlpMapping, TopicTemplate};
pub use router::{openapi, router};
pub use server::serve;
pub use state::{AppParts, AppState};
pub use telemetry::REQUEST_ID_HEADER;
pub use tls::{ServerTls, TlsError, TlsFiles};
