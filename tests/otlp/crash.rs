//! A `kill -9` of the aggregator in the middle of an SDK export: the exporter must retry what
//! it had in flight once the aggregator is back on the same port and database, and the
//! records' ids (a digest of resource, scope and record, the same in every retry) must make
//! every record stored exactly once, also those the dead process had committed without
//! answering.
//!
//! What the Python exporter does (opentelemetry-exporter-otlp-proto-http 1.45.2, read in
//! `opentelemetry/exporter/otlp/common/http.py`): a batch gets one deadline, the exporter's
//! `timeout` (10 s by default) from its first attempt. A connection error (refused, reset) is
//! retried once at once, then after a backoff of 1, 2, 4, 8, 16 s (±20 % jitter, 6 attempts at
//! most); `429`, `502`, `503` and `504` the same, or after their `Retry-After`. When the next
//! backoff would pass the deadline the batch is dropped for good (logged, never resent), and
//! the `BatchLogRecordProcessor` goes on with the next one. With the default 10 s the last
//! attempt comes 5.6 to 8.4 s after the first failure, so a restart must be back within about
//! 5.6 s; this test gives the exporter a 30 s timeout, whose last attempt comes 12 to 18 s
//! after the first failure, so that a slow restart on a loaded machine does not lose a batch,
//! and prints how long the restart took.

use std::time::{Duration, Instant};

use crate::common::db::{count_rows, rows_reach};
use crate::common::process::FreshAggregator;
use crate::common::python::record_messages;
use crate::common::stored::{assert_each_stored_once, topic_events};
use crate::common::wait::wait_until;
use crate::exporter::{python, Export, ExportOptions};
use crate::{report_figures, wait_for_rows, RECORD, STORE_DEADLINE, TOPIC};

/// Records of the export: at 50 a batch, 400 requests, several seconds of export.
const RECORDS: usize = 20_000;
/// Rows stored before the kill: well into the export, far from its end.
const STORED_BEFORE_KILL: u64 = 4_000;

/// Proves the exporter's retries and the endpoint's deduplication together: 20,000 records
/// are exported in batches of 50 while the aggregator is `kill -9`ed (once 4,000 are stored)
/// and restarted on the same port and database as soon as the exporter announces a retry; the
/// exporter retries the batch it had in flight, and every record ends up stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_retries_across_a_kill_nine_of_the_aggregator_without_duplicates() {
    // Arrange
    let Some(python) = python() else { return };
    let fresh = FreshAggregator::create().await;
    let aggregator = fresh.start().await;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let sent = record_messages(RECORDS, &run_id);
    let options = ExportOptions {
        batch_size: 50,
        timeout_s: Some(30),
        ..ExportOptions::default()
    };
    let rows = fresh.db.client().await;

    // Act: kill once some records are stored, restart at once on the same port.
    let endpoint = format!("{}/v1/logs", aggregator.base_url);
    let mut export = Export::start(&python, &endpoint, RECORDS, &run_id, &options);
    let some_stored = rows_reach(&rows, STORED_BEFORE_KILL, STORE_DEADLINE).await;
    assert!(
        some_stored,
        "{STORED_BEFORE_KILL} records not stored in time"
    );
    assert!(export.is_running(), "the export ended before the kill");
    let killed_at = Instant::now();
    aggregator.kill9().await;
    let stored_at_kill = count_rows(&rows).await;
    // Restart only once the exporter has met the dead port and announced a retry, so that its
    // retry is what gets the batch through, not a restart too quick for it to notice.
    let felt = wait_until(
        || {
            let retried = export.retries_logged() > 0;
            async move { retried }
        },
        Duration::from_secs(30),
    )
    .await;
    assert!(
        felt,
        "the exporter never retried while the aggregator was down"
    );
    let noticed = killed_at.elapsed();
    let aggregator = fresh.start().await;
    let restart = killed_at.elapsed();
    let (report, stderr) = export.finish(STORE_DEADLINE).await;

    // Assert
    assert!(
        stored_at_kill < RECORDS as u64,
        "every record was stored before the kill"
    );
    assert!(
        report.transport_error_count() > 0,
        "the exporter never met the dead aggregator: {report:?}"
    );
    assert_eq!(
        (
            report.batches_failed,
            report.records_failed,
            report.records_exported
        ),
        (0, 0, RECORDS),
        "the exporter dropped batches (restart took {restart:?}): {report:?}\n{stderr}"
    );
    wait_for_rows(&fresh.db, RECORDS, &stderr).await;
    let stored = topic_events(&aggregator.base_url, TOPIC).await;
    assert_each_stored_once(&sent, &stored, RECORD, &stderr);
    assert_eq!(
        fresh.db.count_rows().await,
        RECORDS as u64,
        "rows outside {TOPIC}"
    );
    let kill = format!(
        "; killed with {stored_at_kill} stored, exporter retrying after {:.2} s, back after \
         {:.2} s",
        noticed.as_secs_f64(),
        restart.as_secs_f64()
    );
    report_figures(
        "otlp kill -9",
        &aggregator.base_url,
        &report,
        stored.len(),
        &kill,
    )
    .await;
}
