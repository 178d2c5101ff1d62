//! The aggregator the console talks to: the real binary on the embedded store in a temporary
//! directory ([`Server::start`]), optionally with API keys made by `aggregator keys add`
//! ([`Keys`]), restartable on the same port and data ([`Server::kill`], [`Server::restart`]);
//! and the API reads the tests compare the page with, made with a key that may read everything.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::common::process::{aggregator_command, free_port, AggregatorProcess};

/// The keys of a keys file, each made by `aggregator keys add`.
pub struct Keys {
    dir: TempDir,
}

impl Keys {
    /// An empty keys file in a temporary directory of its own.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// The keys file (created by the first [`Keys::add`]).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("keys.toml")
    }

    /// Adds key `name` with `scopes` (`read`, `publish,read`) and topic prefixes (`None`: every
    /// topic); returns the key, which `keys add` prints alone on stdout.
    pub fn add(&self, name: &str, scopes: &str, topics: Option<&str>) -> String {
        let mut command = aggregator_command();
        command.args(["keys", "add", name, "--scopes", scopes]);
        if let Some(prefixes) = topics {
            command.args(["--topics", prefixes]);
        }
        let output = command
            .arg("--keys-file")
            .arg(self.path())
            .output()
            .expect("aggregator keys add runs");
        assert!(output.status.success(), "keys add failed: {output:?}");
        String::from_utf8(output.stdout)
            .expect("the key is text")
            .trim()
            .to_owned()
    }
}

/// A running aggregator on an embedded store of its own.
pub struct Server {
    /// `http://127.0.0.1:<port>`, kept across restarts.
    pub base_url: String,
    /// The key the test's publishes send (`None` without keys).
    publish_key: Option<String>,
    /// The key the test's reads send, one that may read every topic (`None` without keys).
    read_key: Option<String>,
    http: reqwest::Client,
    process: Option<AggregatorProcess>,
    args: Vec<String>,
    port: u16,
    // Holds the store and the log; removed when the test ends.
    dir: TempDir,
}

impl Server {
    /// The aggregator without keys on a fresh embedded store.
    pub async fn start() -> Self {
        Self::start_with(Vec::new(), None, None).await
    }

    /// The aggregator without keys on a fresh embedded store, with more `serve` arguments.
    pub async fn start_with_args(extra_args: Vec<String>) -> Self {
        Self::start_with(extra_args, None, None).await
    }

    /// The aggregator serving `keys`; the test's publishes send `publish_key` and its reads
    /// `read_key` (a key that may read every topic).
    pub async fn start_with_keys(keys: &Keys, publish_key: String, read_key: String) -> Self {
        let args = vec!["--keys-file".into(), keys.path().display().to_string()];
        Self::start_with(args, Some(publish_key), Some(read_key)).await
    }

    async fn start_with(
        extra_args: Vec<String>,
        publish_key: Option<String>,
        read_key: Option<String>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut args = vec![
            "--data-dir".to_string(),
            dir.path().join("data").display().to_string(),
        ];
        args.extend(extra_args);
        let port = free_port();
        let process =
            AggregatorProcess::start(port, &args, &dir.path().join("aggregator.log")).await;
        Self {
            base_url: process.base_url.clone(),
            publish_key,
            read_key,
            http: reqwest::Client::new(),
            process: Some(process),
            args,
            port,
            dir,
        }
    }

    /// `base_url` + `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `kill -9` (the aggregator stops answering until [`Server::restart`]).
    pub async fn kill(&mut self) {
        let process = self.process.take().expect("the aggregator is running");
        process.kill9().await;
    }

    /// The same binary again on the same port and data directory, after [`Server::kill`].
    pub async fn restart(&mut self) {
        assert!(self.process.is_none(), "the aggregator was killed first");
        let log = self.dir.path().join("aggregator.log");
        self.process = Some(AggregatorProcess::start(self.port, &self.args, &log).await);
    }

    /// `request` with `key` as a Bearer token, when there is one.
    fn authorized(
        request: reqwest::RequestBuilder,
        key: &Option<String>,
    ) -> reqwest::RequestBuilder {
        match key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// `POST /publish` of `events` (an array); fails unless the answer is 2xx.
    pub async fn publish(&self, events: &[Value]) {
        let request = self.http.post(self.url("/publish")).json(events);
        let response = Self::authorized(request, &self.publish_key)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("/publish answers");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "/publish answered {status}: {body}");
    }

    /// `GET path` with `query`; fails unless the answer is 200; returns the JSON body.
    pub async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Value {
        let request = self.http.get(self.url(path)).query(query);
        let response = Self::authorized(request, &self.read_key)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{path} answers: {err}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{path} answered {status}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|err| panic!("{path} gave JSON: {err}: {body}"))
    }

    /// The events of `GET /events?q=&since=&order=newest&limit=1000`, newest first.
    pub async fn newest(&self, q: &str, since: &str) -> Vec<Value> {
        let query = [
            ("q", q.to_owned()),
            ("since", since.to_owned()),
            ("order", "newest".to_owned()),
            ("limit", "1000".to_owned()),
        ];
        let page = self.get_json("/events", &query).await;
        page["events"]
            .as_array()
            .expect("/events lists events")
            .clone()
    }

    /// `total` of `GET /events/count?q=&since=&until=`.
    pub async fn count(&self, q: &str, since: &str, until: &str) -> u64 {
        let query = [
            ("q", q.to_owned()),
            ("since", since.to_owned()),
            ("until", until.to_owned()),
        ];
        let counted = self.get_json("/events/count", &query).await;
        counted["total"]
            .as_u64()
            .expect("/events/count has a total")
    }
}
