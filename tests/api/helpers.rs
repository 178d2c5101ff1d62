//! The fixture every API test starts from: [`spawn_app`] gives a running aggregator on port 0,
//! backed by a fresh PostgreSQL database of its own, plus a reqwest client and shortcuts for the
//! endpoints. Tests build [`AppConfig`] values directly and never touch the environment; the
//! only variables read are `TEST_DATABASE_URL` (where PostgreSQL is) and `TEST_LOG` (show logs).
//! The app itself and the database come from [`crate::common`].

use aggregator::app::AppConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::app::{start_app, test_config, RunningApp};
use crate::common::db::TestDb;

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

/// An aggregator under test, with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` of the running app.
    pub address: String,
    /// A client shared by every request of the test.
    pub client: reqwest::Client,
    /// The test's database (its direct URL, never through a proxy, for checks in SQL).
    pub database: TestDb,
    /// The configuration the app runs with; [`TestApp::restart`] reuses it.
    pub config: AppConfig,
    running: Option<RunningApp>,
}

/// An app with the default test configuration on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// An app on a fresh database whose configuration `configure` may adjust (limits, timeouts,
/// or the database URL, e.g. to go through a proxy).
pub async fn spawn_app_with(configure: impl FnOnce(&mut AppConfig)) -> TestApp {
    let database = TestDb::create().await;
    let mut config = test_config(&database.url);
    configure(&mut config);
    let mut app = TestApp {
        address: String::new(),
        client: reqwest::Client::new(),
        database,
        config,
        running: None,
    };
    app.start().await;
    app
}

impl TestApp {
    async fn start(&mut self) {
        assert!(self.running.is_none(), "the app is already running");
        let running = start_app(self.config.clone()).await;
        self.address = running.base_url.clone();
        self.running = Some(running);
    }

    /// Gracefully stops the app (HTTP first, then the actor tree) and waits until it has.
    pub async fn stop(&mut self) {
        self.running
            .take()
            .expect("the app is running")
            .stop()
            .await;
    }

    /// Stops the app gracefully and starts a new one on the same database and configuration.
    /// The new app listens on a new port; `address` is updated.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path`; the body must be JSON.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("GET sent");
        json_response(response).await
    }

    /// `POST /publish` with a JSON body.
    pub async fn publish(&self, body: &Value) -> (StatusCode, Value) {
        self.publish_raw(serde_json::to_vec(body).expect("serialisable body"))
            .await
    }

    /// `POST /publish` with exactly these bytes; the answer must be JSON whatever they are.
    pub async fn publish_raw(&self, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
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

    /// `POST /publish` that must succeed; returns the answer.
    pub async fn publish_ok(&self, body: &Value) -> Value {
        let (status, answer) = self.publish(body).await;
        assert_eq!(status, StatusCode::OK, "publish failed: {answer}");
        answer
    }

    /// `GET /stats`, which must succeed.
    pub async fn stats(&self) -> Value {
        let (status, stats) = self.get("/stats").await;
        assert_eq!(status, StatusCode::OK, "GET /stats failed: {stats}");
        stats
    }

    /// `GET /events?<query>` (`query` without the `?`).
    pub async fn events(&self, query: &str) -> (StatusCode, Value) {
        self.get(&format!("/events?{query}")).await
    }

    /// A valid event with this key (see [`event`]).
    pub fn event(&self, topic: &str, event_id: &str) -> Value {
        event(topic, event_id)
    }

    /// A new connection straight to the test database.
    pub async fn db(&self) -> tokio_postgres::Client {
        self.database.client().await
    }

    /// Rows in the `events` table, counted in SQL.
    pub async fn row_count(&self) -> i64 {
        i64::try_from(self.database.count_rows().await).expect("a row count fits in i64")
    }

    /// Publishes a valid event whose `field` is set to `value` (removed when `None`) and asserts
    /// the answer is a 422 naming exactly that field of event 0 with `reason`, with nothing
    /// stored.
    pub async fn assert_field_rejected(&self, field: &str, value: Option<Value>, reason: &str) {
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

    /// Asserts that no event was stored and no counter moved.
    pub async fn assert_nothing_stored(&self) {
        assert_eq!(self.row_count().await, 0, "rows were stored");
        let stats = self.stats().await;
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
