//! The HTTP API: every route is listed in [`router`], one endpoint family per file.
//!
//! Handlers are short: they parse the request, call the actor tree or the store through
//! [`AppState`], and shape the answer. Failures are [`error::ApiError`] values, turned into
//! status codes in exactly one place.

pub mod body;
pub mod error;
mod events;
mod health;
mod publish;
mod stats;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::actors::ActorTree;
use crate::config::RequestLimits;
use crate::store::SharedStore;
use error::ApiError;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Ingest and live counters.
    pub tree: ActorTree,
    /// Reads and health checks.
    pub store: SharedStore,
    /// Per-request limits.
    pub limits: RequestLimits,
}

/// Builds the router with every route of the API.
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/publish", post(publish::publish))
        .route("/events", get(events::list_events))
        .route("/stats", get(stats::get_stats))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
