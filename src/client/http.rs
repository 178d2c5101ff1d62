//! The HTTP client of the client layer: one aggregator, one attempt at a time classified into
//! an [`AttemptError`], and `GET`s retried under the client's [`RetryPolicy`].
//!
//! `POST /publish` is offered as a single attempt ([`Client::publish_once`]): the send loop of
//! a stream (`worker.rs`) retries it itself, because it counts every attempt and holds attempts
//! back while the stream is paused. What is retried and for how long is the policy's business
//! (`retry.rs`); a refused request (`4xx`, `500`) fails at once under every policy.

use std::time::Duration;

use axum::body::Bytes;
use rand::Rng;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::access::ClientAccess;
use super::error::{AttemptError, ClientError};
use super::retry::{Retrier, RetryPolicy};

/// How much of a refused request's body goes into the error message.
const ERROR_BODY_CHARS: usize = 500;
/// Longest `Retry-After` taken into account.
const MAX_RETRY_AFTER_SECS: u64 = 3_600;

/// The answer to an accepted publish (the fields the client checks).
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

/// A cheap-to-clone client bound to one aggregator.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    policy: RetryPolicy,
}

impl Client {
    /// A client for the aggregator at `base_url` (e.g. `http://127.0.0.1:8080`) whose attempts
    /// time out after `attempt_timeout`, whose `GET`s are retried under `policy`, and which
    /// sends the API key and trusts the CA certificate of `access`.
    pub fn new(
        base_url: &str,
        attempt_timeout: Duration,
        policy: RetryPolicy,
        access: &ClientAccess,
    ) -> Result<Self, ClientError> {
        let builder = reqwest::Client::builder()
            .timeout(attempt_timeout)
            .connect_timeout(attempt_timeout.min(Duration::from_secs(5)))
            .tcp_nodelay(true);
        let http = access.http_client(builder)?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            policy,
        })
    }

    /// The policy this client was built with.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// One attempt at `POST /publish` with a body already serialised.
    pub async fn publish_once(&self, body: Bytes) -> Result<PublishAnswer, AttemptError> {
        let request = self
            .http
            .post(format!("{}/publish", self.base))
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        attempt(request).await
    }

    /// `GET <path>`, decoded as `T`, retried under the client's policy.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut retrier = Retrier::new(self.policy);
        loop {
            let failure = match attempt(self.http.get(&url)).await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let unit: f64 = rand::thread_rng().gen();
            match retrier.after_failure(&failure, unit) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(retrier.give_up(failure, &format!("GET {path}"))),
            }
        }
    }
}

/// One attempt, classified.
async fn attempt<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, AttemptError> {
    let response = request.send().await.map_err(no_answer)?;
    let status = response.status();
    let retry_after = parse_retry_after(response.headers());
    let body = response.bytes().await.map_err(no_answer)?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|err| AttemptError::BadAnswer(err.to_string()));
    }
    Err(AttemptError::Status {
        status: status.as_u16(),
        retry_after,
        body: String::from_utf8_lossy(&body)
            .chars()
            .take(ERROR_BODY_CHARS)
            .collect(),
    })
}

/// An attempt that got no complete answer: was a connection ever made?
fn no_answer(err: reqwest::Error) -> AttemptError {
    let message = with_causes(&err);
    match err.is_connect() {
        true => AttemptError::Connect(message),
        false => AttemptError::Broken(message),
    }
}

/// The error and each of its causes, `: `-separated: reqwest's own message ("error sending
/// request") hides why, e.g. that the server's certificate is not trusted.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = inner.source();
    }
    message
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
    Some(Duration::from_secs(seconds.min(MAX_RETRY_AFTER_SECS)))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn an_error_message_carries_its_causes_once() {
        let inner = std::io::Error::other("certificate not trusted");
        let outer = std::io::Error::other(WrappedError(inner));
        assert_eq!(
            with_causes(&outer),
            "cannot connect: certificate not trusted"
        );
    }

    #[derive(Debug)]
    struct WrappedError(std::io::Error);

    impl std::fmt::Display for WrappedError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("cannot connect")
        }
    }

    impl std::error::Error for WrappedError {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error_and_gives_up_under_never() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let client = Client::new(
            &format!("http://{address}"),
            Duration::from_secs(2),
            RetryPolicy::never(),
            &ClientAccess::default(),
        )
        .unwrap();
        let failure = client.publish_once(Bytes::from_static(b"{}")).await;
        assert!(
            matches!(failure, Err(AttemptError::Connect(_))),
            "{failure:?}"
        );
        let err = client.get::<serde_json::Value>("/stats").await.unwrap_err();
        assert!(
            matches!(err, ClientError::GaveUp { attempts: 1, .. }),
            "{err}"
        );
    }
}
