//! Shared by the API-key suites (`auth.rs`, `auth_matrix.rs`, `auth_quota.rs`): a keys file in
//! a temporary directory that keys are added to with the library ([`KeysFile`]), an app that
//! serves it, and requests that present a key in either header ([`Presented`]).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use aggregator::auth::file::append_key;
use aggregator::auth::{generate_key, KeyEntry, Quota, Scope};
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::helpers::{spawn_app_with, TestApp};
use crate::stream_support::{tail_of, Tail, WAIT};

/// The header a key may come in besides `Authorization`.
pub const API_KEY_HEADER: &str = "X-API-Key";
/// What every `401` carries.
pub const CHALLENGE: &str = r#"Bearer realm="aggregator""#;

/// A keys file in a directory of its own, removed with it: keep it alive as long as the app.
pub struct KeysFile {
    dir: TempDir,
    path: PathBuf,
}

impl KeysFile {
    /// An empty directory; the file appears with the first key.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("keys.toml");
        Self { dir, path }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a new key named `name` with these scopes, topic prefixes (every topic when empty)
    /// and quota; returns the key.
    pub fn add(
        &self,
        name: &str,
        scopes: &[Scope],
        topics: &[&str],
        quota: Option<(u32, u32)>,
    ) -> String {
        add_key(&self.path, name, scopes, topics, quota)
    }

    /// Replaces the file whole, in one rename, by one holding only a new key named `name`;
    /// returns the key. The server sees either the old file or the new one, never half of it.
    pub fn replace_with(&self, name: &str, scopes: &[Scope], topics: &[&str]) -> String {
        let staging = self.dir.path().join("keys.toml.new");
        let key = add_key(&staging, name, scopes, topics, None);
        std::fs::rename(&staging, &self.path).expect("the keys file replaced");
        key
    }
}

fn add_key(
    path: &Path,
    name: &str,
    scopes: &[Scope],
    topics: &[&str],
    quota: Option<(u32, u32)>,
) -> String {
    let (key, digest) = generate_key();
    let nonzero = |value: u32| NonZeroU32::new(value).expect("a quota above zero");
    let entry = KeyEntry {
        name: name.into(),
        hash: digest.to_string(),
        scopes: scopes.to_vec(),
        topics: topics.iter().map(|prefix| prefix.to_string()).collect(),
        quota: quota.map(|(events_per_second, burst)| Quota {
            events_per_second: nonzero(events_per_second),
            burst: Some(nonzero(burst)),
        }),
    };
    append_key(path, &entry).expect("the key appended to the keys file");
    key
}

/// A well-formed key (`agg_` and 64 hex digits) that no keys file holds.
pub fn unknown_key() -> String {
    generate_key().0
}

/// An app on a fresh database that serves the keys of `keys`.
pub async fn spawn_keyed_app(keys: &KeysFile) -> TestApp {
    let path = keys.path().to_owned();
    spawn_app_with(move |config| config.access.keys_file = Some(path)).await
}

/// How a request presents a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// No key at all.
    Nothing,
    /// `Authorization: Bearer <key>`.
    Bearer(String),
    /// `X-API-Key: <key>`.
    ApiKey(String),
}

impl Presented {
    /// Adds the key's header (if any) to `request`.
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Self::Nothing => request,
            Self::Bearer(key) => request.header(AUTHORIZATION, format!("Bearer {key}")),
            Self::ApiKey(key) => request.header(API_KEY_HEADER, key.as_str()),
        }
    }
}

/// A key presented as `Authorization: Bearer`.
pub fn bearer(key: &str) -> Presented {
    Presented::Bearer(key.to_owned())
}

/// Status, headers and JSON body of a response; panics (failing the test) when the body is not
/// JSON.
pub async fn answer(response: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body readable");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{status} answer is not JSON ({err}): {text:?}"));
    (status, headers, body)
}

/// `GET path` with `key`; the answer must be JSON.
pub async fn get_as(app: &TestApp, path: &str, key: &Presented) -> (StatusCode, Value) {
    let request = key.apply(app.client.get(app.url(path)));
    let (status, _, body) = answer(request.send().await.expect("GET sent")).await;
    (status, body)
}

/// `POST /publish` of `body` with `key`: status, headers and JSON body.
pub async fn publish_as(
    app: &TestApp,
    key: &Presented,
    body: &Value,
) -> (StatusCode, HeaderMap, Value) {
    let request = app
        .client
        .post(app.url("/publish"))
        .header(CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(body).expect("serialisable body"));
    answer(key.apply(request).send().await.expect("POST /publish sent")).await
}

/// `GET /metrics` with `key`, which must succeed: the exposition text.
pub async fn scrape_as(app: &TestApp, key: &Presented) -> String {
    let response = key
        .apply(app.client.get(app.url("/metrics")))
        .send()
        .await
        .expect("GET /metrics sent");
    assert_eq!(response.status(), StatusCode::OK, "GET /metrics");
    response.text().await.expect("metrics readable")
}

/// The value of the sample of `name` whose labels are exactly `labels` (in any order), if any.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<String> = labels
        .iter()
        .map(|(label, value)| format!("{label}=\"{value}\""))
        .collect();
    wanted.sort();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, rest) = series.split_once('{').unwrap_or((series, "}"));
            let mut found: Vec<String> = rest
                .strip_suffix('}')?
                .split(',')
                .filter(|pair| !pair.is_empty())
                .map(str::to_owned)
                .collect();
            found.sort();
            (series_name == name && found == wanted).then(|| value.parse().ok())?
        })
}

/// `(topic, event_id)` pairs of the events of a JSON array.
pub fn keys_of(events: &Value) -> Vec<(String, String)> {
    events
        .as_array()
        .expect("an array of events")
        .iter()
        .map(crate::stream_support::key_of)
        .collect()
}

/// Publishes `events` with `key`, which must succeed.
pub async fn publish_ok_as(app: &TestApp, key: &Presented, events: &[Value]) {
    let (status, _, body) = publish_as(app, key, &json!(events)).await;
    assert_eq!(status, StatusCode::OK, "publish failed: {body}");
}

/// Opens a tail (`GET /events/stream?<query>`) with `key`; it must answer 200.
pub async fn open_tail_as(app: &TestApp, key: &Presented, query: &str) -> Tail {
    let request = app
        .client
        .get(app.url(&format!("/events/stream?{query}")))
        .header(ACCEPT, "text/event-stream");
    let response = tokio::time::timeout(WAIT, key.apply(request).send())
        .await
        .unwrap_or_else(|_| panic!("no answer head within {WAIT:?}"))
        .expect("GET /events/stream sent");
    tail_of(response, query).await
}
