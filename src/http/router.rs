//! The router: every route the API serves, listed once, with the request-level layers (body
//! intake, admission, the health-only reserve, request id, trace span, response metrics) and
//! the JSON fallbacks.
//!
//! The OpenAPI document is generated from the same route list (`utoipa-axum`): a route can only
//! be added together with its `#[utoipa::path]` description, so the spec served at
//! `/openapi.json` (and browsed at `/docs`) cannot drift from what the router serves.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tokio::sync::Semaphore;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::connection::reserve_guard;
use super::error::ApiError;
use super::intake::{receive_body, Intake};
use super::state::AppState;
use super::{docs, events, health, metrics, publish, stats, telemetry, topics};

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
            .routes(routes!(stats::get_stats))
            .routes(routes!(topics::list_topics)),
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
    let limits = state.limits;
    let body_limit = limits.max_body_bytes;
    let admission = Arc::new(Semaphore::new(limits.max_concurrent_requests));
    let intake = Arc::new(Intake::new(
        body_limit,
        limits.max_buffered_body_bytes,
        limits.body_read_timeout,
    ));
    let routes = documented_routes();
    let (limited, limited_spec) = routes.limited.split_for_parts();
    let (operational, operational_spec) = routes.operational.split_for_parts();
    let spec = docs::document(limited_spec, operational_spec);
    // The last layer added runs first: the body arrives in full (intake), then the request
    // takes an admission slot.
    let limited = limited
        .layer(middleware::from_fn_with_state(admission, admit))
        .layer(middleware::from_fn_with_state(intake, receive_body))
        .layer(DefaultBodyLimit::max(body_limit));
    let app = Router::new()
        .merge(operational)
        .merge(limited)
        .merge(docs::router(spec))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(reserve_guard))
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
