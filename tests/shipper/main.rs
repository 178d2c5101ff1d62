//! The Elasticsearch-compatible bulk endpoint (`POST /_bulk`) fed by a real shipper: Debian's
//! rsyslog with `omelasticsearch` (see [`rsyslog`]) in front of the real `aggregator serve`
//! binary on a fresh PostgreSQL database. Lines go in with `logger --tcp`; every line must come
//! out of `GET /events?topic=syslog.checkout` exactly once, also when the aggregator is killed
//! with `kill -9` mid-stream and restarted, leaving rsyslog to resend what it had in flight,
//! and when the database is unreachable for a while ([`outage`]), leaving rsyslog to resend
//! what the aggregator answered `503`.
//! Each test prints its figures (lines sent, stored, duplicates answered).
//!
//! Needs `rsyslogd`, its `omelasticsearch` module and `logger` (Debian: `rsyslog`,
//! `rsyslog-elasticsearch`, `bsdutils`); run with `cargo test --test shipper -- --nocapture`.

#[path = "../common/mod.rs"]
mod common;
mod outage;
mod rsyslog;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::db::{count_rows, rows_reach, TestDb};
use common::process::FreshAggregator;
use common::stored::{self, assert_counters_exact, assert_each_stored_once, topic_events, Sent};
use common::wait::wait_until;
use rsyslog::{send_lines, Rsyslog, ShipperCounters};

/// rsyslog's `programname`, which the index template turns into the topic.
const PROGRAM: &str = "checkout";
const TOPIC: &str = "syslog.checkout";
/// Lines, each stored as its document's `message`.
const LINE: Sent = Sent {
    noun: "line",
    field: "message",
};
/// How long every line may take to be stored, from the last one sent.
const STORE_DEADLINE: Duration = Duration::from_secs(60);

/// `count` distinct lines: byte-identical documents of one topic are
/// one event by design, so each line carries its own number.
fn lines(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("order {i:05} paid, line {} of {count}", i + 1))
        .collect()
}

/// Proves the plain path: 500 lines through rsyslog land in `syslog.checkout`, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_lines_are_stored_exactly_once() {
    // Arrange
    let fresh = FreshAggregator::create().await;
    let aggregator = fresh.start().await;
    let rsyslog = Rsyslog::start(fresh.port);
    let sent = lines(500);

    // Act: five `logger` runs of 100 lines, so rsyslog batches several lines per request.
    let tcp_port = rsyslog.tcp_port;
    let to_send = sent.clone();
    tokio::task::spawn_blocking(move || {
        for chunk in to_send.chunks(100) {
            send_lines(tcp_port, PROGRAM, chunk);
        }
    })
    .await
    .unwrap();

    // Assert
    wait_for_rows(&fresh.db, sent.len(), &rsyslog).await;
    let stored = topic_events(&aggregator.base_url, TOPIC).await;
    assert_each_stored_once(&sent, &stored, LINE, &rsyslog.log());
    assert_eq!(
        fresh.db.count_rows().await,
        sent.len() as u64,
        "rows outside {TOPIC}"
    );
    report(&aggregator.base_url, &sent, stored.len(), &rsyslog, "").await;
}

/// Proves rsyslog's retries and the endpoint's deduplication together: 3,000 lines stream in
/// while the aggregator is `kill -9`ed and restarted on the same port and database; rsyslog
/// keeps what it could not deliver in its action queue and resends whole batches (also those
/// the dead process had already committed), and every line ends up stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_resends_across_a_kill_nine_of_the_aggregator_without_duplicates() {
    // Arrange
    let fresh = FreshAggregator::create().await;
    let aggregator = fresh.start().await;
    let rsyslog = Rsyslog::start(fresh.port);
    let sent = lines(3_000);
    let rows = fresh.db.client().await;

    // Act: a paced stream (100 lines every 10 ms) that outlasts the kill and the restart, fast
    // enough that rsyslog often has a batch in flight when the aggregator dies.
    let handed = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (tcp_port, to_send, handed) = (rsyslog.tcp_port, sent.clone(), handed.clone());
        tokio::task::spawn_blocking(move || {
            for chunk in to_send.chunks(100) {
                send_lines(tcp_port, PROGRAM, chunk);
                handed.fetch_add(chunk.len(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let some_stored = rows_reach(&rows, 500, STORE_DEADLINE).await;
    assert!(
        some_stored,
        "500 lines not stored in time\n{}",
        rsyslog.log()
    );
    let handed_at_kill = handed.load(Ordering::SeqCst);
    assert!(
        handed_at_kill < sent.len(),
        "the stream ended before the kill"
    );
    let failed_before = counters(&rsyslog).failed_requests;
    aggregator.kill9().await;
    let stored_at_kill = count_rows(&rows).await;
    // Restart only once rsyslog has met the dead port (impstats writes every second), so the
    // resend path is what gets the lines through, not a restart too quick to notice.
    let felt = wait_until(
        || {
            let failed = counters(&rsyslog).failed_requests;
            async move { failed > failed_before }
        },
        Duration::from_secs(15),
    )
    .await;
    assert!(
        felt,
        "rsyslog never failed a request while the aggregator was down"
    );
    let aggregator = fresh.start().await;
    sender.await.unwrap();

    // Assert
    wait_for_rows(&fresh.db, sent.len(), &rsyslog).await;
    let stored = topic_events(&aggregator.base_url, TOPIC).await;
    assert_each_stored_once(&sent, &stored, LINE, &rsyslog.log());
    assert_eq!(
        fresh.db.count_rows().await,
        sent.len() as u64,
        "rows outside {TOPIC}"
    );
    let kill = format!(
        ", killed with {stored_at_kill} stored and {handed_at_kill} lines handed to logger"
    );
    report(&aggregator.base_url, &sent, stored.len(), &rsyslog, &kill).await;
}

/// The latest rsyslog counters, zero before its first `impstats` line.
fn counters(rsyslog: &Rsyslog) -> ShipperCounters {
    rsyslog.counters().unwrap_or(ShipperCounters {
        submitted: 0,
        failed_requests: 0,
        failed_es: 0,
    })
}

/// Waits until `db` holds `expected` rows, at most [`STORE_DEADLINE`]; fails with rsyslog's
/// output and counters otherwise (the messages it gave up on are in its output).
async fn wait_for_rows(db: &TestDb, expected: usize, rsyslog: &Rsyslog) {
    stored::wait_for_rows(db, expected, STORE_DEADLINE, LINE, || {
        format!(
            "; rsyslog counters {:?}\n{}",
            rsyslog.counters(),
            rsyslog.log()
        )
    })
    .await;
}

/// Checks the aggregator's counters are exact (`received = unique + duplicates`, `unique` =
/// lines) and prints the figures: lines sent, stored, duplicates answered.
async fn report(base_url: &str, sent: &[String], stored: usize, rsyslog: &Rsyslog, extra: &str) {
    let lines = sent.len() as u64;
    let stats = assert_counters_exact(base_url, lines, LINE).await;
    // impstats writes every second: wait for a line that has seen every message.
    wait_until(
        || {
            let submitted = counters(rsyslog).submitted;
            async move { submitted >= lines }
        },
        Duration::from_secs(5),
    )
    .await;
    let shipper = counters(rsyslog);
    let failures: Vec<String> = rsyslog
        .transport_failures()
        .iter()
        .map(|(failure, count)| format!("{count} x curl {failure}"))
        .collect();
    eprintln!(
        "rsyslog: sent {lines} lines, stored {stored}, duplicates answered {} (aggregator: \
         received {}, unique {}; rsyslog: {} submitted, {} requests failed and resent, {} \
         batches refused{extra}; transport failures: {failures:?})",
        stats.duplicate_dropped,
        stats.received,
        stats.unique_processed,
        shipper.submitted,
        shipper.failed_requests,
        shipper.failed_es,
    );
}
