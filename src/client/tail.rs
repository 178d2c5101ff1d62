//! [`Tail`]: follows `GET /events/stream` of one aggregator, or of several sharing a store, and
//! never loses or repeats an event across dropped connections, restarts and failovers.
//!
//! The tail remembers the `id` of the last SSE event it received (the server's first event,
//! of type `position`, gives one before any stored event arrives). When the connection drops,
//! or the server answers `5xx`/`429`, it waits (doubling from 100 ms to 5 s), moves on to the
//! next URL, and reconnects with `Last-Event-ID`: the server resumes strictly after it. A
//! `4xx` (a bad filter or cursor) cannot be fixed by retrying and ends the tail.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::access::ClientAccess;
use super::error::ClientError;

/// First pause before a reconnection; doubles up to [`MAX_RECONNECT_DELAY`].
const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(100);
/// Longest pause between reconnections.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);
/// The SSE type of the event that tells where a tail starts.
const POSITION_EVENT: &str = "position";

/// Where a new tail starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TailStart {
    /// Only events committed from now on.
    #[default]
    End,
    /// Every stored event first.
    Beginning,
    /// Strictly after this cursor (an SSE `id`, or with a topic a `/events` cursor).
    Cursor(String),
}

/// What to follow, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailConfig {
    /// Base URLs of aggregators sharing one store; the tail moves to the next on failure.
    pub urls: Vec<String>,
    /// Only this topic.
    pub topic: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Only events matching this search query (docs/http-api.md, "Searching").
    pub query: Option<String>,
    /// Where to start.
    pub start: TailStart,
    /// The API key sent and the CA certificate trusted.
    pub access: ClientAccess,
}

/// One stored event, as the stream sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct TailedEvent {
    /// Commit sequence number.
    pub seq: i64,
    /// The topic.
    pub topic: String,
    /// The event's id.
    pub event_id: String,
    /// The publisher's timestamp (RFC 3339).
    pub timestamp: String,
    /// The producing service.
    pub source: String,
    /// The payload exactly as stored.
    pub payload: Box<RawValue>,
    /// When the aggregator committed it (RFC 3339).
    pub received_at: String,
}

/// A received event with the cursor after it and its JSON text as sent.
#[derive(Debug, Clone)]
pub struct Tailed {
    /// The SSE `id`: where a tail that has seen this event resumes.
    pub cursor: String,
    /// The event's JSON, as the server sent it.
    pub json: String,
    /// The event, decoded.
    pub event: TailedEvent,
}

type SseStream = Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, String>> + Send>>;

/// A live tail that reconnects by itself.
pub struct Tail {
    http: reqwest::Client,
    config: TailConfig,
    /// The `id` of the last SSE event received; what a reconnection resumes after.
    last_id: Option<String>,
    next_url: usize,
    events: Option<SseStream>,
    delay: Duration,
    reconnections: u64,
}

impl Tail {
    /// A tail of `config`; it connects on the first [`Tail::next`].
    pub fn new(config: TailConfig) -> Result<Self, ClientError> {
        if config.urls.is_empty() {
            return Err(ClientError::BadAnswer {
                what: "tail".into(),
                reason: "no aggregator URL given".into(),
            });
        }
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        let http = config.access.http_client(builder)?;
        Ok(Self {
            http,
            config,
            last_id: None,
            next_url: 0,
            events: None,
            delay: MIN_RECONNECT_DELAY,
            reconnections: 0,
        })
    }

    /// The cursor a reconnection would resume after, once the server has told one.
    pub fn cursor(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Connections made after one had started (each resumed after the last `id`).
    pub fn reconnections(&self) -> u64 {
        self.reconnections
    }

    /// The next event, reconnecting as often as needed; fails only when the server refuses
    /// the tail itself (`4xx`) or sends something that is not an event.
    pub async fn next(&mut self) -> Result<Tailed, ClientError> {
        loop {
            let Some(events) = self.events.as_mut() else {
                self.connect().await?;
                continue;
            };
            match events.next().await {
                Some(Ok(sse)) => {
                    self.delay = MIN_RECONNECT_DELAY;
                    if !sse.id.is_empty() {
                        self.last_id = Some(sse.id.clone());
                    }
                    if sse.event == POSITION_EVENT {
                        continue;
                    }
                    let event =
                        serde_json::from_str(&sse.data).map_err(|err| ClientError::BadAnswer {
                            what: "GET /events/stream".into(),
                            reason: format!("{err}: {}", sse.data),
                        })?;
                    return Ok(Tailed {
                        cursor: sse.id,
                        json: sse.data,
                        event,
                    });
                }
                Some(Err(reason)) => {
                    tracing::debug!(%reason, "tail connection broke");
                    self.events = None;
                }
                None => self.events = None,
            }
        }
    }

    /// Opens the stream on the next URL, after a pause if this is a reconnection.
    async fn connect(&mut self) -> Result<(), ClientError> {
        loop {
            let url = &self.config.urls[self.next_url % self.config.urls.len()];
            self.next_url += 1;
            let request = self.request(url);
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    if self.last_id.is_some() {
                        self.reconnections += 1;
                    }
                    let events = response
                        .bytes_stream()
                        .eventsource()
                        .map(|item| item.map_err(|err: EventStreamError<_>| err.to_string()));
                    self.events = Some(Box::pin(events));
                    return Ok(());
                }
                Ok(response) if is_retryable(response.status()) => {
                    tracing::debug!(status = %response.status(), %url, "tail refused for now");
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    return Err(ClientError::Refused {
                        what: "GET /events/stream".into(),
                        status,
                        body,
                    });
                }
                Err(err) => tracing::debug!(error = %err, %url, "tail cannot connect"),
            }
            self.pause().await;
        }
    }

    async fn pause(&mut self) {
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(MAX_RECONNECT_DELAY);
    }

    fn request(&self, base: &str) -> reqwest::RequestBuilder {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(topic) = &self.config.topic {
            query.push(("topic", topic));
        }
        if let Some(source) = &self.config.source {
            query.push(("source", source));
        }
        if let Some(search) = &self.config.query {
            query.push(("q", search));
        }
        let url = format!("{}/events/stream", base.trim_end_matches('/'));
        let mut request = self.http.get(url);
        match (&self.last_id, &self.config.start) {
            (Some(id), _) => request = request.header("Last-Event-ID", id),
            (None, TailStart::Cursor(cursor)) => query.push(("cursor", cursor)),
            (None, TailStart::Beginning) => query.push(("from", "start")),
            (None, TailStart::End) => query.push(("from", "end")),
        }
        request.query(&query)
    }
}

/// Whether a refusal may go away by itself (too many tails, a store briefly down).
fn is_retryable(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS
}
