//! Chaos inside the process: shards killed every 50 ms and panicking in 5 % of their commits
//! (half before the commit, half after it but before the answer) while a retrying client
//! streams 100,000 events.

use std::time::{Duration, Instant};

use aggregator::client::workload::WorkloadOptions;
use aggregator::client::{RetryPolicy, Stream, StreamConfig};

use crate::support::{
    assert_every_batch_acknowledged_cleanly, assert_stats_exact, assert_stream_stored_exactly_once,
    spawn_app_with,
};

/// Proves guarantees 1, 2, 3 and 7 under in-process chaos: with a shard killed every 50 ms
/// and 5 % of commits panicking, a client that retries 503s gets every batch acknowledged;
/// afterwards the store holds exactly the distinct keys sent (every acknowledged one, none
/// twice), `/stats` is exact (`received == unique + duplicate`, `unique == rows`), shards were
/// restarted and timed, no request got a 500, and every shard kept committing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_under_shard_kills_and_panics_is_stored_exactly_once_with_exact_counters() {
    // Arrange
    let mut app = spawn_app_with(|config| {
        config.tree.chaos.kill_interval = Some(Duration::from_millis(50));
        config.tree.chaos.panic_rate = 0.05;
        config.tree.restart_budget.max_restarts = 1_000_000;
    })
    .await;
    let workload = WorkloadOptions {
        events: 100_000,
        topics: 64,
        duplicate_ratio: 0.2,
        batch_size: 200,
        seed: Some(0xC4A05),
        ..WorkloadOptions::default()
    };
    let batches = workload.events.div_ceil(workload.batch_size as u64);
    let config = StreamConfig {
        concurrency: 8,
        retry: RetryPolicy::until_acknowledged(),
        ..StreamConfig::default()
    };

    // Act
    let started = Instant::now();
    let stream = Stream::start(&app.base_url, workload.spec('f'), config).unwrap();
    let report = stream
        .finish_within(Duration::from_secs(240))
        .await
        .unwrap();
    let streamed = started.elapsed();
    let stats = app.stats().await;
    let rows = app.db.count_rows().await;
    let stored = app.db.keys().await;
    app.stop().await;

    // Assert
    let p = &report.counts;
    let restart_ms = stats.restart_ms.expect("restart times after restarts");
    eprintln!(
        "chaos in-process: {}\n  stream time {:.1} s; restarts {} (per shard {:?}); \
         restart_ms median {:.3} max {:.3}; rows {rows}; stats received {} unique {} duplicate {}",
        report.summary(),
        streamed.as_secs_f64(),
        stats.restarts,
        stats.shards.iter().map(|s| s.restarts).collect::<Vec<_>>(),
        restart_ms.median,
        restart_ms.max,
        stats.received,
        stats.unique_processed,
        stats.duplicate_dropped,
    );
    assert_every_batch_acknowledged_cleanly(&report);
    assert_eq!(p.status_other, 0, "unexpected statuses");
    assert_eq!(p.ok_responses, batches);
    assert!(report.events_in_stream() >= 100_000);
    assert!(report.distinct_keys().len() as f64 <= 0.85 * report.events_in_stream() as f64);
    assert_stream_stored_exactly_once(&report, &stored, rows);
    assert_stats_exact(&stats, rows);
    assert!(
        stats.received >= report.events_in_stream(),
        "every event was counted once at least"
    );
    assert!(stats.restarts > 0, "chaos restarted no shard");
    let per_shard: u64 = stats.shards.iter().map(|s| s.restarts).sum();
    assert_eq!(per_shard, stats.restarts);
    assert!(
        stats.shards.iter().all(|s| s.received > 0),
        "a shard never committed: {:?}",
        stats.shards
    );
    // Isolation: a dead shard fails only the requests in flight on it, so most answers are 200s.
    let answers = p.ok_responses + p.status_503;
    let ok_share = p.ok_responses as f64 / answers as f64;
    assert!(
        ok_share >= 0.25,
        "only {:.0} % of answers were 200s",
        ok_share * 100.0
    );
    assert!(
        restart_ms.max < 100.0,
        "a restart took {} ms",
        restart_ms.max
    );
}
