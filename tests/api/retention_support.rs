//! Shared by the retention and purge suites (`retention.rs`, `purge.rs`): an app on either
//! store ([`spawn_on`], [`StoreApp`]), one `#[tokio::test]` per case and store
//! ([`on_both_stores!`]), a retention configuration that walks every 200 ms ([`retention`]),
//! and reads every such test makes: a whole topic's listing, a purge, a metric.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use aggregator::actors::RetentionConfig;
use aggregator::app::AppConfig;
use aggregator::retention::{Keep, RetentionPolicy, RetentionRule};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::helpers::{json_response, spawn_app_with, ApiApp, TestApp};

/// How long a test waits for rows to expire: a 1 s retention plus several 200 ms walks.
pub const EXPIRY_WAIT: Duration = Duration::from_secs(10);
/// How often the pruner of [`retention`] starts a walk.
pub const PRUNE_INTERVAL: Duration = Duration::from_millis(200);

/// One `#[tokio::test]` per listed case in `mod postgres` and in `mod embedded`; each case is
/// an async fn of the calling module taking the [`Store`] to run on.
macro_rules! on_both_stores {
    ($($case:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::retention_support::Store::Postgres).await;
                }
            )+
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::retention_support::Store::Embedded).await;
                }
            )+
        }
    };
}
pub(crate) use on_both_stores;

/// Which store the app under test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// PostgreSQL, a fresh database of the test's own (the default fixture).
    Postgres,
    /// The embedded store, in a temporary directory of the test's own.
    Embedded,
}

/// An app on either store; keeps the embedded store's directory alive as long as the app.
pub struct StoreApp {
    app: TestApp,
    _data_dir: Option<TempDir>,
}

impl Deref for StoreApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// An app on `store` whose configuration `configure` may adjust first; checks through
/// `/stats` that it runs on that store (when no keys are in force, as `/stats` then needs one).
pub async fn spawn_on(store: Store, configure: impl FnOnce(&mut AppConfig)) -> StoreApp {
    let data_dir = match store {
        Store::Postgres => None,
        Store::Embedded => Some(tempfile::tempdir().expect("a temporary directory")),
    };
    let path = data_dir.as_ref().map(|dir| dir.path().to_owned());
    let app = spawn_app_with(move |config| {
        if let Some(path) = path {
            config.store.database_url = None;
            config.store.data_dir = path;
        }
        configure(config);
    })
    .await;
    let expected = match store {
        Store::Postgres => "postgres",
        Store::Embedded => "embedded",
    };
    if app.config.access.keys_file.is_none() {
        assert_eq!(
            app.stats().await.store,
            expected,
            "the app runs on {store:?}"
        );
    }
    StoreApp {
        app,
        _data_dir: data_dir,
    }
}

/// A retention of `default` with `rules` (`pattern=duration`), walked every 200 ms.
pub fn retention(default: Keep, rules: &[&str]) -> RetentionConfig {
    let rules = rules
        .iter()
        .map(|rule| RetentionRule::parse(rule).expect("a valid rule"))
        .collect();
    RetentionConfig {
        policy: Arc::new(RetentionPolicy::new(default, rules)),
        prune_interval: Some(PRUNE_INTERVAL),
        ..RetentionConfig::default()
    }
}

/// One second.
pub fn one_second() -> Keep {
    Keep::For(Duration::from_secs(1))
}

/// Publishes events `<prefix><i>` for `i` in `range` to `topic` in one request, which must
/// succeed; returns the answer.
pub async fn publish_range(
    app: &TestApp,
    topic: &str,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> Value {
    let batch: Vec<Value> = range
        .map(|i| app.event(topic, &format!("{prefix}{i}")))
        .collect();
    app.publish_ok(&json!(batch)).await
}

/// Every stored event of `topic`, in listing order, following cursors (1,000 a page).
pub async fn list_topic(app: &TestApp, topic: &str) -> Vec<Value> {
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let query = format!("topic={}&limit=1000&cursor={cursor}", encode(topic));
        let (status, page) = app.events(&query).await;
        assert_eq!(status, StatusCode::OK, "GET /events?{query}: {page}");
        listed.extend(page["events"].as_array().expect("events").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return listed,
        }
    }
}

/// The `event_id` of each event, in order.
pub fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| event["event_id"].as_str().expect("an event_id").to_owned())
        .collect()
}

/// The `seq` of each event, in order.
pub fn seqs(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|event| event["seq"].as_i64().expect("a seq"))
        .collect()
}

/// `text` percent-encoded as one query value or path segment.
pub fn encode(text: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a URL");
    url.path_segments_mut().expect("a base").push(text);
    url.path()[1..]
        .replace('&', "%26")
        .replace('=', "%3D")
        .replace('+', "%2B")
}

/// The request `DELETE /topics/{topic}` (percent-encoded), to send as it is or with a key.
pub fn purge_request(app: &TestApp, topic: &str) -> reqwest::RequestBuilder {
    app.client
        .delete(app.url(&format!("/topics/{}", encode(topic))))
}

/// `DELETE /topics/{topic}`: status and JSON body.
pub async fn purge(app: &TestApp, topic: &str) -> (StatusCode, Value) {
    let response = purge_request(app, topic)
        .send()
        .await
        .expect("DELETE /topics sent");
    json_response(response).await
}

/// The value of the unlabelled sample of `name` in `GET /metrics` (must succeed), if any.
pub async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    let response = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics sent");
    assert_eq!(response.status(), StatusCode::OK, "GET /metrics");
    let text = response.text().await.expect("metrics readable");
    crate::auth_support::sample(&text, name, &[])
}
