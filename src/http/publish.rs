//! `POST /publish`: one event, `{"events": [...]}` or a bare array. Answers `200` only after
//! every event of the request is committed, with an outcome per event.
//!
//! With API keys in force, the key needs the `publish` scope and every event's topic inside its
//! prefixes (else `403`, nothing stored), then the request's events are taken from the key's
//! quota (else `429` with the bucket's `Retry-After`, nothing stored).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{parse_body, PublishBody, PublishLines};
use super::error::{ApiError, ErrorResponse, FieldIssue};
use super::media::{body_format, body_rejection};
use super::state::AppState;
use crate::auth::{describe_prefixes, Caller, Scope};
use crate::event::{Event, Outcome};

/// The answer to an accepted publish.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishResponse {
    /// Always `"accepted"`.
    #[schema(value_type = String, example = "accepted")]
    pub status: &'static str,
    /// Events in the request.
    pub received: usize,
    /// Events stored for the first time.
    pub unique_processed: usize,
    /// Events dropped as duplicates.
    pub duplicate_dropped: usize,
    /// One entry per event, in request order.
    pub results: Vec<EventResult>,
}

/// The outcome of one event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResult {
    /// The event's topic.
    pub topic: String,
    /// The event's id.
    pub event_id: String,
    /// `new` or `duplicate`.
    pub outcome: Outcome,
}

/// Publish one event, `{"events": [...]}`, or a bare array of events.
///
/// Answers `200` only once every event of the request is committed, with one outcome per event
/// in request order. Nothing of a request with an invalid event is stored. Retrying after a
/// `429`, a `503` or a lost answer is always safe: duplicates are recognised.
#[utoipa::path(
    post,
    path = "/publish",
    tag = "events",
    request_body(content(
                     (PublishBody = "application/json"),
                     (PublishLines = "application/x-ndjson")
                 ),
                 description = "One event, `{\"events\": [...]}`, or a bare array of events; or, as \
                                `application/x-ndjson`, one event object per line"),
    responses(
        (status = 200, description = "Every event committed (new or duplicate)", body = PublishResponse),
        (status = 400, description = "The body is not JSON, or not what its `Content-Encoding` says", body = ErrorResponse),
        (status = 408, description = "The body did not arrive within `--body-read-timeout`", body = ErrorResponse),
        (status = 413, description = "The body exceeds `--max-body-bytes`, as sent or once decoded", body = ErrorResponse),
        (status = 415, description = "The body is not declared `application/json` or `application/x-ndjson`, \
                                      or its `Content-Encoding` is not `gzip`, `deflate` or `zstd`", body = ErrorResponse),
        (status = 422, description = "Invalid events, an empty batch, too many events, or more \
                                      events than the key's quota burst; \
                                      `details` names the index, field and reason of each problem",
         body = ErrorResponse),
        (status = 429, description = "Too many requests or events in flight, or the key is over its \
                                      quota; retry after `Retry-After` seconds",
         body = ErrorResponse, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Store unreachable or slow, or shard restarting; retrying is safe",
         body = ErrorResponse, headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn publish(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PublishResponse>, ApiError> {
    caller.require(&[Scope::Publish])?;
    let format = body_format(&headers)?;
    let body = body.map_err(|rejection| body_rejection(rejection, state.limits.max_body_bytes))?;
    let events = parse_body(&body, format, &state.limits)?;
    require_topics(&caller, &events)?;
    if let (Some(key), Err(exceeded)) = (caller.key_name(), caller.take_events(events.len())) {
        return Err(ApiError::over_quota(key, exceeded));
    }
    let keys: Vec<(String, String)> = events
        .iter()
        .map(|event| (event.topic.clone(), event.event_id.clone()))
        .collect();
    let outcomes = state.tree.ingest(events).await?;

    if let Some(key) = caller.key_name() {
        state.metrics.key_published(key, outcomes.len());
    }
    let unique_processed = outcomes.iter().filter(|&&o| o == Outcome::New).count();
    let results: Vec<EventResult> = keys
        .into_iter()
        .zip(outcomes)
        .map(|((topic, event_id), outcome)| EventResult {
            topic,
            event_id,
            outcome,
        })
        .collect();
    Ok(Json(PublishResponse {
        status: "accepted",
        received: results.len(),
        unique_processed,
        duplicate_dropped: results.len() - unique_processed,
        results,
    }))
}

/// Refuses the whole request when the caller may not publish to one of its topics, like a
/// validation failure: each such event is listed by index.
fn require_topics(caller: &Caller, events: &[Event]) -> Result<(), ApiError> {
    let mut outside = events
        .iter()
        .enumerate()
        .filter(|(_, event)| !caller.may_reach(&event.topic))
        .peekable();
    if outside.peek().is_none() {
        return Ok(());
    }
    // Only a refused request pays for the message.
    let allowed = describe_prefixes(&caller.topics());
    let details: Vec<FieldIssue> = outside
        .map(|(index, event)| {
            let reason = format!("{:?} does not start with {allowed}", event.topic);
            FieldIssue::at(index, "topic", reason)
        })
        .collect();
    Err(ApiError::Forbidden {
        message: format!(
            "the key {:?} may not publish to {} of these topics; nothing was stored",
            caller.key_name().unwrap_or_default(),
            details.len()
        ),
        details,
    })
}
