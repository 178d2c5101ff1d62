//! A PostgreSQL outage in the middle of a stream: every connection dropped and new ones refused
//! for two seconds, then the database is back; the app is never restarted.

use std::time::{Duration, Instant};

use aggregator::client::workload::WorkloadOptions;
use aggregator::client::{RetryPolicy, Stream, StreamConfig};

use crate::common::db::postgres_address;
use crate::support::{
    assert_every_batch_acknowledged_cleanly, assert_stats_exact, assert_stream_stored_exactly_once,
    spawn_app_on, wait_for_ready_status, TcpProxy, TestDb,
};

const OUTAGE: Duration = Duration::from_secs(2);

/// Proves guarantee 6 (and 1–3 through an outage): while the database is unreachable, publish
/// answers 503 with Retry-After and `/ready` is 503; once it is back, `/ready` is 200 again
/// and the retrying stream completes by itself, with every acknowledged event stored exactly
/// once and exact counters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_gives_503s_and_the_stream_completes_by_itself_afterwards() {
    // Arrange
    let db = TestDb::create().await;
    let proxy = TcpProxy::start(postgres_address()).await;
    let proxied = db.url_via(proxy.address());
    let mut app = spawn_app_on(db, |config| {
        config.store.database_url = Some(proxied);
        config.store.timeout = std::time::Duration::from_millis(1_000);
    })
    .await;
    let workload = WorkloadOptions {
        events: 30_000,
        topics: 50,
        duplicate_ratio: 0.2,
        batch_size: 100,
        seed: Some(0x0DB),
        ..WorkloadOptions::default()
    };
    let config = StreamConfig {
        concurrency: 4,
        pace: Duration::from_millis(20),
        retry: RetryPolicy::until_acknowledged(),
        ..StreamConfig::default()
    };
    let stream = Stream::start(&app.base_url, workload.spec('f'), config).unwrap();
    let progressed = stream.wait_for_acked(5_000, Duration::from_secs(60)).await;
    assert!(progressed, "the stream made no progress before the outage");
    assert!(!stream.is_finished(), "the stream ended before the outage");

    // Act: cut, observe, restore.
    let cut_at = Instant::now();
    let status_503_before = stream.counts().status_503;
    proxy.cut().await;
    let base_url = app.base_url.clone();
    let not_ready = wait_for_ready_status(&base_url, 503, OUTAGE).await;
    tokio::time::sleep(OUTAGE.saturating_sub(cut_at.elapsed())).await;
    let status_503_during = stream.counts().status_503 - status_503_before;
    let acked_during_cut_end = stream.acked_events();
    proxy.restore().await;
    let restored_at = Instant::now();
    let ready_again = wait_for_ready_status(&base_url, 200, Duration::from_secs(15)).await;
    let recovery = restored_at.elapsed();
    let report = stream
        .finish_within(Duration::from_secs(120))
        .await
        .unwrap();
    let stats = app.stats().await;
    let rows = app.db.count_rows().await;
    let stored = app.db.keys().await;
    app.stop().await;

    // Assert
    eprintln!(
        "postgres outage: 1 cut of {:?} ({} connections through the proxy), 503s during the cut \
         {status_503_during}, acked events at cut end {acked_during_cut_end}, /ready 200 again \
         {:.0} ms after restore\n  {}\n  rows {rows}; stats received {} unique {} duplicate {}",
        OUTAGE,
        proxy.accepted_connections(),
        recovery.as_secs_f64() * 1000.0,
        report.summary(),
        stats.received,
        stats.unique_processed,
        stats.duplicate_dropped,
    );
    assert!(not_ready, "/ready did not turn 503 during the outage");
    assert!(status_503_during > 0, "no 503 during the outage");
    assert!(ready_again, "/ready did not turn 200 after the outage");
    assert_every_batch_acknowledged_cleanly(&report);
    assert_stream_stored_exactly_once(&report, &stored, rows);
    assert_stats_exact(&stats, rows);
}
