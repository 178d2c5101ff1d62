//! `GET /access`: what the key of the request may do, in a form a person can read, so that the
//! console can say plainly what its user will and will not see. It needs a key when keys are in
//! force (any scope: a key may always learn its own limits), and answers `401` otherwise, which
//! is how the console learns it must ask for one.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorResponse;
use super::state::AppState;
use crate::auth::{Caller, Scope};

/// What the caller may do.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessResponse {
    /// Whether the server runs with a keys file; without one every caller may do everything.
    pub keys_in_force: bool,
    /// The name of the key presented (`null` without keys).
    pub key: Option<String>,
    /// Its scopes: `publish`, `read`, `admin` (all three without keys).
    pub scopes: Vec<&'static str>,
    /// Whether it reaches every topic.
    pub every_topic: bool,
    /// The topic prefixes it is limited to (empty when it reaches every topic).
    pub topic_prefixes: Vec<String>,
}

/// What the presented key may do: its name, scopes and topic prefixes.
#[utoipa::path(
    get,
    path = "/access",
    tag = "operations",
    responses(
        (status = 200, description = "The key's name, scopes and topics", body = AccessResponse),
        (status = 429, description = "Too many requests in progress; retry later", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn describe_access(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Json<AccessResponse> {
    let topics = caller.topics();
    let scopes = match &caller {
        Caller::Anyone => Scope::ALL.iter().map(|scope| scope.as_str()).collect(),
        Caller::Key(grant) => grant.scopes.iter().map(Scope::as_str).collect(),
    };
    Json(AccessResponse {
        keys_in_force: state.access.keys_in_force(),
        key: caller.key_name().map(str::to_owned),
        scopes,
        every_topic: topics.is_any(),
        topic_prefixes: if topics.is_any() {
            Vec::new()
        } else {
            topics.as_slice().to_vec()
        },
    })
}
