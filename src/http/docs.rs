//! `GET /openapi.json` (the OpenAPI 3.1 document) and `GET /docs` (Swagger UI to browse it).
//!
//! The paths come from the handlers' `#[utoipa::path]` attributes, collected by the router in
//! `http/mod.rs`; this file adds the document's title, description and tags, and serves it.
//! Swagger UI's files are compiled into the binary (`utoipa-swagger-ui` with its `vendored`
//! feature), so neither the build nor the running server fetches anything from the network.

use axum::Router;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::body::PayloadValue;
use super::state::AppState;

/// Where the interactive documentation is served.
pub const DOCS_PATH: &str = "/docs";
/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The parts of the document that are not paths.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "aggregator",
        description = "Actor-based pub-sub log aggregator: every distinct (topic, event_id) is \
                       stored exactly once, a 2xx means committed, and events can be listed and \
                       counted. `429` and `503` answers carry `Retry-After`; retrying a publish \
                       is always safe.",
    ),
    // Referenced by the publish body's payload schema, which utoipa cannot register itself.
    components(schemas(PayloadValue)),
    tags(
        (name = "events", description = "Publish and list events"),
        (name = "operations", description = "Counters, health, readiness and metrics"),
    )
)]
struct ApiDoc;

/// The whole document: the info and tags above plus the paths of both route groups.
pub fn document(limited: OpenApiDocument, operational: OpenApiDocument) -> OpenApiDocument {
    let mut document = ApiDoc::openapi();
    document.merge(limited);
    document.merge(operational);
    document
}

/// Serves `document` at [`OPENAPI_PATH`] and Swagger UI at [`DOCS_PATH`].
pub fn router(document: OpenApiDocument) -> Router<AppState> {
    SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, document).into()
}
