//! A flood: far more simultaneous requests than the server admits, none retried.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Barrier;

use crate::support::{assert_counters_exact, rss_mib, spawn_app_with, Key};

const WAVES: usize = 3;
const TASKS: usize = 400;
const BATCH: usize = 50;
/// Peak RSS of the whole test process (other tests of the suite may run alongside).
const RSS_BOUND_MIB: f64 = 512.0;

struct Answer {
    status: u16,
    retry_after: bool,
    keys: Vec<Key>,
}

/// Proves guarantee 6 under a flood: with 16 concurrent requests and 500 events per shard
/// admitted, waves of 400 simultaneous 50-event publishes get 429s (with Retry-After) instead
/// of queueing, never a 500; every request answered 200 has all its events stored; the
/// counters stay exact; the service answers normally right after; and the process's peak RSS
/// stays under 512 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_refused_with_429s_while_every_acknowledged_event_is_stored() {
    // Arrange
    let mut app = spawn_app_with(|config| {
        config.limits.max_concurrent_requests = 16;
        config.tree.max_inflight_events_per_shard = 500;
    })
    .await;
    let (rss_before, _) = rss_mib();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // Act
    let mut answers = Vec::new();
    for wave in 0..WAVES {
        let barrier = Arc::new(Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let (client, barrier) = (client.clone(), barrier.clone());
                let url = format!("{}/publish", app.base_url);
                tokio::spawn(async move {
                    let keys: Vec<Key> = (0..BATCH)
                        .map(|i| {
                            (
                                format!("flood-{}", (task + i) % 50),
                                format!("{wave}-{task}-{i}"),
                            )
                        })
                        .collect();
                    let events: Vec<_> = keys
                        .iter()
                        .map(|(topic, id)| {
                            json!({"topic": topic, "event_id": id,
                            "timestamp": "2024-05-01T12:00:00Z", "source": "flood"})
                        })
                        .collect();
                    barrier.wait().await;
                    let response = client
                        .post(url)
                        .json(&json!({ "events": events }))
                        .send()
                        .await
                        .unwrap();
                    let retry_after = response.headers().contains_key("retry-after");
                    Answer {
                        status: response.status().as_u16(),
                        retry_after,
                        keys,
                    }
                })
            })
            .collect();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
    }
    let (rss_after, rss_peak) = rss_mib();
    let after_flood = client
        .post(format!("{}/publish", app.base_url))
        .json(&json!({"topic": "calm", "event_id": "after-flood",
                      "timestamp": "2024-05-01T12:00:00Z", "source": "flood"}))
        .send()
        .await
        .unwrap()
        .status();
    let stats = app.stats().await;
    let rows = app.db.count_rows().await;
    let stored = app.db.keys().await;
    app.stop().await;

    // Assert
    let count = |status: u16| answers.iter().filter(|a| a.status == status).count();
    let (ok, too_many, unavailable, internal) = (count(200), count(429), count(503), count(500));
    let acked: HashSet<Key> = answers
        .iter()
        .filter(|a| a.status == 200)
        .flat_map(|a| a.keys.iter().cloned())
        .collect();
    eprintln!(
        "flood: {} requests of {BATCH} events in {WAVES} waves of {TASKS}: 200: {ok}, 429: \
         {too_many}, 503: {unavailable}, 500: {internal}; rows {rows}; RSS before {rss_before:.1} \
         MiB, after {rss_after:.1} MiB, peak {rss_peak:.1} MiB (bound {RSS_BOUND_MIB} MiB)",
        answers.len(),
    );
    assert!(too_many + unavailable > 0, "the flood was never refused");
    assert!(ok > 0, "nothing got through");
    assert_eq!(internal, 0, "500 answers");
    assert_eq!(
        ok + too_many + unavailable,
        answers.len(),
        "unexpected statuses"
    );
    assert!(
        answers
            .iter()
            .filter(|a| a.status != 200)
            .all(|a| a.retry_after),
        "a refusal without Retry-After"
    );
    assert_eq!(
        acked.difference(&stored).count(),
        0,
        "acknowledged events missing"
    );
    assert_eq!(
        after_flood, 200,
        "the service did not recover after the flood"
    );
    // Refused requests store nothing: rows are the acknowledged events plus the calm one.
    assert_eq!(rows, acked.len() as u64 + 1);
    assert_counters_exact(
        stats.received,
        stats.unique_processed,
        stats.duplicate_dropped,
        rows,
    );
    assert!(rss_peak < RSS_BOUND_MIB, "peak RSS {rss_peak:.1} MiB");
}
