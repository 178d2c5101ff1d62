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

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Semaphore;

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
///
/// Health and readiness sit outside the concurrency limit, so that an orchestrator still gets
/// an answer while clients flood the API.
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let admission = Arc::new(Semaphore::new(state.limits.max_concurrent_requests));
    let api = Router::new()
        .route("/publish", post(publish::publish))
        .route("/events", get(events::list_events))
        .route("/stats", get(stats::get_stats))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(admission, admit))
        .layer(DefaultBodyLimit::max(body_limit));
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .merge(api)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Refuses a request at once with `429` when `max_concurrent_requests` are already in progress,
/// instead of queueing it: queued requests would hold memory and time out anyway.
async fn admit(
    State(admission): State<Arc<Semaphore>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Ok(_permit) = admission.try_acquire() else {
        return Err(ApiError::TooManyRequests(
            "the server is at its concurrent request limit".into(),
        ));
    };
    Ok(next.run(request).await)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
