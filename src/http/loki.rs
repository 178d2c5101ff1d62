//! `POST /loki/api/v1/push`: Loki's push API, as Promtail, Grafana Alloy and the Loki clients
//! of most languages send it — protobuf compressed with snappy (`application/x-protobuf`) or
//! JSON (`application/json`, gzip accepted) — so they ship to the aggregator unchanged.
//!
//! Each line is judged on its own (`loki/map.rs` says how it becomes an event). As Loki does,
//! the answer is `204` when every line is stored, and `400` naming the refused lines (by
//! position in the push) when some were refused — the others are stored all the same, and a
//! client resending the push stores nothing twice. `429` and `503` carry `Retry-After`; Loki
//! clients retry them.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::batch::{ingest_judged, WholeRequestRefusals};
use super::error::{ApiError, ErrorResponse, FieldIssue};
use super::media::{body_rejection, declared_media_type};
use super::state::AppState;
use crate::auth::{Caller, Scope};

pub mod map;
pub mod push;

pub use map::LokiMapping;

/// The two encodings of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    SnappyProtobuf,
    Json,
}

impl Encoding {
    fn of(headers: &HeaderMap) -> Result<Self, ApiError> {
        match declared_media_type(headers) {
            Some(media) if media.essence == "application/x-protobuf" => Ok(Self::SnappyProtobuf),
            Some(media) if media.essence == "application/json" => Ok(Self::Json),
            Some(media) => Err(ApiError::UnsupportedLokiMediaType(media.declared)),
            None => Err(ApiError::UnsupportedLokiMediaType("(none)".into())),
        }
    }
}

/// Store log lines pushed as to Loki.
///
/// Each line becomes an event: topic from the stream's `service_name` label, else `job`
/// (`--loki-topic-label`), source from `host` or `instance`, `event_id` a digest of the labels,
/// the time and the line, payload the line (its fields when it is a JSON object), the labels
/// and the structured metadata.
#[utoipa::path(
    post,
    path = "/loki/api/v1/push",
    tag = "shippers",
    request_body(content(
                     (String = "application/x-protobuf"),
                     (Object = "application/json")
                 ),
                 description = "A `PushRequest` of Loki's `push.proto`, snappy-compressed; or \
                                `{\"streams\":[{\"stream\":{...},\"values\":[[\"<unix ns>\",\"line\"]]}]}`"),
    responses(
        (status = 204, description = "Every line stored"),
        (status = 400, description = "The body does not decode; or some lines were refused \
                                      (`details` names each by position; the others are stored)",
         body = ErrorResponse),
        WholeRequestRefusals,
    )
)]
pub async fn push(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(&[Scope::Publish])?;
    let encoding = Encoding::of(&headers)?;
    let limits = &state.limits;
    let body = body.map_err(|rejection| body_rejection(rejection, limits.max_body_bytes))?;
    let streams = match encoding {
        Encoding::SnappyProtobuf => push::decode_protobuf(&body, limits.max_body_bytes),
        Encoding::Json => push::decode_json(&body),
    }
    .map_err(|unreadable| match unreadable {
        push::Unreadable::Undecodable(reason) => ApiError::MalformedLoki(reason),
        push::Unreadable::TooLarge { limit, .. } => ApiError::PayloadTooLarge { limit },
    })?;
    let outcome = ingest_judged(&state, &caller, "lines", || {
        map::map_push(&streams, &state.loki, limits.max_payload_depth)
    })
    .await?;
    if outcome.refused.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Err(ApiError::LinesRefused {
        stored: outcome.stored,
        details: outcome
            .refused
            .into_iter()
            .map(|(position, why)| FieldIssue::at(position, "line", why))
            .collect(),
    })
}
