//! The whole app in the test process on port 0, with a shutdown trigger, and the HTTP reads
//! (`/stats`, `/ready`, `/events`) that tests make of any running aggregator.

use std::collections::HashSet;

use aggregator::app::App;
use aggregator::config::ServeConfig;
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::db::{Key, TestDb};

/// An aggregator running inside the test process.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// Its database.
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
    served: JoinHandle<anyhow::Result<()>>,
}

/// Builds and runs an app on a fresh database and port 0; `configure` adjusts the config.
pub async fn spawn_app(configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    spawn_app_with_db(TestDb::create().await, configure).await
}

/// Like [`spawn_app`] on a given database. `store.database_url` is preset to it; `configure`
/// may point it elsewhere (e.g. at a proxy of the same database).
pub async fn spawn_app_with_db(db: TestDb, configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let mut config = ServeConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..ServeConfig::default()
    };
    config.store.database_url = Some(db.url.clone());
    configure(&mut config);
    let app = App::build(config).await.expect("the app builds");
    let base_url = format!("http://127.0.0.1:{}", app.port());
    let (shutdown, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base_url,
        db,
        shutdown: Some(shutdown),
        served,
    }
}

impl TestApp {
    /// `/stats`.
    pub async fn stats(&self) -> Stats {
        get_stats(&self.base_url).await
    }

    /// Triggers a graceful shutdown and waits for it; fails if the app ended with an error.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let served = tokio::time::timeout(std::time::Duration::from_secs(30), &mut self.served)
            .await
            .expect("the app stops within 30 s");
        served.unwrap().expect("the app stopped cleanly");
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

/// Status of `GET /ready`, or `None` when nothing answers.
pub async fn ready_status(base_url: &str) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let response = client.get(format!("{base_url}/ready")).send().await.ok()?;
    Some(response.status().as_u16())
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
