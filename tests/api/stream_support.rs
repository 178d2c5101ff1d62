//! Shared by the live-tail suites (`stream.rs`, `stream_limits.rs`): an SSE reader over
//! reqwest with a bound on every wait ([`Tail`], [`WAIT`]), requests for `GET /events/stream`,
//! and the `/events` listings and publishes the tests compare a tail with.

use std::collections::HashSet;
use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{event, json_response, ApiApp, TestApp};

/// Longest wait for anything the server should do promptly: an answer, the next event, the end
/// of a stream.
pub const WAIT: Duration = Duration::from_secs(10);

/// Pause between two attempts of a bounded retry loop.
pub const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// The `Last-Event-ID` request header.
pub const LAST_EVENT_ID: &str = "Last-Event-ID";

/// One SSE event as received: its `id`, and its `data` parsed as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub id: String,
    pub data: Value,
}

impl Received {
    /// `(topic, event_id)` of the event.
    pub fn key(&self) -> (String, String) {
        key_of(&self.data)
    }
}

type SseItem = Result<eventsource_stream::Event, EventStreamError<reqwest::Error>>;

/// A live tail that answered 200 and sent its opening `position` event, read one SSE event at
/// a time.
pub struct Tail {
    /// The `id` of the opening `position` event: where the tail starts.
    pub start: String,
    events: Pin<Box<dyn Stream<Item = SseItem> + Send>>,
}

impl Tail {
    /// The next SSE event of any type; fails the test if none arrives within [`WAIT`] or the
    /// stream ends.
    pub async fn next_raw(&mut self) -> eventsource_stream::Event {
        let item = tokio::time::timeout(WAIT, self.events.next())
            .await
            .unwrap_or_else(|_| panic!("no event within {WAIT:?}"))
            .expect("the stream is still open");
        item.expect("a well-formed SSE event")
    }

    /// The next stored event (SSE type `message`); fails the test if none arrives within
    /// [`WAIT`] or the stream ends.
    pub async fn next(&mut self) -> Received {
        let event = self.next_raw().await;
        assert_eq!(event.event, "message", "a stored event: {event:?}");
        let data = serde_json::from_str(&event.data)
            .unwrap_or_else(|err| panic!("data is not JSON ({err}): {:?}", event.data));
        Received { id: event.id, data }
    }

    /// The next stored event, or `None` when the stream ends first; fails the test if neither
    /// happens within [`WAIT`].
    pub async fn next_or_end(&mut self) -> Option<Received> {
        let item = tokio::time::timeout(WAIT, self.events.next())
            .await
            .unwrap_or_else(|_| panic!("no event within {WAIT:?}"))?;
        let event = item.ok()?;
        assert_eq!(event.event, "message", "a stored event: {event:?}");
        let data = serde_json::from_str(&event.data)
            .unwrap_or_else(|err| panic!("data is not JSON ({err}): {:?}", event.data));
        Some(Received { id: event.id, data })
    }

    /// The next `n` events.
    pub async fn take(&mut self, n: usize) -> Vec<Received> {
        let mut received = Vec::with_capacity(n);
        for _ in 0..n {
            received.push(self.next().await);
        }
        received
    }

    /// Waits until the stream ends (cleanly or not) and tells whether it ended cleanly; fails
    /// the test if it still sends events or stays open past [`WAIT`].
    pub async fn ends(mut self) -> bool {
        let item = tokio::time::timeout(WAIT, self.events.next())
            .await
            .unwrap_or_else(|_| panic!("the stream is still open after {WAIT:?}"));
        match item {
            None => true,
            Some(Err(_)) => false,
            Some(Ok(event)) => panic!("an event instead of the end: {event:?}"),
        }
    }
}

/// `GET /events/stream?<query>`, with `Last-Event-ID` when given; the answer's head must come
/// within [`WAIT`].
pub async fn get_stream(
    app: &TestApp,
    query: &str,
    last_event_id: Option<HeaderValue>,
) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url(&format!("/events/stream?{query}")))
        .header(reqwest::header::ACCEPT, "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header(LAST_EVENT_ID, id);
    }
    tokio::time::timeout(WAIT, request.send())
        .await
        .unwrap_or_else(|_| panic!("no answer head within {WAIT:?}"))
        .expect("GET /events/stream sent")
}

/// Opens a tail that must answer 200 with an event stream.
pub async fn open(app: &TestApp, query: &str) -> Tail {
    open_with(app, query, None).await
}

/// Opens a tail, with `Last-Event-ID` when given, that must answer 200 with an event stream.
pub async fn open_with(app: &TestApp, query: &str, last_event_id: Option<&str>) -> Tail {
    let header = last_event_id.map(|id| HeaderValue::from_str(id).expect("a header value"));
    let response = get_stream(app, query, header).await;
    tail_of(response, query).await
}

/// The tail of a response that must be a 200 event stream.
pub async fn tail_of(response: reqwest::Response, query: &str) -> Tail {
    let status = response.status();
    if status != StatusCode::OK {
        let body = response.text().await.unwrap_or_default();
        panic!("stream?{query} answered {status}: {body}");
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/event-stream"),
        "stream?{query}: content type {content_type:?}"
    );
    let mut events: Pin<Box<dyn Stream<Item = SseItem> + Send>> =
        Box::pin(response.bytes_stream().eventsource());
    let opening = tokio::time::timeout(WAIT, events.next())
        .await
        .unwrap_or_else(|_| panic!("stream?{query}: no position event within {WAIT:?}"))
        .expect("the stream is still open")
        .expect("a well-formed SSE event");
    assert_eq!(opening.event, "position", "stream?{query}: {opening:?}");
    assert_eq!(opening.data, "{}", "stream?{query}: {opening:?}");
    Tail {
        start: opening.id,
        events,
    }
}

/// A request that must be refused: its status and JSON body.
pub async fn refused(
    app: &TestApp,
    query: &str,
    last_event_id: Option<HeaderValue>,
) -> (StatusCode, Value) {
    let response = get_stream(app, query, last_event_id).await;
    tokio::time::timeout(WAIT, json_response(response))
        .await
        .expect("a refusal's body within the wait")
}

/// `(topic, event_id)` of an event as JSON.
pub fn key_of(event: &Value) -> (String, String) {
    let field = |name: &str| {
        event[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is a string in {event}"))
            .to_owned()
    };
    (field("topic"), field("event_id"))
}

/// The `/events` cursor just after `seq` in `topic`: the seq, a dot, the topic's bytes in hex.
pub fn topic_cursor(seq: i64, topic: &str) -> String {
    let hex: String = topic.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{seq}.{hex}")
}

/// The `(tx, seq)` of a cursor of a tail of every topic (`all.<tx>.<seq>`).
pub fn all_position(id: &str) -> (i64, i64) {
    let rest = id
        .strip_prefix("all.")
        .unwrap_or_else(|| panic!("{id:?} does not start with `all.`"));
    let (tx, seq) = rest
        .split_once('.')
        .unwrap_or_else(|| panic!("{id:?} is not all.<tx>.<seq>"));
    (
        tx.parse().unwrap_or_else(|_| panic!("tx of {id:?}")),
        seq.parse().unwrap_or_else(|_| panic!("seq of {id:?}")),
    )
}

/// Every event of `/events?<query>` in listing order, each with the `next_cursor` of the page of
/// one event that holds it (`None` for the last event, whose page has no next).
pub async fn listing_with_cursors(app: &TestApp, query: &str) -> Vec<(Value, Option<String>)> {
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app
            .events(&format!("{query}&limit=1&cursor={cursor}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let events = page["events"].as_array().expect("events is an array");
        let next = page["next_cursor"].as_str().map(str::to_owned);
        if let Some(event) = events.first() {
            listed.push((event.clone(), next.clone()));
        }
        match next {
            Some(next) => cursor = next,
            None => return listed,
        }
        assert!(listed.len() < 1000, "pagination does not end");
    }
}

/// The events of `/events?<query>` (one page of up to 1000), in listing order.
pub async fn listing(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, page) = app.events(&format!("{query}&limit=1000")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page["next_cursor"].is_null(), "more than one page: {page}");
    page["events"]
        .as_array()
        .expect("events is an array")
        .clone()
}

/// Publishes `events` in one request, which must succeed.
pub async fn publish(app: &TestApp, events: &[Value]) {
    app.publish_ok(&json!(events)).await;
}

/// An event of `source`.
pub fn event_from(topic: &str, event_id: &str, source: &str) -> Value {
    let mut event = event(topic, event_id);
    event["source"] = json!(source);
    event
}

/// `(topic, event_id)` pairs from string pairs.
pub fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
    raw.iter()
        .map(|(topic, id)| (topic.to_string(), id.to_string()))
        .collect()
}

/// Reads events until `wanted` came, in that order and one after the other; returns the events
/// that came before them.
pub async fn read_until(tail: &mut Tail, wanted: &[(String, String)]) -> Vec<Received> {
    let mut earlier = Vec::new();
    let first = loop {
        let received = tail.next().await;
        if received.key() == wanted[0] {
            break received;
        }
        assert!(earlier.len() < 100, "{:?} never came", wanted[0]);
        earlier.push(received);
    };
    let mut keys = vec![first.key()];
    for received in tail.take(wanted.len() - 1).await {
        keys.push(received.key());
    }
    assert_eq!(
        keys,
        wanted,
        "after {:?}",
        earlier.iter().map(Received::key).collect::<Vec<_>>()
    );
    earlier
}

/// Asserts `received` holds only events whose id starts with `old`, each once, in increasing
/// positions.
pub fn assert_only_old(received: &[Received]) {
    let keys: Vec<(String, String)> = received.iter().map(Received::key).collect();
    assert!(keys.iter().all(|(_, id)| id.starts_with("old")), "{keys:?}");
    let distinct: HashSet<&(String, String)> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "{keys:?}");
    let positions: Vec<(i64, i64)> = received.iter().map(|r| all_position(&r.id)).collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{positions:?}"
    );
}
