//! Hostile or merely unusual input against the real binary, on PostgreSQL and on the embedded
//! store: compressed bodies (as shippers send them, mislabelled, unknown, and a bomb), a bulk
//! action whose metadata no topic may hold, and cursors from elsewhere. Each answer must say
//! what is wrong, and no good event may be lost with a bad one.
//!
//! A test binary of its own, beside `tests/hostile`: that one times `/health` under attack and
//! must not share the two cores with these.

#[path = "../common/mod.rs"]
mod common;

mod bad_cursors;
mod bulk_items;
mod compressed;

use std::io::Write;

use reqwest::StatusCode;
use serde_json::Value;

use common::backend::Backend;
use common::process::{free_port, AggregatorProcess};

/// A real `aggregator serve` on `backend`, with the HTTP client the tests talk through.
pub struct Server {
    pub process: AggregatorProcess,
    pub http: reqwest::Client,
    /// Kept alive as long as the server.
    _backend: Backend,
    _logs: tempfile::TempDir,
}

impl Server {
    /// Starts the binary on `backend` with the default limits.
    pub async fn start(backend: Backend) -> Self {
        let logs = tempfile::tempdir().unwrap();
        let process = AggregatorProcess::start(
            free_port(),
            &backend.store_args(),
            &logs.path().join("server.log"),
        )
        .await;
        Self {
            process,
            http: reqwest::Client::new(),
            _backend: backend,
            _logs: logs,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.process.base_url)
    }

    /// `POST path` with `body` as `content_type`, labelled `encoding` when given.
    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        encoding: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        answer(request.send().await.expect("the request is sent")).await
    }

    /// `GET path`, with extra headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().await.expect("the request is sent")).await
    }

    /// How many events of `topic` are stored, read through `/events`.
    pub async fn stored(&self, topic: &str) -> usize {
        let mut count = 0;
        let mut cursor = String::new();
        loop {
            let path = format!("/events?topic={topic}&limit=1000&cursor={cursor}");
            let (status, page) = self.get(&path, &[]).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            count += page["count"].as_u64().unwrap() as usize;
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => return count,
            }
        }
    }
}

/// The status and JSON body of an answer (`null` for a body that is not JSON, such as a live
/// tail's stream, which is not read).
async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    if status == StatusCode::OK
        && response
            .headers()
            .get("content-type")
            .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"))
    {
        return (status, Value::Null);
    }
    let bytes = response.bytes().await.expect("the body is read");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// `bytes` compressed with gzip.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `bytes` compressed in the zlib format (HTTP's `deflate`).
pub fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// An event of `topic` as `POST /publish` takes it.
pub fn event(topic: &str, id: &str) -> Value {
    serde_json::json!({"topic": topic, "event_id": id, "timestamp": "2026-12-07T09:00:00Z",
                       "source": "hostile-input", "payload": {"n": id}})
}
