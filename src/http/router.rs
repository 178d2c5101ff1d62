//! The router: every route the API serves, listed once, with the request-level layers (body
//! intake, admission, request id, trace span, response metrics) and the JSON fallbacks.
//!
//! The OpenAPI document is generated from the same route list (`utoipa-axum`): a route can only
//! be added together with its `#[utoipa::path]` description, so the spec served at
//! `/openapi.json` (and browsed at `/docs`) cannot drift from what the router serves.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::intake::{receive_and_admit, Intake};
use super::state::AppState;
use super::{docs, events, health, metrics, publish, stats, stream, telemetry, topics};

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
            .routes(routes!(stream::stream_events))
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
    let intake = Arc::new(Intake::new(
        body_limit,
        limits.max_buffered_body_bytes,
        limits.body_read_timeout,
        limits.max_concurrent_requests,
    ));
    let routes = documented_routes();
    let (limited, limited_spec) = routes.limited.split_for_parts();
    let (operational, operational_spec) = routes.operational.split_for_parts();
    let spec = docs::document(limited_spec, operational_spec);
    // The body arrives in full, then the request takes an admission slot (intake.rs).
    let limited = limited
        .layer(middleware::from_fn_with_state(intake, receive_and_admit))
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

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
