//! `POST /_bulk` and `POST /{index}/_bulk`: the Elasticsearch bulk API, so that the log shippers
//! people already run (rsyslog's `omelasticsearch`, Fluent Bit's `es`, Vector's
//! `elasticsearch`, Logstash, Filebeat) can ship to the aggregator without glue; and `GET /`,
//! which those shippers probe at start.
//!
//! Unlike `/publish`, a bulk request is judged per item, as shippers expect: valid documents are
//! stored even when others are refused, and each item's answer carries its own status (`201`
//! created, `200` `noop` for a duplicate, `400` or `403` refused). What concerns the request as
//! a whole answers the whole request: an unreadable body (`400`), too many items (`422`), a key
//! without the `publish` scope (`403`) or over its quota (`429`), and a store that cannot
//! commit (`503` + `Retry-After`: shippers retry the batch, and the ids make the retry
//! idempotent). Those two retryable answers carry a plain-text body on these routes
//! ([`retryable_answers_as_text`]): rsyslog 8.2302 (Debian 12) ignores the status of a bulk
//! answer, drops a batch answered with JSON that has no `items`, and retries only when the
//! connection fails or the body is not JSON (measured with `tests/shipper` and a stub).

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use http_body_util::BodyExt;
use utoipa::IntoResponses;

use super::error::{ApiError, ErrorResponse, FieldIssue};
use super::publish::{body_format, body_rejection};
use super::state::AppState;
use crate::auth::{Caller, Scope};
use crate::event::{Event, Outcome};

mod answer;
mod parse;

pub use answer::{BulkItemAnswer, BulkResponse, ItemResult, RootInfo};
use parse::{parse_bulk, BulkItem};

/// The answers of both bulk routes, for the OpenAPI document.
#[derive(IntoResponses)]
#[allow(dead_code)] // only its description is used
enum BulkAnswers {
    /// Every item answered; `errors` tells whether one was refused.
    #[response(status = 200)]
    Answered(BulkResponse),
    /// A line is not JSON, or an action has no document.
    #[response(status = 400)]
    Unpaired(ErrorResponse),
    /// The body exceeds `--max-body-bytes`.
    #[response(status = 413)]
    TooLarge(ErrorResponse),
    /// Not declared `application/json` or `application/x-ndjson`.
    #[response(status = 415)]
    NotNdjson(ErrorResponse),
    /// More items than `--max-events-per-request`, or none.
    #[response(status = 422)]
    ItemCount(ErrorResponse),
    /// Too many requests in flight, or the key over its quota; the message as plain text.
    #[response(status = 429, content_type = "text/plain",
               headers(("Retry-After" = u32, description = "Seconds to wait")))]
    TooMany(String),
    /// Store unreachable or slow; retrying the batch is safe; the message as plain text.
    #[response(status = 503, content_type = "text/plain",
               headers(("Retry-After" = u32, description = "Seconds to wait")))]
    Unavailable(String),
}

/// Elastic's clients check this header before they trust an answer.
const PRODUCT_HEADER: HeaderName = HeaderName::from_static("x-elastic-product");

/// What a shipper that probes `GET /` learns: an Elasticsearch-compatible version (shippers
/// pick their bulk format by it) and what it really talks to.
#[utoipa::path(
    get,
    path = "/",
    tag = "shippers",
    responses((status = 200, description = "Version information, as Elasticsearch gives it", body = RootInfo))
)]
pub async fn root() -> Response {
    with_product_header(Json(RootInfo::new()))
}

/// Store log documents sent in the Elasticsearch bulk format (NDJSON action/document pairs).
///
/// `index` and `create` actions store their document as an event of topic `_index`, id `_id`
/// (or the SHA-256 of topic and document when absent, so a retried batch deduplicates), time
/// `@timestamp` (else `timestamp`, `time`, or the receive time), source `host.name`, `host` or
/// `hostname` (else `unknown`), payload the document. `delete` and `update` are refused per item.
#[utoipa::path(
    post,
    path = "/_bulk",
    tag = "shippers",
    request_body(content = String, content_type = "application/x-ndjson",
                 description = "Action and document lines, e.g. `{\"index\":{\"_index\":\"syslog.checkout\"}}` \
                                then `{\"@timestamp\":\"2026-12-02T10:00:00Z\",\"host\":\"vm\",\"message\":\"paid\"}`; \
                                `application/json` is accepted too"),
    responses(BulkAnswers)
)]
pub async fn bulk(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    ingest_bulk(&state, &caller, &headers, body, None).await
}

/// Store log documents in the bulk format, `index` defaulting the `_index` of each action.
#[utoipa::path(
    post,
    path = "/{index}/_bulk",
    tag = "shippers",
    params(("index" = String, Path, description = "The topic of actions without `_index`")),
    request_body(content = String, content_type = "application/x-ndjson",
                 description = "Action and document lines, as for `POST /_bulk`"),
    responses(BulkAnswers)
)]
pub async fn bulk_into_index(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    ingest_bulk(&state, &caller, &headers, body, Some(&index)).await
}

async fn ingest_bulk(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    path_index: Option<&str>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    caller.require(&[Scope::Publish])?;
    body_format(headers)?;
    let body = body.map_err(|rejection| body_rejection(rejection, state.limits.max_body_bytes))?;
    let limits = &state.limits;
    let items = parse_bulk(&body, path_index, Utc::now(), limits.max_payload_depth)
        .map_err(|unpaired| ApiError::MalformedJson(unpaired.0))?;
    if items.is_empty() || items.len() > limits.max_events_per_request {
        return Err(ApiError::Validation(vec![FieldIssue::request(
            "items",
            format!(
                "a bulk request holds 1 to {} items (got {})",
                limits.max_events_per_request,
                items.len()
            ),
        )]));
    }
    let (answers, events) = judge(caller, items);
    if !events.is_empty() {
        if let (Some(key), Err(exceeded)) = (caller.key_name(), caller.take_events(events.len())) {
            return Err(ApiError::over_quota(key, exceeded));
        }
    }
    let (positions, events): (Vec<usize>, Vec<Event>) = events.into_iter().unzip();
    let outcomes = if events.is_empty() {
        Vec::new()
    } else {
        state.tree.ingest(events).await?
    };
    if let Some(key) = caller.key_name() {
        state.metrics.key_published(key, outcomes.len());
    }
    let mut answers = answers;
    for (position, outcome) in positions.into_iter().zip(outcomes) {
        if let Some(answer) = answers.get_mut(position) {
            answer.result.committed(outcome == Outcome::New);
        }
    }
    let errors = answers.iter().any(|answer| answer.result.error.is_some());
    let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(with_product_header(Json(BulkResponse {
        took,
        errors,
        items: answers,
    })))
}

/// Each item's answer so far (refused, or waiting for its commit) and the events to commit,
/// with their item positions. A topic outside the key's prefixes refuses that item (`403`).
fn judge(caller: &Caller, items: Vec<BulkItem>) -> (Vec<BulkItemAnswer>, Vec<(usize, Event)>) {
    let mut answers = Vec::with_capacity(items.len());
    let mut events = Vec::new();
    for (position, item) in items.into_iter().enumerate() {
        let pending = ItemResult::pending(item.index, item.id);
        let result = match item.event {
            Err(reason) => pending.refused(400, "illegal_argument_exception", reason),
            Ok(event) if !caller.may_reach(&event.topic) => pending.refused(
                403,
                "security_exception",
                format!("the key may not publish to {:?}", event.topic),
            ),
            Ok(event) => {
                events.push((position, event));
                pending
            }
        };
        answers.push(BulkItemAnswer {
            action: item.action,
            result,
        });
    }
    (answers, events)
}

/// Middleware of the bulk routes: a `429` or `503` (from any layer: admission, quota, store)
/// gets its message as `text/plain` instead of the JSON error body, so that rsyslog retries the
/// batch instead of dropping it (see the module documentation); every other shipper goes by
/// the status and retries either way. Other answers pass untouched.
pub async fn retryable_answers_as_text(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // An error body is one short JSON object, built by this server.
    let bytes = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct ErrorMessage {
        error: String,
    }
    let message = serde_json::from_slice::<ErrorMessage>(&bytes)
        .map(|error| error.error)
        .unwrap_or_else(|_| status.to_string());
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Response::from_parts(parts, Body::from(format!("{message}\n")))
}

fn with_product_header(answer: impl IntoResponse) -> Response {
    let mut response = answer.into_response();
    response
        .headers_mut()
        .insert(PRODUCT_HEADER, HeaderValue::from_static("Elasticsearch"));
    response
}
