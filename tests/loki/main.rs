//! `POST /loki/api/v1/push` fed by a real Loki client from PyPI: `python-logging-loki`'s
//! `LokiHandler` (JSON pushes, one per record) behind Python's standard `logging` module (see
//! [`client`] and `push_logs.py`), in front of the real `aggregator serve` binary on a fresh
//! PostgreSQL database. Every record must come out of `GET /events?topic=checkout` exactly once
//! (the topic is the handler's `service_name` tag), with its level and tags; and a second run
//! of the client that sends the very same bytes (its clock fixed to the same start) must store
//! nothing more — what a client resending pushes whose answers it lost does.
//! Each test prints its figures (records sent, stored, duplicates answered).
//!
//! Needs the venv `scripts/test.sh` makes (`target/loki-venv`, or `$AGG_LOKI_PYTHON`); without
//! it the tests print `skipped: …` and pass, except under CI. Run with
//! `cargo test --test loki -- --nocapture` to see the figures.

mod client;
#[path = "../common/mod.rs"]
mod common;

use std::time::Duration;

use client::{assert_all_pushed, is_error, push_logs, python, PushReport};
use common::app::get_stats;
use common::db::TestDb;
use common::process::FreshAggregator;
use common::python::record_messages;
use common::stored::{self, assert_counters_exact, assert_each_stored_once, topic_events, Sent};
use serde_json::{json, Value};

/// The handler's `service_name` tag, hence the topic.
const TOPIC: &str = "checkout";
/// Records per run.
const RECORDS: usize = 500;
/// How long every record may take to be stored once the client is done.
const STORE_DEADLINE: Duration = Duration::from_secs(30);
/// The fixed clock of the replayed runs: 2026-12-07T12:00:00Z.
const CLOCK_NS: i128 = 1_796_644_800_000_000_000;
/// Records, each stored with its line as the payload's `message`.
const RECORD: Sent = Sent {
    noun: "record",
    field: "message",
};

/// Proves the plain path: 500 records logged through the handler land in `checkout`, each
/// once, with the handler's tags as labels, `vm-1` as source and the record's level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_records_are_stored_exactly_once_in_the_tagged_topic() {
    // Arrange
    let Some(python) = python() else { return };
    let fresh = FreshAggregator::create().await;
    let aggregator = fresh.start().await;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let sent = record_messages(RECORDS, &run_id);

    // Act
    let url = format!("{}/loki/api/v1/push", aggregator.base_url);
    let (report, stderr) = push_logs(&python, &url, RECORDS, &run_id, None).await;

    // Assert
    assert_all_pushed(&report, &stderr);
    wait_for_rows(&fresh.db, RECORDS, &stderr).await;
    let stored = topic_events(&aggregator.base_url, TOPIC).await;
    assert_each_stored_once(&sent, &stored, RECORD, &stderr);
    assert_eq!(
        fresh.db.count_rows().await,
        RECORDS as u64,
        "rows outside {TOPIC}"
    );
    let listed = listed_events(&aggregator.base_url).await;
    assert_record_mapped(&listed, &sent[42], "info");
    assert_record_mapped(&listed, &sent[99], "error");
    let errors = listed
        .iter()
        .filter(|event| event["payload"]["level"] == "error")
        .count();
    assert_eq!(errors, (0..RECORDS).filter(|i| is_error(*i)).count());
    report_figures(
        "loki handler",
        &aggregator.base_url,
        &report,
        stored.len(),
        "",
    )
    .await;
}

/// Proves a client resending its pushes stores nothing twice: the same script run again with
/// the handler's clock fixed to the same start sends byte-identical pushes (the digests of
/// the bodies match), every one is answered `204`, and each record stays stored once, the
/// second run's 500 lines counted as duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_handler_run_stores_nothing_twice() {
    // Arrange
    let Some(python) = python() else { return };
    let fresh = FreshAggregator::create().await;
    let aggregator = fresh.start().await;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let sent = record_messages(RECORDS, &run_id);
    let url = format!("{}/loki/api/v1/push", aggregator.base_url);
    let (first, first_stderr) = push_logs(&python, &url, RECORDS, &run_id, Some(CLOCK_NS)).await;
    assert_all_pushed(&first, &first_stderr);
    wait_for_rows(&fresh.db, RECORDS, &first_stderr).await;

    // Act
    let (replay, stderr) = push_logs(&python, &url, RECORDS, &run_id, Some(CLOCK_NS)).await;

    // Assert
    assert_all_pushed(&replay, &stderr);
    assert_eq!(
        replay.bodies_sha256, first.bodies_sha256,
        "the replay sent other bytes"
    );
    let stats = get_stats(&aggregator.base_url).await;
    assert_eq!(
        (stats.unique_processed, stats.duplicate_dropped),
        (RECORDS as u64, RECORDS as u64),
        "{stats:?}"
    );
    let stored = topic_events(&aggregator.base_url, TOPIC).await;
    assert_each_stored_once(&sent, &stored, RECORD, &stderr);
    assert_eq!(
        fresh.db.count_rows().await,
        RECORDS as u64,
        "rows after the replay"
    );
    let listed = listed_events(&aggregator.base_url).await;
    let first_record = listed
        .iter()
        .find(|event| event["payload"]["message"] == sent[0].as_str())
        .expect("the first record is stored");
    assert_eq!(first_record["timestamp"], "2026-12-07T12:00:00Z");
    report_figures(
        "loki handler replayed",
        &aggregator.base_url,
        &replay,
        stored.len(),
        ", after a first run of the same bytes",
    )
    .await;
}

/// Every event of [`TOPIC`] as `GET /events` lists it (one page holds them all).
async fn listed_events(base_url: &str) -> Vec<Value> {
    let page: Value = reqwest::Client::new()
        .get(format!("{base_url}/events"))
        .query(&[("topic", TOPIC), ("limit", "1000")])
        .send()
        .await
        .expect("GET /events answers")
        .json()
        .await
        .expect("an events page");
    assert!(page["next_cursor"].is_null(), "more than one page");
    page["events"].as_array().expect("an events array").clone()
}

/// The event of `message` carries the handler's tags as labels (with its `severity` and
/// `logger` labels), `vm-1` as source, `level` from the severity, and a SHA-256 id.
fn assert_record_mapped(listed: &[Value], message: &str, level: &str) {
    let event = listed
        .iter()
        .find(|event| event["payload"]["message"] == message)
        .unwrap_or_else(|| panic!("{message:?} is stored"));
    assert_eq!(event["source"], "vm-1", "{event}");
    assert_eq!(
        event["payload"],
        json!({
            "message": message,
            "level": level,
            "labels": {
                "service_name": "checkout",
                "host": "vm-1",
                "severity": level,
                "logger": "checkout.orders",
            },
        })
    );
    let id = event["event_id"].as_str().expect("an event id");
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
}

/// Waits until `db` holds `expected` rows, at most [`STORE_DEADLINE`]; fails with `context`
/// (the client's stderr) otherwise.
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
    report: &PushReport,
    stored: usize,
    extra: &str,
) {
    let records = report.logged as u64;
    let stats = assert_counters_exact(base_url, records, RECORD).await;
    eprintln!(
        "{label}: sent {records} records, stored {stored}, duplicates answered {} (aggregator: \
         received {}, unique {}; client: {} requests, statuses {:?}, {:.1} s{extra})",
        stats.duplicate_dropped,
        stats.received,
        stats.unique_processed,
        report.requests,
        report.statuses,
        report.total_s,
    );
}
