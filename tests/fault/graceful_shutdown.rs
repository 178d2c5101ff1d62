//! SIGTERM in the middle of a stream, against the real binary.

use std::time::{Duration, Instant};

use aggregator::client::workload::WorkloadOptions;
use aggregator::client::{RetryPolicy, Stream, StreamConfig};

use crate::support::{
    assert_counters_exact, free_port, persisted_counters, AggregatorProcess, TestDb,
};

const SHUTDOWN_TIMEOUT_MS: u64 = 5_000;

/// Proves the graceful shutdown contract: on SIGTERM mid-stream the process exits with code 0
/// within `--shutdown-timeout-ms`, and every event it acknowledged before exiting is stored,
/// with persisted counters that match the rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_exits_zero_in_time_and_keeps_every_acknowledged_event() {
    // Arrange
    let db = TestDb::create().await;
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("aggregator.log");
    let args = vec![
        "--database-url".to_string(),
        db.url.clone(),
        "--shutdown-timeout-ms".to_string(),
        SHUTDOWN_TIMEOUT_MS.to_string(),
    ];
    let mut process = AggregatorProcess::start(free_port(), &args, &log).await;
    let workload = WorkloadOptions {
        events: 20_000,
        topics: 50,
        duplicate_ratio: 0.2,
        batch_size: 100,
        seed: Some(0x7E2),
        ..WorkloadOptions::default()
    };
    let config = StreamConfig {
        concurrency: 4,
        pace: Duration::from_millis(10),
        retry: RetryPolicy::never(),
        ..StreamConfig::default()
    };
    let stream = Stream::start(&process.base_url, workload.spec('f'), config).unwrap();
    let progressed = stream.wait_for_acked(3_000, Duration::from_secs(60)).await;
    assert!(progressed, "the stream made no progress");
    assert!(!stream.is_finished(), "the stream ended before SIGTERM");

    // Act
    let signalled = Instant::now();
    process.terminate().await;
    let exit = process
        .wait_exit(Duration::from_millis(SHUTDOWN_TIMEOUT_MS) + Duration::from_secs(30))
        .await;
    let took = signalled.elapsed();
    let report = stream.finish_within(Duration::from_secs(60)).await.unwrap();
    let rows = db.count_rows().await;
    let stored = db.keys().await;
    let (received, unique, duplicate) = persisted_counters(&db).await;

    // Assert
    let p = &report.counts;
    eprintln!(
        "graceful shutdown: exit {exit} {:.0} ms after SIGTERM\n  {}\n  rows {rows}; persisted \
         received {received} unique {unique} duplicate {duplicate}",
        took.as_secs_f64() * 1000.0,
        report.summary(),
    );
    assert_eq!(exit.code(), Some(0), "exit status {exit}");
    assert!(
        took < Duration::from_millis(SHUTDOWN_TIMEOUT_MS),
        "exit took {took:?}"
    );
    assert!(p.failed_batches > 0, "SIGTERM came after the stream");
    assert_eq!(p.status_500, 0, "500 answers");
    assert_eq!(p.mismatched_answers, 0, "200s not matching their request");
    assert_eq!(
        report.acked_keys().difference(&stored).count(),
        0,
        "acknowledged events missing"
    );
    assert_eq!(
        stored.difference(&report.distinct_keys()).count(),
        0,
        "foreign rows"
    );
    assert_counters_exact(received, unique, duplicate, rows);
}
