//! `POST /_bulk` and `POST /{index}/_bulk`: the Elasticsearch bulk API, so that the log shippers
//! people already run (rsyslog's `omelasticsearch`, tested in `tests/shipper`; Fluent Bit's
//! `es` and Vector's `elasticsearch`, configured in docs/shippers.md) can ship to the aggregator without
//! glue; and `GET /`, which shippers probe at start. Compressed bodies (`Content-Encoding`
//! `gzip`, `deflate`, `zstd`) are decoded before the handler runs (`intake.rs`).
//!
//! Unlike `/publish`, a bulk request is judged per item, as shippers expect: valid documents are
//! stored even when others are refused, and each item's answer carries its own status (`201`
//! created, `200` `noop` for a duplicate, `400` or `403` refused; a document the store itself
//! refuses is found by committing the batch's items one by one). What concerns the request as
//! a whole answers the whole request: action lines that cannot be paired with documents (`400`), too many items (`422`), a key
//! without the `publish` scope (`403`) or over its quota (`429`), and a store that cannot
//! commit (`503` + `Retry-After`: shippers retry the batch, and the ids make the retry
//! idempotent). On these routes a retryable answer (`408`, `429`, `503`) ends in a failed
//! transfer ([`retryable_answers_cut`]): rsyslog 8.2302 (Debian 12) ignores the status of a
//! bulk answer; any answer it can read makes it retry each line of the batch alone, once, and
//! drop what fails again; only a failed transfer makes it keep the batch and resend it whole
//! (measured with `tests/shipper`, and in rsyslog's `omelasticsearch.c`).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use chrono::Utc;
use utoipa::IntoResponses;

use super::batch::{commit_one_by_one, commit_together};
use super::console;
use super::error::{retryable_as_aborted, ApiError, ErrorResponse, FieldIssue};
use super::media::{body_format, body_rejection};
use super::state::AppState;
use crate::actors::ActorError;
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
    /// An action line is not a JSON object with one known action, an action has no document,
    /// or the body is not what its `Content-Encoding` says.
    #[response(status = 400)]
    Unpaired(ErrorResponse),
    /// The body exceeds `--max-body-bytes`, as sent or once decoded.
    #[response(status = 413)]
    TooLarge(ErrorResponse),
    /// Not declared `application/json` or `application/x-ndjson`, or a `Content-Encoding`
    /// other than `gzip`, `deflate` or `zstd`.
    #[response(status = 415)]
    NotNdjson(ErrorResponse),
    /// More items than `--max-events-per-request`, or none.
    #[response(status = 422)]
    ItemCount(ErrorResponse),
    /// The body did not arrive within `--body-read-timeout`; the answer is cut (see above).
    #[response(status = 408, content_type = "text/plain")]
    BodyTimeout(String),
    /// Too many requests in flight, or the key over its quota; the answer is cut before its
    /// end, so that every shipper retries the whole batch.
    #[response(status = 429, content_type = "text/plain",
               headers(("Retry-After" = u32, description = "Seconds to wait")))]
    TooMany(String),
    /// Store unreachable or slow; retrying the batch is safe; the answer is cut before its end,
    /// so that every shipper retries the whole batch.
    #[response(status = 503, content_type = "text/plain",
               headers(("Retry-After" = u32, description = "Seconds to wait")))]
    Unavailable(String),
}

/// Elastic's clients check this header before they trust an answer.
const PRODUCT_HEADER: HeaderName = HeaderName::from_static("x-elastic-product");

/// What a shipper that probes `GET /` learns: an Elasticsearch-compatible version (shippers
/// pick their bulk format by it) and what it really talks to. A browser (a request that accepts
/// `text/html`) is sent to the console at `/ui` instead.
#[utoipa::path(
    get,
    path = "/",
    tag = "shippers",
    responses(
        (status = 200, description = "Version information, as Elasticsearch gives it", body = RootInfo),
        (status = 303, description = "A browser is sent to the console",
         headers(("Location" = String, description = "`/ui`"))),
    )
)]
pub async fn root(headers: HeaderMap) -> Response {
    if console::wants_html(&headers) {
        return Redirect::to(console::CONSOLE_PATH).into_response();
    }
    with_product_header(Json(RootInfo::new()))
}

/// Store log documents sent in the Elasticsearch bulk format (NDJSON action/document pairs).
///
/// `index` and `create` actions store their document as an event of topic `_index`, id `_id`
/// (or the SHA-256 of topic and document when absent, so a retried batch deduplicates), time
/// `@timestamp` (else `timestamp`, `time`, or the receive time), source the first of
/// `host.name`, `host`, `host.hostname`, `hostname`, `HOST`, `agent.name`, `kubernetes.host`
/// (else `unknown`), payload the document. `delete` and `update` are refused per item.
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
    let received_at = Utc::now();
    let read = || {
        parse_bulk(&body, path_index, received_at, limits.max_payload_depth)
            .map_err(|unpaired| ApiError::MalformedBulk(unpaired.0))
    };
    let items = read()?;
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
    let (mut answers, events) = judge(caller, items);
    if !events.is_empty() {
        if let (Some(key), Err(exceeded)) = (caller.key_name(), caller.take_events(events.len())) {
            return Err(ApiError::over_quota(key, exceeded));
        }
    }
    let committed = match commit_together(state, events).await {
        Err(ActorError::Rejected(_)) => {
            // The store refused a document that passed validation, and with it the batch. The
            // events went to the actors, so the valid items are read again from the body and
            // committed one by one: only the document the store refuses is refused.
            let (_, events) = judge(caller, read()?);
            commit_one_by_one(state, events).await?
        }
        other => other?,
    };
    if let Some(key) = caller.key_name() {
        let stored = committed.iter().filter(|(_, outcome)| outcome.is_ok());
        state.metrics.key_published(key, stored.count());
    }
    for (position, outcome) in committed {
        if let Some(answer) = answers.get_mut(position) {
            match outcome {
                Ok(outcome) => answer.result.committed(outcome == Outcome::New),
                Err(reason) => answer
                    .result
                    .refuse(400, "mapper_parsing_exception", reason),
            }
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
        let mut result = ItemResult::pending(item.index, item.id);
        match item.event {
            Err(reason) => result.refuse(400, "illegal_argument_exception", reason),
            Ok(event) if !caller.may_reach(&event.topic) => result.refuse(
                403,
                "security_exception",
                format!("the key may not publish to {:?}", event.topic),
            ),
            Ok(event) => events.push((position, event)),
        }
        answers.push(BulkItemAnswer {
            action: item.action,
            result,
        });
    }
    (answers, events)
}

/// Middleware of the bulk routes: a `408`, `429` or `503` (from any layer inside: body read,
/// admission, quota, store) ends in a failed transfer ([`retryable_as_aborted`]), so that
/// rsyslog keeps the batch and resends it whole (see the module documentation); every other
/// shipper retries a failed transfer too. The answer is still logged and counted by status.
/// The connection-level refusal outside the router does the same for these paths
/// (`connection.rs`, [`is_bulk_path`]).
pub async fn retryable_answers_cut(request: Request, next: Next) -> Response {
    retryable_as_aborted(next.run(request).await)
}

/// Whether `path` is one of the bulk routes.
pub fn is_bulk_path(path: &str) -> bool {
    path.ends_with("/_bulk")
}

fn with_product_header(answer: impl IntoResponse) -> Response {
    let mut response = answer.into_response();
    response
        .headers_mut()
        .insert(PRODUCT_HEADER, HeaderValue::from_static("Elasticsearch"));
    response
}
