//! A PostgreSQL outage in the middle of a stream: every connection dropped and new ones refused
//! for two seconds, then the database is back; the app is never restarted.

use std::time::{Duration, Instant};

use crate::support::{
    assert_counters_exact, assert_stream_stored_exactly_once, ready_status, spawn_app_with_db,
    wait_until, PgProxy, Publisher, Report, RetryPolicy, StreamSpec, TestDb,
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
    let proxy = PgProxy::start(db.server_address()).await;
    let proxied = db.url_via("127.0.0.1", proxy.port);
    let app = spawn_app_with_db(db, |config| {
        config.store.database_url = Some(proxied);
        config.store.store_timeout_ms = 1_000;
    })
    .await;
    let spec = StreamSpec {
        events: 30_000,
        topics: 50,
        duplicate_ratio: 0.2,
        batch_size: 100,
        concurrency: 4,
        pace: Duration::from_millis(20),
        seed: 0x0DB,
    };
    let publisher = Publisher::start(&app.base_url, spec, RetryPolicy::until_acknowledged());
    let progressed = wait_until(
        || {
            let done = publisher.acked_events() >= 5_000;
            async move { done }
        },
        Duration::from_secs(60),
    )
    .await;
    assert!(progressed, "the stream made no progress before the outage");
    assert!(
        !publisher.is_finished(),
        "the stream ended before the outage"
    );

    // Act: cut, observe, restore.
    let cut_at = Instant::now();
    let status_503_before = Report::count(&publisher.progress.status_503);
    proxy.cut();
    let base_url = app.base_url.clone();
    let not_ready = wait_until(
        || {
            let base_url = base_url.clone();
            async move { ready_status(&base_url).await == Some(503) }
        },
        OUTAGE,
    )
    .await;
    tokio::time::sleep(OUTAGE.saturating_sub(cut_at.elapsed())).await;
    let status_503_during = Report::count(&publisher.progress.status_503) - status_503_before;
    let acked_during_cut_end = publisher.acked_events();
    proxy.restore();
    let restored_at = Instant::now();
    let ready_again = wait_until(
        || {
            let base_url = base_url.clone();
            async move { ready_status(&base_url).await == Some(200) }
        },
        Duration::from_secs(15),
    )
    .await;
    let recovery = restored_at.elapsed();
    let report = publisher.finish(Duration::from_secs(120)).await;
    let stats = app.stats().await;
    let rows = app.db.count_rows().await;
    let stored = app.db.keys().await;
    app.stop().await;

    // Assert
    let p = &report.progress;
    eprintln!(
        "postgres outage: 1 cut of {:?} ({} connections refused), 503s during the cut \
         {status_503_during}, acked events at cut end {acked_during_cut_end}, /ready 200 again \
         {:.0} ms after restore\n  {}\n  rows {rows}; stats received {} unique {} duplicate {}",
        OUTAGE,
        proxy.refused(),
        recovery.as_secs_f64() * 1000.0,
        report.summary(),
        stats.received,
        stats.unique_processed,
        stats.duplicate_dropped,
    );
    assert!(not_ready, "/ready did not turn 503 during the outage");
    assert!(status_503_during > 0, "no 503 during the outage");
    assert!(ready_again, "/ready did not turn 200 after the outage");
    assert_eq!(Report::count(&p.failed_batches), 0, "batches given up");
    assert_eq!(
        Report::count(&p.bad_answers),
        0,
        "200s not matching their request"
    );
    assert_eq!(Report::count(&p.status_500), 0, "500 answers");
    assert_stream_stored_exactly_once(&report, &stored, rows);
    assert_counters_exact(
        stats.received,
        stats.unique_processed,
        stats.duplicate_dropped,
        rows,
    );
}
