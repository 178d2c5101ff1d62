//! The API suite's shortcuts on the shared app fixture ([`crate::common::app`], re-exported
//! here): valid events, requests whose answers must be JSON, publishing, and shared assertions
//! ([`ApiApp`]). Typed `/stats` reads go through the client library ([`TestApp::stats`]); tests
//! that check the document itself read it as JSON ([`ApiApp::stats_json`]).

use reqwest::StatusCode;
use serde_json::{json, Value};

pub use crate::common::app::{spawn_app, spawn_app_with, TestApp};

/// Timestamp of the events built by [`event`].
pub const EVENT_TIMESTAMP: &str = "2024-05-01T12:00:00Z";

/// A valid event: the given key, a fixed timestamp and source, a small payload.
pub fn event(topic: &str, event_id: &str) -> Value {
    json!({
        "topic": topic,
        "event_id": event_id,
        "timestamp": EVENT_TIMESTAMP,
        "source": "test-suite",
        "payload": {"topic": topic, "event_id": event_id},
    })
}

/// The API suite's shortcuts on the shared [`TestApp`] fixture: requests whose answers must be
/// JSON, publishing, and the assertions many tests share.
#[allow(async_fn_in_trait)] // used in this test binary only, never behind `dyn` or a `Send` bound
pub trait ApiApp {
    /// `GET path`; the body must be JSON.
    async fn get(&self, path: &str) -> (StatusCode, Value);

    /// `POST /publish` with a JSON body.
    async fn publish(&self, body: &Value) -> (StatusCode, Value);

    /// `POST /publish` with exactly these bytes; the answer must be JSON whatever they are.
    async fn publish_raw(&self, body: impl Into<reqwest::Body>) -> (StatusCode, Value);

    /// `POST /publish` that must succeed; returns the answer.
    async fn publish_ok(&self, body: &Value) -> Value;

    /// `GET /stats` as the JSON document itself (the typed read is [`TestApp::stats`]); must
    /// succeed.
    async fn stats_json(&self) -> Value;

    /// `GET /events?<query>` (`query` without the `?`).
    async fn events(&self, query: &str) -> (StatusCode, Value);

    /// A valid event with this key (see [`event`]).
    fn event(&self, topic: &str, event_id: &str) -> Value;

    /// Rows in the `events` table, counted in SQL.
    async fn row_count(&self) -> i64;

    /// Publishes a valid event whose `field` is set to `value` (removed when `None`) and asserts
    /// the answer is a 422 naming exactly that field of event 0 with `reason`, with nothing
    /// stored.
    async fn assert_field_rejected(&self, field: &str, value: Option<Value>, reason: &str);

    /// Asserts that no event was stored and no counter moved.
    async fn assert_nothing_stored(&self);
}

impl ApiApp for TestApp {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("GET sent");
        json_response(response).await
    }

    async fn publish(&self, body: &Value) -> (StatusCode, Value) {
        self.publish_raw(serde_json::to_vec(body).expect("serialisable body"))
            .await
    }

    async fn publish_raw(&self, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url("/publish"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("POST /publish sent");
        json_response(response).await
    }

    async fn publish_ok(&self, body: &Value) -> Value {
        let (status, answer) = self.publish(body).await;
        assert_eq!(status, StatusCode::OK, "publish failed: {answer}");
        answer
    }

    async fn stats_json(&self) -> Value {
        let (status, stats) = self.get("/stats").await;
        assert_eq!(status, StatusCode::OK, "GET /stats failed: {stats}");
        stats
    }

    async fn events(&self, query: &str) -> (StatusCode, Value) {
        self.get(&format!("/events?{query}")).await
    }

    fn event(&self, topic: &str, event_id: &str) -> Value {
        event(topic, event_id)
    }

    async fn row_count(&self) -> i64 {
        i64::try_from(self.db.count_rows().await).expect("a row count fits in i64")
    }

    async fn assert_field_rejected(&self, field: &str, value: Option<Value>, reason: &str) {
        let mut event = self.event("topic", "id");
        match value {
            Some(value) => event[field] = value,
            None => {
                event.as_object_mut().expect("an object").remove(field);
            }
        }
        let (status, body) = self.publish(&event).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(
            body,
            json!({
                "error": "validation failed",
                "details": [{"index": 0, "field": field, "reason": reason}],
            }),
            "{field}"
        );
        self.assert_nothing_stored().await;
    }

    async fn assert_nothing_stored(&self) {
        assert_eq!(self.row_count().await, 0, "rows were stored");
        let stats = self.stats_json().await;
        assert_eq!(stats["received"], 0, "counters moved: {stats}");
        assert_eq!(stats["topics"], json!([]), "topics appeared: {stats}");
    }
}

/// Status and JSON body of a response; panics (failing the test) when the body is not JSON.
pub async fn json_response(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body readable");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{status} answer is not JSON ({err}): {text:?}"));
    (status, body)
}

/// The `(topic, event_id)` of each result of a publish answer, in request order.
pub fn result_keys(answer: &Value) -> Vec<(String, String)> {
    answer["results"]
        .as_array()
        .expect("results is an array")
        .iter()
        .map(|result| {
            let field = |name: &str| result[name].as_str().expect("a string").to_owned();
            (field("topic"), field("event_id"))
        })
        .collect()
}

/// The outcomes (`"new"`/`"duplicate"`) of a publish answer, in request order.
pub fn outcomes(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .expect("results is an array")
        .iter()
        .map(|result| {
            result["outcome"]
                .as_str()
                .expect("outcome is a string")
                .to_owned()
        })
        .collect()
}
