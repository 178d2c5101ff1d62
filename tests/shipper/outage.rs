//! A database outage under a real rsyslog: the aggregator reaches PostgreSQL through a
//! [`TcpProxy`] the test cuts while lines stream in, so it answers `POST /_bulk` with a `503`
//! cut before its end (a failed transfer, which is what makes rsyslog keep a batch). rsyslog must keep the lines sent meanwhile and resend
//! them once the database is back, so that every line ends up stored exactly once.

use std::time::{Duration, Instant};

use crate::common::db::{count_rows, postgres_address, rows_reach, TestDb};
use crate::common::process::{free_port, AggregatorProcess};
use crate::common::proxy::TcpProxy;
use crate::common::stored::{assert_each_stored_once, topic_events};
use crate::common::wait::wait_until;
use crate::rsyslog::{send_lines, Rsyslog};
use crate::{counters, lines, report, wait_for_rows, LINE, PROGRAM, STORE_DEADLINE, TOPIC};

/// Short, so that a request made during the outage is answered `503` within about a second
/// (with a refused connection the answer comes at once anyway).
const STORE_TIMEOUT_MS: &str = "1000";
/// `503` answers to wait for once the database is cut: more than one proves rsyslog came back
/// with a request after a `503`, not only that the outage was hit once.
const OUTAGE_ANSWERS: u64 = 3;
/// How long those answers may take (rsyslog waits `action.resumeInterval`, 1 s, between
/// attempts while its action is suspended).
const OUTAGE_DEADLINE: Duration = Duration::from_secs(30);
/// How long the database stays unreachable: a shipper that keeps the lines must still have
/// them afterwards. It is long on purpose: rsyslog tries the messages of a failed batch one
/// by one, at once, which takes a few seconds for 500 lines; a shorter outage would end in
/// the middle of those attempts and hide what happens to the lines once they are over.
const OUTAGE: Duration = Duration::from_secs(15);

/// Proves rsyslog keeps and resends what the aggregator answers `503` during a database
/// outage: 500 lines are stored, the database is cut, 500 more lines are sent and answered
/// `503` (none stored) for 15 s, the database comes back, and all 1,000 lines end up stored
/// once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_retries_through_a_database_outage_and_stores_every_line_once() {
    // Arrange: the proxy lives in this test's runtime until the end of the test, since the
    // aggregator process is given its address once, at start.
    let db = TestDb::create().await;
    let proxy = TcpProxy::start(postgres_address()).await;
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("aggregator.log");
    let args = vec![
        "--database-url".to_string(),
        db.url_via(proxy.address()),
        "--store-timeout-ms".to_string(),
        STORE_TIMEOUT_MS.to_string(),
    ];
    let aggregator = AggregatorProcess::start(free_port(), &args, &log).await;
    assert!(
        proxy.accepted_connections() > 0,
        "the aggregator does not go through the proxy"
    );
    let base_url = aggregator.base_url.as_str();
    let rsyslog = Rsyslog::start(aggregator.port());
    let sent = lines(1_000);
    let (before, during) = sent.split_at(500);
    let rows = db.client().await;

    // Act: half the lines on a reachable database, the other half while it is cut.
    send(rsyslog.tcp_port, before).await;
    wait_for_rows(&db, before.len(), &rsyslog).await;
    let answers_before = responses_503(base_url).await;
    let failed_before = counters(&rsyslog).failed_requests;
    proxy.cut().await;
    let cut_at = Instant::now();
    send(rsyslog.tcp_port, during).await;
    let hit = wait_until(
        || async move { responses_503(base_url).await >= answers_before + OUTAGE_ANSWERS },
        OUTAGE_DEADLINE,
    )
    .await;
    assert!(
        hit,
        "{} 503 answers within {OUTAGE_DEADLINE:?} of the outage, expected {OUTAGE_ANSWERS}\n{}",
        responses_503(base_url).await - answers_before,
        context(&log, &rsyslog)
    );
    tokio::time::sleep_until((cut_at + OUTAGE).into()).await;
    // Nothing can have been stored while the database was cut: the second half is with
    // rsyslog, so only its resending can store it.
    assert_eq!(
        count_rows(&rows).await,
        before.len() as u64,
        "rows stored while the database was cut"
    );
    let answers_during = responses_503(base_url).await - answers_before;
    let failed_during = counters(&rsyslog).failed_requests - failed_before;
    proxy.restore().await;

    // Assert
    let expected = sent.len() as u64;
    let all = rows_reach(&rows, expected, STORE_DEADLINE).await;
    assert!(
        all,
        "rsyslog outage: sent {expected} lines, stored {} within {STORE_DEADLINE:?} of the \
         database's return, 503 answers {answers_during} during the {OUTAGE:?} outage, rsyslog \
         requests failed and resent {failed_during}; rsyslog counters {:?}\n{}",
        count_rows(&rows).await,
        rsyslog.counters(),
        context(&log, &rsyslog)
    );
    let stored = topic_events(base_url, TOPIC).await;
    assert_each_stored_once(&sent, &stored, LINE, &context(&log, &rsyslog));
    assert_eq!(db.count_rows().await, expected, "rows outside {TOPIC}");
    let outage = format!(", {answers_during} answered 503 during the outage");
    report(base_url, &sent, stored.len(), &rsyslog, &outage).await;
    eprintln!(
        "rsyslog outage: sent {expected} lines, stored {}, 503 answers {}, rsyslog requests \
         failed and resent {} ({failed_during} while the database was cut)",
        stored.len(),
        responses_503(base_url).await - answers_before,
        counters(&rsyslog).failed_requests - failed_before,
    );
}

/// Hands `lines` to rsyslog through one `logger --tcp` run, off the async threads.
async fn send(tcp_port: u16, lines: &[String]) {
    let lines = lines.to_vec();
    tokio::task::spawn_blocking(move || send_lines(tcp_port, PROGRAM, &lines))
        .await
        .unwrap();
}

/// `aggregator_http_responses_total{status="503"}` of the aggregator's `/metrics` (0 before
/// the first one); `/metrics` needs no database, so it answers during the outage.
async fn responses_503(base_url: &str) -> u64 {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    let response = client
        .get(format!("{base_url}/metrics"))
        .send()
        .await
        .expect("GET /metrics answers");
    assert_eq!(response.status(), 200, "GET /metrics");
    let text = response.text().await.expect("a metrics body");
    text.lines()
        .find_map(|line| line.strip_prefix(r#"aggregator_http_responses_total{status="503"} "#))
        .map_or(0, |value| {
            let count: f64 = value
                .trim()
                .parse()
                .unwrap_or_else(|err| panic!("503 counter {value:?}: {err}"));
            count as u64
        })
}

/// The end of the aggregator's log (one line per `503` it answered, so only the last ones)
/// and rsyslog's output, for failure messages.
fn context(log: &std::path::Path, rsyslog: &Rsyslog) -> String {
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(10)..].join("\n");
    format!(
        "aggregator log ({} lines, the last 10):\n{tail}\n{}",
        lines.len(),
        rsyslog.log()
    )
}
