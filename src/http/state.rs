//! [`AppState`]: what every handler can reach (the actor tree, the store, the limits, the
//! metrics registry, the live tails' slots, the API keys).

use std::sync::Arc;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::ApiError;

use super::follow::TailSlots;
use super::limits::Limits;
use super::loki::map::LokiMapping;
use super::otlp::map::OtlpMapping;
use crate::actors::ActorTree;
use crate::auth::AccessControl;
use crate::metrics::Metrics;
use crate::store::{SharedQueries, SharedStore};

/// What every handler can reach: one `Arc`, because axum clones the state for every request
/// and cloning (then dropping) each part separately showed up at 3% of the server's CPU.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    /// Shares `parts` with every handler.
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

impl AppParts {
    /// A slot for one search (a listing with `q`, a count, a ranking), held until its answer:
    /// `429` once `--max-concurrent-queries` are running.
    pub fn reserve_search(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        self.searches.try_acquire().map_err(|_| {
            ApiError::TooManyRequests(format!(
                "{} searches are running, the most this server runs at once",
                self.limits.max_concurrent_queries
            ))
        })
    }
}

/// The parts of [`AppState`].
pub struct AppParts {
    /// Ingest and live counters.
    pub tree: ActorTree,
    /// Reads and health checks.
    pub store: SharedStore,
    /// Per-request limits.
    pub limits: Limits,
    /// This app's metrics registry.
    pub metrics: Metrics,
    /// One slot per live tail that may be open (`Limits::max_subscribers`).
    pub tails: TailSlots,
    /// One permit per search that may run (`Limits::max_concurrent_queries`).
    pub searches: Semaphore,
    /// Counts and rankings of searches.
    pub queries: SharedQueries,
    /// The API keys in force (or none: every caller may do everything).
    pub access: Arc<AccessControl>,
    /// How OpenTelemetry log records become events.
    pub otlp: OtlpMapping,
    /// How Loki log lines become events.
    pub loki: LokiMapping,
}
