//! `DELETE /topics/{topic}`: purge one topic, answered with how many events went.
//!
//! With API keys in force the key needs the `admin` scope and must reach the topic; without
//! keys only a client on this machine may purge (anybody else could wipe any topic). The
//! purge deletes the topic's events committed before it began (at or below its last `seq`
//! then), in the pruner's bounded batches, and counts them as `purged`; events committed
//! after that are kept. Once answered, a purged key published again is stored again.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::topic_schema;
use super::connection::ClientAddr;
use super::error::{ApiError, ErrorResponse, FieldIssue};
use super::state::AppState;
use crate::auth::Caller;
use crate::event::parse_key_part;

/// The path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PurgePath {
    /// The topic to purge, percent-encoded (described in `topic_schema`).
    #[param(schema_with = topic_schema)]
    topic: String,
}

/// The answer to a purge.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurgeResponse {
    /// The purged topic.
    pub topic: String,
    /// Events deleted.
    pub purged: u64,
    /// The topic's last `seq` when the purge began: every event at or below it is gone;
    /// events above it were committed after the purge began and are kept.
    pub up_to_seq: i64,
}

/// Delete every event of a topic committed before the purge began.
#[utoipa::path(
    delete,
    path = "/topics/{topic}",
    tag = "operations",
    params(PurgePath),
    responses(
        (status = 200, description = "The topic was purged", body = PurgeResponse),
        (status = 400, description = "The topic is not a valid topic", body = ErrorResponse),
        (status = 403, description = "The key lacks `admin` or the topic; or, without keys, the client is not local",
         body = ErrorResponse),
        (status = 429, description = "Too many requests in progress; retry later", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "The store or the actor tree did not answer; a retry purges again, up to the topic's last event then",
         body = ErrorResponse, headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn purge_topic(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    client: Option<Extension<ClientAddr>>,
    path: Result<Path<PurgePath>, PathRejection>,
) -> Result<Json<PurgeResponse>, ApiError> {
    let Path(PurgePath { topic }) = path.map_err(|rejection| {
        ApiError::InvalidPath(vec![FieldIssue::request("topic", rejection.body_text())])
    })?;
    let topic = parse_key_part(topic)
        .map_err(|err| ApiError::InvalidPath(vec![FieldIssue::request("topic", err)]))?;
    let from_loopback = client.is_some_and(|Extension(ClientAddr(addr))| addr.ip().is_loopback());
    caller.require_operator(&topic, from_loopback, "purge a topic")?;
    let outcome = state.tree.purge(topic.clone()).await?;
    tracing::info!(topic = %topic, purged = outcome.removed, up_to_seq = outcome.up_to_seq,
                   key = caller.key_name().unwrap_or("-"), "topic purged");
    Ok(Json(PurgeResponse {
        topic,
        purged: outcome.removed,
        up_to_seq: outcome.up_to_seq,
    }))
}
