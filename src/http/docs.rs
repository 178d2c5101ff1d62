//! `GET /openapi.json` (the OpenAPI 3.1 document) and `GET /docs` (Swagger UI to browse it).
//!
//! The paths come from the handlers' `#[utoipa::path]` attributes, collected by the router in
//! `http/mod.rs`; this file adds the document's title, description and tags, and serves it.
//! Swagger UI's files are compiled into the binary (`utoipa-swagger-ui` with its `vendored`
//! feature), so neither the build nor the running server fetches anything from the network.

use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi as OpenApiDocument, Ref, ResponseBuilder, Type,
};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::body::PayloadValue;
use super::state::AppState;

/// The name of the `Authorization: Bearer` scheme in the document.
const BEARER_SCHEME: &str = "bearer";
/// The name of the `X-API-Key` scheme in the document.
const API_KEY_SCHEME: &str = "api_key";
/// The name of the `Authorization: Basic` scheme (the key as the password).
const BASIC_SCHEME: &str = "basic";
/// The header of that scheme, spelled as clients usually write it.
const API_KEY_HEADER_NAME: &str = "X-API-Key";

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
                       is always safe. When the server runs with a keys file, every route but \
                       `/health`, `/ready`, `GET /` and the documentation needs an API key \
                       (`Authorization: Bearer <key>`, `X-API-Key`, or the password of \
                       `Authorization: Basic`, as log shippers send it) with the route's scope: \
                       `publish` for `/publish` and the bulk API; `read` for `/events`, `/events/stream`, \
                       `/events/count`, `/events/values`, `/fields` and `/topics` (limited to the key's \
                       topic prefixes); `read` or `admin` for \
                       `/stats`; `admin`, or `read` on every topic, for `/metrics`.",
    ),
    // Referenced by the publish body's payload schema, which utoipa cannot register itself.
    components(schemas(PayloadValue)),
    tags(
        (name = "events", description = "Publish and list events"),
        (name = "search", description = "Count the events a search matches over time, and rank \
                                         the values of a field"),
        (name = "operations", description = "Counters, health, readiness and metrics"),
        (name = "shippers", description = "The Elasticsearch bulk API, for log shippers such as \
                                           rsyslog, Fluent Bit and Vector"),
    )
)]
struct ApiDoc;

/// The whole document: the info, tags and security schemes above, the paths that need an API
/// key (declared so on each operation, with their `401` and `403`), and the open ones.
pub fn document(keyed: Vec<OpenApiDocument>, open: Vec<OpenApiDocument>) -> OpenApiDocument {
    let mut document = ApiDoc::openapi();
    if let Some(components) = document.components.as_mut() {
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key, from `aggregator keys add`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            BASIC_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The API key as the password (any user name): what log shippers send",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                API_KEY_HEADER_NAME,
                "The same API key, for clients that cannot set Authorization",
            ))),
        );
    }
    for mut part in keyed {
        for item in part.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
            ];
            for operation in operations.into_iter().flatten() {
                require_key(operation);
            }
        }
        document.merge(part);
    }
    for part in open {
        document.merge(part);
    }
    document
}

/// Declares that `operation` takes a key in any of the three ways, and what a refused key gets.
fn require_key(operation: &mut Operation) {
    let no_scopes = Vec::<String>::new;
    operation.security = Some(vec![
        SecurityRequirement::new(BEARER_SCHEME, no_scopes()),
        SecurityRequirement::new(API_KEY_SCHEME, no_scopes()),
        SecurityRequirement::new(BASIC_SCHEME, no_scopes()),
    ]);
    let error_body = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorResponse")))
            .build()
    };
    let unauthorized = ResponseBuilder::new()
        .description("No API key, or one that is not (or no longer) valid")
        .content("application/json", error_body())
        .header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(utoipa::openapi::ObjectBuilder::new().schema_type(Type::String))
                .description(Some("`Bearer realm=\"aggregator\"`"))
                .build(),
        )
        .build();
    let forbidden = ResponseBuilder::new()
        .description("The key lacks the route's scope, or may not reach a topic asked for")
        .content("application/json", error_body())
        .build();
    let responses = &mut operation.responses.responses;
    responses.insert("401".into(), unauthorized.into());
    responses.insert("403".into(), forbidden.into());
}

/// Serves `document` at [`OPENAPI_PATH`] and Swagger UI at [`DOCS_PATH`].
pub fn router(document: OpenApiDocument) -> Router<AppState> {
    SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, document).into()
}
