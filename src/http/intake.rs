//! Request bodies arrive in full, on time and within budget before a request is admitted, and
//! then admission itself: one middleware for both, since it runs on every request.
//!
//! For every request of the API proper, before it takes an admission slot:
//! 1. a declared `Content-Length` over `--max-body-bytes` is refused with `413` before any
//!    byte of the body is read (and so before hyper sends `100 Continue`);
//! 2. the body's bytes are reserved from a process-wide budget (`--max-buffered-body-bytes`):
//!    the declared length, or the whole per-request limit for a chunked body; past the budget
//!    the request gets `429`, so half-sent bodies cannot grow memory without bound;
//! 3. the body is read within `--body-read-timeout`; a slower client gets `408`;
//! 4. a body with a `Content-Encoding` is decoded (`encoding.rs`): an unsupported coding gets
//!    `415` before any byte is read, bytes that are not what the label says get `400`, and a
//!    body that decodes past `--max-body-bytes` gets `413` once the limit is reached, never
//!    inflated whole. Decoded bytes are reserved from the same budget as they appear (a small
//!    compressed body may decode to the whole limit), and handlers see only decoded bytes.
//!
//! Only then is the request admitted: refused at once with `429` when
//! `--max-concurrent-requests` are already in progress (queued requests would hold memory and
//! time out anyway). So slow uploads never hold the slots that fast requests need. The body
//! reservation and the admission slot are held until the answer is produced.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::encoding::{self, ContentCoding, EncodingError};
use super::error::ApiError;

/// Budget bookkeeping is in KiB: a semaphore counts at most `u32::MAX` permits per request.
const BUDGET_UNIT: usize = 1024;

/// The body budget, the admission slots, and the rules they enforce.
#[derive(Debug)]
pub struct Intake {
    budget: Arc<Semaphore>,
    admission: Semaphore,
    max_body_bytes: usize,
    read_timeout: Duration,
}

impl Intake {
    /// An intake allowing `max_body_bytes` per request, `budget_bytes` buffered at once,
    /// `read_timeout` to receive a body, and `max_concurrent` requests in progress.
    pub fn new(
        max_body_bytes: usize,
        budget_bytes: usize,
        read_timeout: Duration,
        max_concurrent: usize,
    ) -> Self {
        Self {
            budget: Arc::new(Semaphore::new(budget_bytes.div_ceil(BUDGET_UNIT))),
            admission: Semaphore::new(max_concurrent),
            max_body_bytes,
            read_timeout,
        }
    }
}

/// The middleware: see the module documentation.
pub async fn receive_and_admit(
    State(intake): State<Arc<Intake>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let limit = intake.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    // Without a length and without chunked encoding, HTTP/1.1 has no body (a GET).
    let chunked = request.headers().contains_key(header::TRANSFER_ENCODING);
    let expected = match declared {
        Some(length) => length as usize,
        None if chunked => limit,
        None => 0,
    };
    if expected == 0 {
        return admit(&intake, request, next).await;
    }
    let coding = encoding::declared_coding(request.headers()).map_err(ApiError::Encoding)?;
    let Some(reservation) = reserve(&intake.budget, expected) else {
        return Err(over_budget());
    };
    let (mut parts, body) = request.into_parts();
    let read = Limited::new(body, limit).collect();
    let bytes = match tokio::time::timeout(intake.read_timeout, read).await {
        Err(_elapsed) => return Err(ApiError::BodyTimeout(intake.read_timeout)),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        Ok(Err(err)) => return Err(ApiError::MalformedJson(format!("unreadable body: {err}"))),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    if coding == ContentCoding::Identity || bytes.is_empty() {
        return admit(&intake, Request::from_parts(parts, Body::from(bytes)), next).await;
    }
    let (decoded, _reservation) = decode_body(&intake, coding, bytes, reservation).await?;
    // Handlers see the body as if it had been sent plain.
    parts.headers.remove(header::CONTENT_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(decoded.len()));
    let request = Request::from_parts(parts, Body::from(decoded));
    admit(&intake, request, next).await
}

/// Reserves room for `bytes` in `budget`, or `None` when it is spent.
fn reserve(budget: &Arc<Semaphore>, bytes: usize) -> Option<OwnedSemaphorePermit> {
    let units = u32::try_from(bytes.div_ceil(BUDGET_UNIT).max(1)).unwrap_or(u32::MAX);
    budget.clone().try_acquire_many_owned(units).ok()
}

fn over_budget() -> ApiError {
    ApiError::TooManyRequests("the server is buffering as many request bodies as it may".into())
}

/// Decodes `encoded` on a blocking thread (a large body takes milliseconds of CPU), growing
/// `reservation` by each decoded chunk; returns the decoded body and the grown reservation,
/// which the caller holds until its answer.
async fn decode_body(
    intake: &Intake,
    coding: ContentCoding,
    encoded: axum::body::Bytes,
    mut reservation: OwnedSemaphorePermit,
) -> Result<(Vec<u8>, OwnedSemaphorePermit), ApiError> {
    let budget = intake.budget.clone();
    let limit = intake.max_body_bytes;
    let decoding = tokio::task::spawn_blocking(move || {
        let decoded = encoding::decode(coding, &encoded, limit, |chunk| {
            match reserve(&budget, chunk) {
                Some(more) => {
                    reservation.merge(more);
                    true
                }
                None => false,
            }
        });
        (decoded, reservation)
    });
    let (decoded, reservation) = decoding
        .await
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("body decoding failed: {err}")))?;
    match decoded {
        Ok(decoded) => Ok((decoded, reservation)),
        Err(EncodingError::OverBudget) => Err(over_budget()),
        Err(refused) => Err(ApiError::Encoding(refused)),
    }
}

async fn admit(intake: &Intake, request: Request, next: Next) -> Result<Response, ApiError> {
    let Ok(_slot) = intake.admission.try_acquire() else {
        return Err(ApiError::TooManyRequests(
            "the server is at its concurrent request limit".into(),
        ));
    };
    Ok(next.run(request).await)
}
