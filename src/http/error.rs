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

use crate::actors::ActorError;
use crate::store::StoreError;

/// Seconds a client is asked to wait before retrying a `503`.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// One problem with a request, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// The body is JSON but some events are invalid (422); nothing of the request is stored.
    #[error("validation failed")]
    Validation(Vec<FieldIssue>),
    /// Query parameters are invalid (400).
    #[error("invalid query parameters")]
    InvalidQuery(Vec<FieldIssue>),
    /// The body exceeds the configured limit (413).
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No route matches (404).
    #[error("not found")]
    NotFound,
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
            StoreError::Corrupt(_) | StoreError::Migration(_) | StoreError::Open(_) => {
                Self::Internal(anyhow::Error::new(err))
            }
            StoreError::Pool(_) | StoreError::Db(_) | StoreError::Timeout(_) => {
                Self::Unavailable(err.to_string())
            }
        }
    }
}

impl From<ActorError> for ApiError {
    fn from(err: ActorError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a [FieldIssue]>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message, details) = match &self {
            Self::MalformedJson(_) => (StatusCode::BAD_REQUEST, self.to_string(), None),
            Self::Validation(issues) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                self.to_string(),
                Some(issues.as_slice()),
            ),
            Self::InvalidQuery(issues) => (
                StatusCode::BAD_REQUEST,
                self.to_string(),
                Some(issues.as_slice()),
            ),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, self.to_string(), None),
            Self::NotFound => (StatusCode::NOT_FOUND, self.to_string(), None),
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
        let body = Json(ErrorBody {
            error: &message,
            details,
        });
        let mut response = (status, body).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        response
    }
}
