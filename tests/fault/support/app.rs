//! The whole app in the test process (see [`crate::common::app`]) on a database of its own, and
//! the HTTP reads (`/stats`, `/events`) that tests make of any running aggregator.

use std::collections::HashSet;

use aggregator::app::AppConfig;
use serde::Deserialize;

use crate::common::app::{start_app, test_config, RunningApp};
use crate::common::db::{Key, TestDb};

/// An aggregator running inside the test process.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// Its database.
    pub db: TestDb,
    running: RunningApp,
}

/// Builds and runs an app on a fresh database and port 0; `configure` adjusts the config.
pub async fn spawn_app(configure: impl FnOnce(&mut AppConfig)) -> TestApp {
    spawn_app_with_db(TestDb::create().await, configure).await
}

/// Like [`spawn_app`] on a given database. `store.database_url` is preset to it; `configure`
/// may point it elsewhere (e.g. at a proxy of the same database).
pub async fn spawn_app_with_db(db: TestDb, configure: impl FnOnce(&mut AppConfig)) -> TestApp {
    let mut config = test_config(&db.url);
    configure(&mut config);
    let running = start_app(config).await;
    TestApp {
        base_url: running.base_url.clone(),
        db,
        running,
    }
}

impl TestApp {
    /// `/stats`.
    pub async fn stats(&self) -> Stats {
        get_stats(&self.base_url).await
    }

    /// Triggers a graceful shutdown and waits for it; fails if the app ended with an error.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// The `/stats` figures the suite checks.
#[derive(Debug, Clone, Deserialize)]
pub struct Stats {
    pub received: u64,
    pub unique_processed: u64,
    pub duplicate_dropped: u64,
    pub restarts: u64,
    pub restart_ms: Option<RestartMs>,
    pub shards: Vec<ShardStat>,
}

/// Median and maximum shard restart time.
#[derive(Debug, Clone, Deserialize)]
pub struct RestartMs {
    pub median: f64,
    pub max: f64,
}

/// Per-shard figures.
#[derive(Debug, Clone, Deserialize)]
pub struct ShardStat {
    pub received: u64,
    pub restarts: u64,
}

/// `GET /stats` of the aggregator at `base_url`.
pub async fn get_stats(base_url: &str) -> Stats {
    let response = reqwest::get(format!("{base_url}/stats")).await.unwrap();
    assert_eq!(response.status(), 200, "GET /stats");
    response.json().await.unwrap()
}

/// Every stored key, read through `GET /events` pagination; also checks that no page repeats
/// an event (which would hide a lost one in a count).
pub async fn keys_via_events(base_url: &str) -> HashSet<Key> {
    #[derive(Deserialize)]
    struct Page {
        events: Vec<Listed>,
        next_cursor: Option<String>,
    }
    #[derive(Deserialize)]
    struct Listed {
        topic: String,
        event_id: String,
    }
    let client = reqwest::Client::new();
    let mut keys = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(format!("{base_url}/events"))
            .query(&[("limit", "1000")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "GET /events");
        let page: Page = response.json().await.unwrap();
        for event in page.events {
            let key = (event.topic, event.event_id);
            assert!(keys.insert(key.clone()), "GET /events repeated {key:?}");
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return keys,
        }
    }
}
