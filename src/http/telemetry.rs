//! Request-level observability: a request id per request (kept when the client sends one,
//! generated otherwise, echoed in the `x-request-id` response header), one tracing span per request
//! carrying that id with the method and path, and the response metrics (status codes, publish
//! latency). Every log line written while handling a request is inside its span, so it can be
//! found by request id, in text and in JSON logs alike.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::{info_span, Level, Span};

use super::auth::API_KEY_HEADER;
use super::bulk::is_bulk_path;
use crate::metrics::Metrics;

/// The header that carries the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Wraps `router` so that every request gets an id, a span, and its id echoed in the answer.
pub fn with_request_tracing(router: Router) -> Router {
    let header = HeaderName::from_static(REQUEST_ID_HEADER);
    // The last layer added runs first: set the id, open the span with it, then copy it to
    // the response on the way out.
    router
        .layer(PropagateRequestIdLayer::new(header.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                // 5xx answers are already logged, with their cause, by `ApiError`: logging them
                // again here doubled the warnings of an outage (hundreds a second in a failover).
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        .layer(SetRequestIdLayer::new(header, SequentialRequestIds::new()))
        .layer(axum::middleware::from_fn(drop_unusable_request_id))
        // First of all: headers carrying API keys print as `Sensitive` in any debug output.
        .layer(SetSensitiveRequestHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
            HeaderName::from_static(API_KEY_HEADER),
        ]))
}

/// Longest client-sent request id kept; a longer one is replaced by a generated id.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// Removes a client's `x-request-id` unless it is 1 to [`MAX_REQUEST_ID_CHARS`] visible ASCII
/// characters, so that the id set next is a generated one: a client cannot make every log line
/// of its request carry 300 KB, nor smuggle control characters into the logs.
async fn drop_unusable_request_id(mut request: Request, next: Next) -> Response {
    let usable = request.headers().get(REQUEST_ID_HEADER).map(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_REQUEST_ID_CHARS
            && bytes.iter().all(|byte| byte.is_ascii_graphic())
    });
    if usable == Some(false) {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    next.run(request).await
}

/// Generates `<process prefix>-<counter>` ids: unique per process (the prefix is random per
/// start) without the `getrandom` call per request that a v4 UUID costs.
#[derive(Clone)]
struct SequentialRequestIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl SequentialRequestIds {
    fn new() -> Self {
        let prefix = uuid::Uuid::new_v4().simple().to_string();
        Self {
            prefix: prefix[..12].into(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialRequestIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let sequence = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{sequence}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

fn request_span(request: &Request<Body>) -> Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    info_span!(
        "request",
        request_id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

/// Counts every response by status, and times every publish — `POST /publish` and the bulk
/// API — whatever its answer (a `429` from the admission limit included).
pub async fn record_response(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let is_publish = request.method() == Method::POST && (path == "/publish" || is_bulk_path(path));
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.http_response(response.status().as_u16());
    if is_publish {
        metrics.publish_answered(started.elapsed());
    }
    response
}
