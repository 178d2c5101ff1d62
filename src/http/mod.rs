//! The HTTP API: every route is listed in [`documented_routes`], one endpoint family per file.
//!
//! Handlers are short: they parse the request, call the actor tree or the store through
//! [`AppState`], and shape the answer. Failures are [`error::ApiError`] values, turned into
//! status codes in exactly one place.
//!
//! The OpenAPI document is generated from the same route list (`utoipa-axum`): a route can only
//! be added together with its `#[utoipa::path]` description, so the spec served at
//! `/openapi.json` (and browsed at `/docs`) cannot drift from what the router serves.

pub mod body;
mod docs;
pub mod error;
mod events;
mod health;
mod metrics;
mod publish;
mod stats;
mod telemetry;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tokio::sync::Semaphore;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::actors::ActorTree;
use crate::config::RequestLimits;
use crate::metrics::Metrics;
use crate::store::SharedStore;
use error::ApiError;
pub use telemetry::REQUEST_ID_HEADER;

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

/// The parts of [`AppState`].
pub struct AppParts {
    /// Ingest and live counters.
    pub tree: ActorTree,
    /// Reads and health checks.
    pub store: SharedStore,
    /// Per-request limits.
    pub limits: RequestLimits,
    /// This app's metrics registry.
    pub metrics: Metrics,
}

/// Every documented route, in two groups: the API proper, which sits behind the request
/// limits, and the operational endpoints, which stay outside them so that an orchestrator or a
/// scraper still gets an answer while clients flood the API.
struct DocumentedRoutes {
    limited: OpenApiRouter<AppState>,
    operational: OpenApiRouter<AppState>,
}

fn documented_routes() -> DocumentedRoutes {
    DocumentedRoutes {
        limited: OpenApiRouter::new()
            .routes(routes!(publish::publish))
            .routes(routes!(events::list_events))
            .routes(routes!(stats::get_stats)),
        operational: OpenApiRouter::new()
            .routes(routes!(health::health))
            .routes(routes!(health::ready))
            .routes(routes!(metrics::get_metrics)),
    }
}

/// The OpenAPI document of every route the router serves (the docs routes aside).
pub fn openapi() -> OpenApi {
    let routes = documented_routes();
    docs::document(
        routes.limited.into_openapi(),
        routes.operational.into_openapi(),
    )
}

/// Builds the router with every route of the API, the docs, and the request-level layers
/// (request id, trace span, response metrics).
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let admission = Arc::new(Semaphore::new(state.limits.max_concurrent_requests));
    let routes = documented_routes();
    let (limited, limited_spec) = routes.limited.split_for_parts();
    let (operational, operational_spec) = routes.operational.split_for_parts();
    let spec = docs::document(limited_spec, operational_spec);
    let limited = limited
        .layer(middleware::from_fn_with_state(admission, admit))
        .layer(DefaultBodyLimit::max(body_limit));
    let app = Router::new()
        .merge(operational)
        .merge(limited)
        .merge(docs::router(spec))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            telemetry::record_response,
        ))
        .with_state(state);
    telemetry::with_request_tracing(app)
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
