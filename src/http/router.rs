//! The router: every route the API serves, listed once, with the request-level layers
//! (authentication, body intake, admission, request id, trace span, response metrics) and the
//! JSON fallbacks. Which routes need an API key is decided here, by group, and the OpenAPI
//! document declares the same groups: the router and the spec cannot disagree on it.
//!
//! The OpenAPI document is generated from the same route list (`utoipa-axum`): a route can only
//! be added together with its `#[utoipa::path]` description, so the spec served at
//! `/openapi.json` (and browsed at `/docs`) cannot drift from what the router serves.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::Router;
use tower_http::compression::CompressionLayer;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::authenticate;
use super::error::ApiError;
use super::intake::{receive_and_admit, Intake};
use super::state::AppState;
use super::{
    access, bulk, console, counts, docs, events, fields, health, loki, metrics, otlp, publish,
    purge, stats, stream, telemetry, topics,
};

/// Every documented route, in four groups: the API proper, which needs a key and sits behind
/// the request limits; the shippers' bulk API, the same but with its retryable answers cut
/// before their end (`bulk.rs` says why); the metrics, which need a key but stay outside the limits, so that a
/// scraper still gets an answer while clients flood the API; and the probes, open to anyone
/// and outside the limits, so that an orchestrator needs no key. (The docs and the console are
/// open too: they hold no data.)
struct DocumentedRoutes {
    limited: OpenApiRouter<AppState>,
    shippers: OpenApiRouter<AppState>,
    scraped: OpenApiRouter<AppState>,
    probes: OpenApiRouter<AppState>,
}

fn documented_routes() -> DocumentedRoutes {
    DocumentedRoutes {
        limited: OpenApiRouter::new()
            .routes(routes!(publish::publish))
            .routes(routes!(otlp::export_logs))
            .routes(routes!(loki::push))
            .routes(routes!(events::list_events))
            .routes(routes!(counts::count_events))
            .routes(routes!(counts::field_values))
            .routes(routes!(fields::list_fields))
            .routes(routes!(stream::stream_events))
            .routes(routes!(stats::get_stats))
            .routes(routes!(access::describe_access))
            .routes(routes!(topics::list_topics))
            .routes(routes!(purge::purge_topic)),
        shippers: OpenApiRouter::new()
            .routes(routes!(bulk::bulk))
            .routes(routes!(bulk::bulk_into_index)),
        scraped: OpenApiRouter::new().routes(routes!(metrics::get_metrics)),
        probes: OpenApiRouter::new()
            .routes(routes!(health::health))
            .routes(routes!(health::ready))
            .routes(routes!(bulk::root)),
    }
}

/// The OpenAPI document of every route the router serves (the docs routes aside).
pub fn openapi() -> OpenApi {
    let routes = documented_routes();
    docs::document(
        vec![
            routes.limited.into_openapi(),
            routes.shippers.into_openapi(),
            routes.scraped.into_openapi(),
        ],
        vec![routes.probes.into_openapi()],
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
    let (shippers, shippers_spec) = routes.shippers.split_for_parts();
    let (scraped, scraped_spec) = routes.scraped.split_for_parts();
    let (probes, probes_spec) = routes.probes.split_for_parts();
    let spec = docs::document(
        vec![limited_spec, shippers_spec, scraped_spec],
        vec![probes_spec],
    );
    let keyed = || middleware::from_fn_with_state(state.clone(), authenticate);
    // The last layer added runs first: the key is checked before the body is read; then the
    // body arrives in full, then the request takes an admission slot (intake.rs). Both groups
    // share one intake: one body budget, one set of admission slots.
    let with_limits = |routes: Router<AppState>| {
        routes
            .layer(middleware::from_fn_with_state(
                intake.clone(),
                receive_and_admit,
            ))
            .layer(DefaultBodyLimit::max(body_limit))
            .layer(keyed())
    };
    let limited = with_limits(limited);
    let shippers = with_limits(shippers).layer(middleware::from_fn(bulk::retryable_answers_cut));
    let scraped = scraped.layer(keyed());
    let app = Router::new()
        .merge(probes)
        .merge(scraped)
        .merge(limited)
        .merge(shippers)
        .merge(docs::router(spec))
        .merge(console::router().layer(CompressionLayer::new()))
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
