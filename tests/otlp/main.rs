//! `POST /v1/logs` (OTLP/HTTP logs) fed by the real OpenTelemetry SDK for Python: a service
//! logs numbered records with the standard `logging` module through `LoggingHandler`, a
//! `BatchLogRecordProcessor` and the `OTLPLogExporter` (protobuf over HTTP; see
//! [`exporter`] and `export_logs.py`) in front of the real `aggregator serve` binary on a fresh
//! PostgreSQL database. Every record must come out of `GET /events?topic=checkout` exactly
//! once (the topic is the resource's `service.name`), plain or gzip-compressed, and also when
//! the aggregator is killed with `kill -9` mid-export and restarted ([`crash`]), leaving the
//! exporter to retry what it had in flight.
//! Each test prints its figures (records sent, stored, duplicates answered).
//!
//! Needs the venv `scripts/test.sh` makes (`target/otel-venv`, or `$AGG_OTEL_PYTHON`); without
//! it the tests print `skipped: …` and pass, except under CI. Run with
//! `cargo test --test otlp -- --nocapture` to see the figures.

#[path = "../common/mod.rs"]
mod common;
mod crash;
mod exporter;

use std::time::Duration;

use common::db::TestDb;
use common::process::FreshAggregator;
use common::python::record_messages;
use common::stored::{
    self, assert_counters_exact, assert_each_stored_once, topic_events, Listed, Sent,
};
use exporter::{python, Export, ExportOptions, ExportReport};

/// The resource's `service.name` the script sets, hence the topic.
const TOPIC: &str = "checkout";
/// How long every record may take to be stored, and the exporter to finish.
const STORE_DEADLINE: Duration = Duration::from_secs(120);
/// Records, each stored with its body as the payload's `body`.
const RECORD: Sent = Sent {
    noun: "record",
    field: "body",
};

/// Proves the plain path: 2,000 records through the SDK's protobuf exporter land in
/// `checkout`, each once, with the record's body, level, resource, scope and source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_records_are_stored_exactly_once_in_the_service_topic() {
    export_and_check(false).await;
}

/// Proves the same with `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`: the exporter's gzip bodies are
/// decoded and every record stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_compressed_sdk_records_are_stored_exactly_once() {
    export_and_check(true).await;
}

/// 2,000 records in batches of 200 (ten requests), then the checks.
async fn export_and_check(gzip: bool) {
    // Arrange
    let Some(python) = python() else { return };
    let fresh = FreshAggregator::create().await;
    let aggregator = fresh.start().await;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let sent = record_messages(2_000, &run_id);
    let options = ExportOptions {
        batch_size: 200,
        gzip,
        ..ExportOptions::default()
    };

    // Act
    let endpoint = format!("{}/v1/logs", aggregator.base_url);
    let export = Export::start(&python, &endpoint, sent.len(), &run_id, &options);
    let (report, stderr) = export.finish(STORE_DEADLINE).await;

    // Assert
    let encoding = if gzip { "gzip" } else { "identity" };
    assert_eq!(
        report.content_encodings.get(encoding),
        Some(&report.http_attempts),
        "every request {encoding}: {report:?}"
    );
    assert_eq!(report.records_exported, sent.len(), "{report:?}\n{stderr}");
    assert_eq!(
        (report.batches_failed, report.records_failed),
        (0, 0),
        "{report:?}\n{stderr}"
    );
    wait_for_rows(&fresh.db, sent.len(), &stderr).await;
    let stored = topic_events(&aggregator.base_url, TOPIC).await;
    assert_each_stored_once(&sent, &stored, RECORD, &stderr);
    assert_eq!(
        fresh.db.count_rows().await,
        sent.len() as u64,
        "rows outside {TOPIC}"
    );
    assert_record_mapped(&stored, &sent[7]);
    let label = if gzip { "otlp gzip" } else { "otlp" };
    report_figures(label, &aggregator.base_url, &report, stored.len(), "").await;
}

/// The event of `message` carries what the SDK sent: body, level, severity, the resource's
/// attributes, the logger's name as scope, `service.instance.id` as source.
fn assert_record_mapped(stored: &[Listed], message: &str) {
    let event = stored
        .iter()
        .find(|event| event.text(RECORD.field) == message)
        .expect("the record is stored");
    let payload = &event.payload;
    assert_eq!(event.source, "checkout-1", "{payload}");
    assert_eq!(
        event.event_id.len(),
        64,
        "a SHA-256 in hex: {}",
        event.event_id
    );
    assert_eq!(payload["level"], "info", "{payload}");
    assert_eq!(payload["severity_text"], "INFO", "{payload}");
    assert_eq!(payload["severity_number"], 9, "{payload}");
    assert_eq!(payload["resource"]["service.name"], "checkout", "{payload}");
    assert_eq!(payload["resource"]["service.instance.id"], "checkout-1");
    assert_eq!(payload["resource"]["telemetry.sdk.language"], "python");
    assert_eq!(payload["scope"]["name"], "checkout.orders", "{payload}");
    assert_eq!(
        payload["attributes"]["code.function.name"], "main",
        "{payload}"
    );
}

/// Waits until `db` holds `expected` rows, at most [`STORE_DEADLINE`]; fails with `context`
/// (the exporter's stderr) otherwise.
async fn wait_for_rows(db: &TestDb, expected: usize, context: &str) {
    stored::wait_for_rows(db, expected, STORE_DEADLINE, RECORD, || {
        format!("\n{context}")
    })
    .await;
}

/// Checks the aggregator's counters are exact (`received = unique + duplicates`, `unique` =
/// records) and prints the figures: records sent, stored, duplicates answered.
async fn report_figures(
    label: &str,
    base_url: &str,
    report: &ExportReport,
    stored: usize,
    extra: &str,
) {
    let records = report.logged as u64;
    let stats = assert_counters_exact(base_url, records, RECORD).await;
    eprintln!(
        "{label}: sent {records} records, stored {stored}, duplicates answered {} (aggregator: \
         received {}, unique {}; exporter: {} batches exported, {} failed, {} HTTP attempts, \
         statuses {:?}, transport errors {:?}, {:.1} s{extra})",
        stats.duplicate_dropped,
        stats.received,
        stats.unique_processed,
        report.batches_exported,
        report.batches_failed,
        report.http_attempts,
        report.http_statuses,
        report.transport_errors,
        report.total_s,
    );
}
