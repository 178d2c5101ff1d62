//! `ApiError`: the one place where failures become HTTP status codes and JSON bodies.
//!
//! Client mistakes are 4xx with a body that names the field and the reason:
//! `{"error": "...", "details": [{"index": 0, "field": "topic", "reason": "must not be empty"}]}`.
//! Server-side trouble that a retry can fix is `503` with `Retry-After`; anything else is an
//! opaque `500` whose cause goes to the log, never to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tracing::{error, warn};
use utoipa::ToSchema;

use super::encoding::EncodingError;
use crate::actors::ActorError;
use crate::auth::{Denied, QuotaExceeded, Unauthenticated};
use crate::store::StoreError;

/// Seconds a client is asked to wait before retrying a `503` or `429`.
pub const RETRY_AFTER_SECONDS: u32 = 1;
/// Most problems listed in one answer; `details_total` says how many there were.
pub const MAX_DETAILS: usize = 100;

/// One problem with a request, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldIssue {
    /// Position of the event in the request, or `null` for request-level problems.
    pub index: Option<usize>,
    /// The field (or query parameter) at fault.
    pub field: String,
    /// Why it was rejected.
    pub reason: String,
}

impl FieldIssue {
    /// A problem with field `field` of event `index`.
    pub fn at(index: usize, field: &str, reason: impl ToString) -> Self {
        Self {
            index: Some(index),
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// A problem with the request as a whole, or with a query parameter.
    pub fn request(field: &str, reason: impl ToString) -> Self {
        Self {
            index: None,
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

/// Collects the problems of one event (or of the query string) so that all are reported at once.
#[derive(Debug, Default)]
pub struct IssueLog {
    index: Option<usize>,
    issues: Vec<FieldIssue>,
}

impl IssueLog {
    /// A log for the event at `index`, or for the request as a whole when `None`.
    pub fn new(index: Option<usize>) -> Self {
        Self {
            index,
            issues: Vec::new(),
        }
    }

    /// The value of `result`, or `None` after recording why `field` was rejected.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(reason) => {
                self.issues.push(FieldIssue {
                    index: self.index,
                    field: field.into(),
                    reason: reason.to_string(),
                });
                None
            }
        }
    }

    /// The recorded problems.
    pub fn into_issues(self) -> Vec<FieldIssue> {
        self.issues
    }
}

/// Every way an HTTP request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON at all (400).
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// A bulk body whose lines cannot be read as action/document pairs (400).
    #[error("malformed bulk body: {0}")]
    MalformedBulk(String),
    /// Some lines of a Loki push were refused, each listed by position; the others are stored
    /// (400, as Loki answers a push with invalid entries).
    #[error("{stored} lines stored; these were refused")]
    LinesRefused {
        /// Lines of the push stored (new or duplicate).
        stored: usize,
        /// The refused lines.
        details: Vec<FieldIssue>,
    },
    /// A Loki push that does not decode (400).
    #[error("the body is not a Loki push: {0}")]
    MalformedLoki(String),
    /// An OTLP body that does not decode as an `ExportLogsServiceRequest` (400).
    #[error("the body is not an OTLP ExportLogsServiceRequest: {0}")]
    MalformedOtlp(String),
    /// The body is JSON but some events are invalid (422); nothing of the request is stored.
    #[error("validation failed")]
    Validation(Vec<FieldIssue>),
    /// Query parameters are invalid (400).
    #[error("invalid query parameters")]
    InvalidQuery(Vec<FieldIssue>),
    /// A parameter in the path is invalid (400).
    #[error("invalid path parameter")]
    InvalidPath(Vec<FieldIssue>),
    /// The store can never process this request's input, e.g. a value it cannot hold (400).
    #[error("the store refused the request: {0}")]
    StoreRejected(String),
    /// The body exceeds the configured limit (413).
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body did not arrive within the body read timeout (408).
    #[error("the request body did not arrive within {0:?}")]
    BodyTimeout(std::time::Duration),
    /// The body's `Content-Encoding` is not supported (415), its bytes are not what the
    /// label says (400), or it decodes past the body limit (413).
    #[error(transparent)]
    Encoding(EncodingError),
    /// The body is not declared as JSON or NDJSON (415).
    #[error(
        "unsupported content type {0}: send the body with Content-Type: application/json \
         or application/x-ndjson"
    )]
    UnsupportedMediaType(String),
    /// An OTLP body declared as neither protobuf nor JSON (415).
    #[error(
        "unsupported content type {0}: send OTLP logs with Content-Type: application/x-protobuf \
         or application/json"
    )]
    UnsupportedOtlpMediaType(String),
    /// A Loki push declared as neither protobuf nor JSON (415).
    #[error(
        "unsupported content type {0}: push with Content-Type: application/x-protobuf \
         (snappy-compressed) or application/json"
    )]
    UnsupportedLokiMediaType(String),
    /// No API key, or one that is not in the keys file (401, with `WWW-Authenticate`).
    #[error("{0}")]
    Unauthenticated(Unauthenticated),
    /// The key lacks the route's scope or a topic's prefix (403); nothing of the request is
    /// stored. `details` locates the refused topics of a publish.
    #[error("{message}")]
    Forbidden {
        /// What is missing.
        message: String,
        /// For a publish: each event whose topic the key may not publish to.
        details: Vec<FieldIssue>,
    },
    /// The key's publish quota holds too few events now (429, `Retry-After` from its bucket).
    #[error(
        "the key {key:?} is over its publish quota: retry in {} ms",
        .retry_after.as_micros().div_ceil(1000)
    )]
    QuotaExceeded {
        /// The key's name.
        key: String,
        /// When the bucket holds enough for this request.
        retry_after: std::time::Duration,
    },
    /// No route matches (404).
    #[error("not found")]
    NotFound,
    /// The route exists but not for this method (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The client sends more than the server may hold in flight; retry after a pause (429).
    #[error("too many requests: {0}")]
    TooManyRequests(String),
    /// As many live tails as `--max-subscribers` allows are open; retry later (503).
    #[error("too many live tails: this instance serves at most {0} at once")]
    TooManySubscribers(usize),
    /// A dependency is down or busy; retrying later is safe (503).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected condition (500).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Transient(_) => Self::Unavailable(err.to_string()),
            StoreError::Rejected(ref cause) => Self::StoreRejected(cause.message.clone()),
            StoreError::Fatal(_) => Self::Internal(anyhow::Error::new(err)),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        Self::Forbidden {
            message: denied.to_string(),
            details: Vec::new(),
        }
    }
}

impl ApiError {
    /// The answer to a key over its quota: `429` to wait, or `422` for a request that no wait
    /// can let through (more events than the bucket holds).
    pub fn over_quota(key: &str, exceeded: QuotaExceeded) -> Self {
        match exceeded {
            QuotaExceeded::Wait { retry_after } => Self::QuotaExceeded {
                key: key.into(),
                retry_after,
            },
            QuotaExceeded::LargerThanBurst { events, burst } => {
                Self::Validation(vec![FieldIssue::request(
                    "events",
                    format!(
                        "{events} events exceed the burst of {burst} events of the key {key:?}: \
                         send smaller batches"
                    ),
                )])
            }
        }
    }
}

impl From<ActorError> for ApiError {
    fn from(err: ActorError) -> Self {
        match err {
            ActorError::Overloaded(_) => Self::TooManyRequests(err.to_string()),
            ActorError::Rejected(reason) => Self::Validation(vec![FieldIssue::request(
                "events",
                format!("the store cannot hold this request's events: {reason}"),
            )]),
            ActorError::Timeout | ActorError::Unavailable(_) => Self::Unavailable(err.to_string()),
            ActorError::Store(err) => Self::from(err),
        }
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    /// What went wrong; opaque for 5xx answers.
    pub error: String,
    /// For 400 and 422: the problems, located by event index and field (the first 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldIssue>>,
    /// How many problems there were, when more than `details` lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details_total: Option<usize>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let mut retry_after = RETRY_AFTER_SECONDS;
        let (status, message, details) = match self {
            Self::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, message, None),
            Self::Forbidden { details, .. } => {
                let details = (!details.is_empty()).then_some(details);
                (StatusCode::FORBIDDEN, message, details)
            }
            Self::QuotaExceeded {
                retry_after: wait, ..
            } => {
                retry_after = whole_seconds(wait);
                (StatusCode::TOO_MANY_REQUESTS, message, None)
            }
            Self::MalformedJson(_)
            | Self::MalformedBulk(_)
            | Self::MalformedOtlp(_)
            | Self::MalformedLoki(_) => (StatusCode::BAD_REQUEST, message, None),
            Self::Validation(issues) => (StatusCode::UNPROCESSABLE_ENTITY, message, Some(issues)),
            Self::LinesRefused { details, .. } => (StatusCode::BAD_REQUEST, message, Some(details)),
            Self::InvalidQuery(issues) | Self::InvalidPath(issues) => {
                (StatusCode::BAD_REQUEST, message, Some(issues))
            }
            Self::StoreRejected(_) => (StatusCode::BAD_REQUEST, message, None),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, message, None),
            Self::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, message, None),
            Self::UnsupportedMediaType(_)
            | Self::UnsupportedOtlpMediaType(_)
            | Self::UnsupportedLokiMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, message, None)
            }
            Self::Encoding(refused) => {
                let status = match refused {
                    EncodingError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    EncodingError::Mismatch { .. } => StatusCode::BAD_REQUEST,
                    EncodingError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    EncodingError::OverBudget => StatusCode::TOO_MANY_REQUESTS,
                };
                (status, message, None)
            }
            Self::NotFound => (StatusCode::NOT_FOUND, message, None),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, message, None),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, message, None),
            Self::TooManySubscribers(_) => (StatusCode::SERVICE_UNAVAILABLE, message, None),
            Self::Unavailable(cause) => {
                warn!(cause = %cause, "answering 503");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service temporarily unavailable, retry later".to_string(),
                    None,
                )
            }
            Self::Internal(err) => {
                error!(error = ?err, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_string(),
                    None,
                )
            }
        };
        let details_total = details
            .as_ref()
            .map(Vec::len)
            .filter(|&total| total > MAX_DETAILS);
        let details = details.map(|mut issues| {
            issues.truncate(MAX_DETAILS);
            issues
        });
        let public = PublicMessage(message.clone());
        let body = Json(ErrorResponse {
            error: message,
            details,
            details_total,
        });
        let mut response = (status, body).into_response();
        response.extensions_mut().insert(public);
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="aggregator""#),
            );
        }
        response
    }
}

/// The message of an error answer, kept beside its JSON body for [`retryable_as_aborted`].
#[derive(Debug, Clone)]
struct PublicMessage(String);

/// The same answer, aborted, when it is one a client should retry (`408`, `429`, `503`): its
/// body becomes the message as `text/plain` followed by an error, so hyper closes the
/// connection before the body's end and the client sees a failed transfer (whether the status
/// line and `Retry-After` reach it first is hyper's choice; the server logs and counts the
/// status either way). For the
/// bulk routes only: rsyslog's Elasticsearch output retries a whole batch only after a failed
/// transfer (any answer it reads, JSON or not, makes it retry each line alone once and drop
/// what fails again; see `bulk.rs`). Any other answer is returned as it is.
pub fn retryable_as_aborted(response: Response) -> Response {
    let status = response.status();
    let retryable = [
        StatusCode::REQUEST_TIMEOUT,
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::SERVICE_UNAVAILABLE,
    ];
    if !retryable.contains(&status) {
        return response;
    }
    let (mut parts, _json) = response.into_parts();
    let message = parts
        .extensions
        .get::<PublicMessage>()
        .map_or_else(|| status.to_string(), |public| public.0.clone());
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let chunks: [Result<axum::body::Bytes, std::io::Error>; 2] = [
        Ok(format!("{message}\n").into()),
        Err(std::io::Error::other(
            "answer cut on purpose, so that the client retries the whole request",
        )),
    ];
    Response::from_parts(
        parts,
        axum::body::Body::from_stream(futures::stream::iter(chunks)),
    )
}

/// `Retry-After` is in whole seconds: rounded up, so that a client waiting that long finds
/// the bucket full enough, and at least one.
fn whole_seconds(wait: std::time::Duration) -> u32 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    u32::try_from(seconds).unwrap_or(u32::MAX).max(1)
}
