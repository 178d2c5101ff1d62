//! The retrying HTTP client of the publisher: `POST /publish` and `GET /stats`, `/events`.
//!
//! Connection errors, attempt timeouts, broken responses, `429`, `502`, `503` and `504` are
//! retried with capped exponential backoff and full jitter for up to the run's retry budget per
//! request, so a stream survives the server being restarted under it. A `Retry-After` answer is
//! a floor: the client never comes back sooner than asked, and adds jitter on top so that many
//! publishers do not return in lockstep. Anything else (`4xx`, `500`) fails at once: retrying a
//! request the server refuses cannot help.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use rand::Rng;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// First backoff ceiling; doubles on every retry.
const BACKOFF_BASE: Duration = Duration::from_millis(50);
/// Largest backoff ceiling.
const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// How much of a refused request's body goes into the error message.
const ERROR_BODY_CHARS: usize = 500;

/// Why a request did not get a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the request with a status that retrying cannot fix.
    #[error("{what} was refused with {status}: {body}")]
    Refused {
        /// Which request, e.g. `POST /publish`.
        what: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// Every attempt within the retry budget failed.
    #[error("gave up on {what} after {attempts} attempts over {elapsed:?}: {last}")]
    GaveUp {
        /// Which request.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        last: String,
    },
    /// A `200` whose body is not what the contract says.
    #[error("unreadable answer to {what}: {reason}")]
    BadAnswer {
        /// Which request.
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// The HTTP client could not be set up.
    #[error("cannot build the http client: {0}")]
    Build(#[source] reqwest::Error),
}

/// A successful answer and how many attempts it took.
#[derive(Debug)]
pub struct Delivery<T> {
    /// The decoded answer.
    pub value: T,
    /// Attempts made, at least 1; every attempt but the last may or may not have landed.
    pub attempts: u32,
}

/// The answer to an accepted publish (the fields the publisher checks).
#[derive(Debug, Clone, Deserialize)]
pub struct PublishAnswer {
    /// Events in the request, as counted by the server.
    pub received: u64,
    /// One entry per event, in request order.
    pub results: Vec<EventResult>,
}

/// The server's verdict on one event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventResult {
    /// The event's topic.
    pub topic: String,
    /// The event's id.
    pub event_id: String,
    /// `new` or `duplicate`.
    pub outcome: String,
}

/// The counters of `GET /stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct ServerCounters {
    /// Events acknowledged.
    pub received: u64,
    /// Distinct events stored.
    pub unique_processed: u64,
    /// Events dropped as duplicates.
    pub duplicate_dropped: u64,
}

/// A cheap-to-clone client bound to one aggregator.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    retry_budget: Duration,
}

/// What one attempt came to.
enum Attempt<T> {
    Done(T),
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    Fail(ClientError),
}

impl Client {
    /// A client for the aggregator at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(
        base_url: &str,
        attempt_timeout: Duration,
        retry_budget: Duration,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(attempt_timeout)
            .connect_timeout(attempt_timeout.min(Duration::from_secs(5)))
            .tcp_nodelay(true)
            .build()
            .map_err(ClientError::Build)?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            retry_budget,
        })
    }

    /// `POST /publish` with a body already serialised.
    pub async fn publish(&self, body: Bytes) -> Result<Delivery<PublishAnswer>, ClientError> {
        let url = format!("{}/publish", self.base);
        self.with_retries("POST /publish", || {
            self.http
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
        })
        .await
    }

    /// `GET <path>`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let what = format!("GET {path}");
        let delivery = self.with_retries(&what, || self.http.get(&url)).await?;
        Ok(delivery.value)
    }

    async fn with_retries<T: DeserializeOwned>(
        &self,
        what: &str,
        request: impl Fn() -> RequestBuilder,
    ) -> Result<Delivery<T>, ClientError> {
        let started = Instant::now();
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            let (reason, retry_after) = match attempt(what, request()).await {
                Attempt::Done(value) => return Ok(Delivery { value, attempts }),
                Attempt::Fail(err) => return Err(err),
                Attempt::Retry {
                    reason,
                    retry_after,
                } => (reason, retry_after),
            };
            let elapsed = started.elapsed();
            let Some(left) = self
                .retry_budget
                .checked_sub(elapsed)
                .filter(|l| !l.is_zero())
            else {
                return Err(ClientError::GaveUp {
                    what: what.to_string(),
                    attempts,
                    elapsed,
                    last: reason,
                });
            };
            let unit: f64 = rand::thread_rng().gen();
            tokio::time::sleep(backoff_delay(attempts - 1, retry_after, unit).min(left)).await;
        }
    }
}

/// One attempt, classified.
async fn attempt<T: DeserializeOwned>(what: &str, request: RequestBuilder) -> Attempt<T> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => return retry(format!("{err}"), None),
    };
    let status = response.status();
    let wait_hint = parse_retry_after(response.headers());
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(err) => return retry(format!("response body broke off: {err}"), None),
    };
    if status.is_success() {
        return match serde_json::from_slice(&body) {
            Ok(value) => Attempt::Done(value),
            Err(err) => Attempt::Fail(ClientError::BadAnswer {
                what: what.to_string(),
                reason: err.to_string(),
            }),
        };
    }
    if is_retryable(status) {
        return retry(format!("status {status}"), wait_hint);
    }
    Attempt::Fail(ClientError::Refused {
        what: what.to_string(),
        status: status.as_u16(),
        body: String::from_utf8_lossy(&body)
            .chars()
            .take(ERROR_BODY_CHARS)
            .collect(),
    })
}

fn retry<T>(reason: String, retry_after: Option<Duration>) -> Attempt<T> {
    Attempt::Retry {
        reason,
        retry_after,
    }
}

/// Statuses that mean "not now" rather than "never".
pub fn is_retryable(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: servers here send seconds).
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.min(3_600)))
}

/// The wait before retry number `retry + 1`: full jitter (`unit` in `[0, 1)` of a ceiling that
/// doubles from [`BACKOFF_BASE`] up to [`BACKOFF_CAP`]), on top of `Retry-After` when given.
pub fn backoff_delay(retry: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << retry.min(16))
        .min(BACKOFF_CAP);
    let jitter = ceiling.mul_f64(unit.clamp(0.0, 1.0));
    retry_after.unwrap_or_default() + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        assert_eq!(backoff_delay(0, None, 0.0), Duration::ZERO);
        assert_eq!(backoff_delay(0, None, 1.0), BACKOFF_BASE);
        assert_eq!(backoff_delay(3, None, 1.0), BACKOFF_BASE * 8);
        assert_eq!(backoff_delay(30, None, 1.0), BACKOFF_CAP);
        assert_eq!(backoff_delay(3, None, 0.5), BACKOFF_BASE * 4);
    }

    #[test]
    fn retry_after_is_a_floor_and_jitter_comes_on_top() {
        let floor = Duration::from_secs(1);
        assert_eq!(backoff_delay(0, Some(floor), 0.0), floor);
        assert!(backoff_delay(5, Some(floor), 0.9) > floor);
        assert!(backoff_delay(30, Some(floor), 0.99) <= floor + BACKOFF_CAP);
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for status in [429, 502, 503, 504] {
            assert!(
                is_retryable(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
        for status in [400, 404, 413, 422, 500] {
            assert!(
                !is_retryable(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_seconds_are_read_and_dates_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&headers), None);
    }
}
