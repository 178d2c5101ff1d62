//! `kill -9` of the real binary in the middle of a pruning run: the rows deleted and the
//! `expired` counter are written in one transaction, so after the restart the counters match
//! the rows exactly, and the resumed pruning deletes the rest exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::support::{
    free_port, get_stats, keys_via_events, wait_until, AggregatorProcess, Backend, TestDb,
};

/// Events stored before the pruning run.
const EVENTS: u64 = 40_000;
/// Events per publish request.
const BATCH: u64 = 1_000;
const TOPICS: u64 = 4;

/// Proves the counter rule of retention across `kill -9` on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_mid_prune_leaves_counters_exact_on_postgres() {
    kill_nine_mid_prune_leaves_counters_exact(Backend::Postgres(TestDb::create().await)).await;
}

/// Proves the counter rule of retention across `kill -9` on the embedded store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_mid_prune_leaves_counters_exact_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    kill_nine_mid_prune_leaves_counters_exact(Backend::Embedded(dir)).await;
}

async fn kill_nine_mid_prune_leaves_counters_exact(backend: Backend) {
    // Arrange: rows stored with nothing expiring.
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("aggregator.log");
    let port = free_port();
    let keep = AggregatorProcess::start(port, &backend.store_args(), &log).await;
    publish(&keep.base_url).await;
    stop(keep).await;

    // Act: restart with a retention they are all past, and kill -9 once some but not all are
    // deleted. Nothing is published meanwhile, so the pruner does not pause between batches:
    // batches of 20 rows make the run last thousands of statements, long enough to be caught
    // in the middle (polled every 10 ms).
    let mut pruning_args = backend.store_args();
    pruning_args.extend(
        [
            "--retention",
            "1s",
            "--prune-batch-rows",
            "20",
            "--prune-interval",
            "200ms",
        ]
        .map(String::from),
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await; // the rows must be past 1 s
    let pruning = AggregatorProcess::start(port, &pruning_args, &log).await;
    let expired_seen = AtomicU64::new(0);
    let mid_prune = wait_until(
        || {
            let base_url = pruning.base_url.clone();
            let seen = &expired_seen;
            async move {
                let expired = get_stats(&base_url).await.expired;
                seen.store(expired, Ordering::Relaxed);
                expired > EVENTS / 10
            }
        },
        Duration::from_secs(30),
    )
    .await;
    pruning.kill9().await;
    let expired_at_kill = expired_seen.load(Ordering::Relaxed);
    assert!(mid_prune, "the pruner deleted nothing within 30 s");
    assert!(
        expired_at_kill < EVENTS,
        "the pruning run ended before the kill ({expired_at_kill} expired): nothing was tested"
    );

    // Assert: restarted with nothing expiring, the counters match the rows left.
    let keep = AggregatorProcess::start(port, &backend.store_args(), &log).await;
    let stats = get_stats(&keep.base_url).await;
    let rows = keys_via_events(&keep.base_url).await.len() as u64;
    assert_eq!(
        stats.unique_processed, EVENTS,
        "unique_processed never drops"
    );
    assert!(
        stats.expired >= expired_at_kill,
        "expired went down across the kill"
    );
    assert!(rows < EVENTS, "no row was deleted");
    assert_eq!(
        stats.expired + rows,
        EVENTS,
        "expired + rows left vs stored"
    );
    assert_eq!(
        stats.stored_events,
        Some(rows),
        "stored_events vs rows left"
    );
    stop(keep).await;

    // And a pruning run resumed after the kill deletes the rest exactly once.
    let pruning = AggregatorProcess::start(port, &pruning_args, &log).await;
    let emptied = wait_until(
        || {
            let base_url = pruning.base_url.clone();
            async move { get_stats(&base_url).await.stored_events == Some(0) }
        },
        Duration::from_secs(60),
    )
    .await;
    assert!(
        emptied,
        "the resumed pruning did not delete every row within 60 s"
    );
    let stats = get_stats(&pruning.base_url).await;
    assert_eq!(
        stats.expired, EVENTS,
        "every row counted expired exactly once"
    );
    assert!(keys_via_events(&pruning.base_url).await.is_empty());
    stop(pruning).await;
}

/// SIGTERM, and wait for the exit (the next start takes the same port).
async fn stop(mut process: AggregatorProcess) {
    process.terminate().await;
    process.wait_exit(Duration::from_secs(30)).await;
}

/// Publishes [`EVENTS`] distinct events over [`TOPICS`] topics.
async fn publish(base_url: &str) {
    let client = reqwest::Client::new();
    for batch in 0..EVENTS / BATCH {
        let events: Vec<_> = (0..BATCH)
            .map(|index| {
                let number = batch * BATCH + index;
                json!({
                    "topic": format!("prune.{}", number % TOPICS),
                    "event_id": format!("event-{number}"),
                    "timestamp": "2026-01-01T00:00:00Z",
                    "source": "prune-crash-test",
                    "payload": {"number": number},
                })
            })
            .collect();
        let response = client
            .post(format!("{base_url}/publish"))
            .json(&events)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "publish batch {batch}");
    }
}
