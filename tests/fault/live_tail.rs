//! The live tail as one system, with real processes on one PostgreSQL database: events
//! committed through one instance reach a tail served by another within a second; a tail whose
//! instance is killed with `kill -9` resumes on another with `Last-Event-ID`, with no gap and
//! no repeat; 200 tails of one instance each receive every event while a publisher sends at
//! full speed, with the server's memory bounded.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aggregator::client::workload::WorkloadOptions;
use aggregator::client::{
    ClientAccess, RetryPolicy, Stream, StreamConfig, StreamReport, Tail, TailConfig, TailStart,
    Tailed,
};
use serde_json::json;

use crate::support::{
    assert_every_batch_acknowledged_cleanly, send_until_acknowledged, start_instances, wait_until,
    AggregatorProcess, Key, TestDb,
};

/// A tail running in the background, keeping every event it receives and when.
struct Collector {
    received: Arc<Mutex<Vec<(Tailed, Instant)>>>,
    reconnections: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    fn start(config: TailConfig) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let reconnections = Arc::new(Mutex::new(0));
        let mut tail = Tail::new(config).unwrap();
        let task = {
            let received = received.clone();
            let reconnections = reconnections.clone();
            tokio::spawn(async move {
                loop {
                    let tailed = tail.next().await.expect("the tail is never refused");
                    received.lock().unwrap().push((tailed, Instant::now()));
                    *reconnections.lock().unwrap() = tail.reconnections();
                }
            })
        };
        Self {
            received,
            reconnections,
            task,
        }
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn keys(&self) -> Vec<Key> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .map(|(tailed, _)| (tailed.event.topic.clone(), tailed.event.event_id.clone()))
            .collect()
    }

    async fn wait_for(&self, count: usize, timeout: Duration) -> bool {
        wait_until(|| async { self.count() >= count }, timeout).await
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn tail_of(urls: &[&AggregatorProcess]) -> TailConfig {
    TailConfig {
        query: None,
        urls: urls
            .iter()
            .map(|process| process.base_url.clone())
            .collect(),
        topic: None,
        source: None,
        start: TailStart::Beginning,
        access: ClientAccess::default(),
    }
}

/// Within each topic, the events arrived in increasing `seq` (the order of `/events`).
fn assert_topic_order(collector: &Collector) {
    let received = collector.received.lock().unwrap();
    let mut last_seq: HashMap<&str, i64> = HashMap::new();
    for (tailed, _) in received.iter() {
        let event = &tailed.event;
        let previous = last_seq.insert(&event.topic, event.seq).unwrap_or(0);
        assert!(
            event.seq > previous,
            "{} seq {} after {previous}",
            event.topic,
            event.seq
        );
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Publishes one event through `process`; returns when it is acknowledged.
async fn publish_one(http: &reqwest::Client, process: &AggregatorProcess, id: &str) {
    let event = json!({
        "topic": format!("latency-{}", id.len() % 3),
        "event_id": id,
        "timestamp": "2026-12-02T00:00:00Z",
        "source": "live-tail-test",
        "payload": {"n": id},
    });
    let response = http
        .post(format!("{}/publish", process.base_url))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Events published one at a time through one instance reach a tail served by another within a
/// second (the figure printed is publish-sent → received, p50 and p99).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_on_one_instance_receives_what_another_committed_within_a_second() {
    // Arrange
    let db = TestDb::create().await;
    let logs = tempfile::tempdir().unwrap();
    let processes = start_instances(&db, &["writer", "reader"], logs.path()).await;
    let (writer, reader) = (&processes[0], &processes[1]);
    let collector = Collector::start(tail_of(&[reader]));
    let http = reqwest::Client::new();
    publish_one(&http, writer, "warm-up").await;
    assert!(collector.wait_for(1, Duration::from_secs(5)).await);

    // Act: 300 events, one request each, about 100 per second.
    let mut sent_at = HashMap::new();
    for n in 0..300 {
        let id = format!("e-{n}");
        sent_at.insert(id.clone(), Instant::now());
        publish_one(&http, writer, &id).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all_arrived = collector.wait_for(301, Duration::from_secs(10)).await;

    // Assert
    assert!(
        all_arrived,
        "only {} of 301 events arrived",
        collector.count()
    );
    let mut latencies: Vec<Duration> = {
        let received = collector.received.lock().unwrap();
        received
            .iter()
            .filter_map(|(tailed, at)| {
                let sent = sent_at.get(&tailed.event.event_id)?;
                Some(at.duration_since(*sent))
            })
            .collect()
    };
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    eprintln!(
        "live tail across instances: {} events, latency publish→received p50 {:.1} ms, p99 \
         {:.1} ms, max {:.1} ms",
        latencies.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
    assert_eq!(latencies.len(), 300);
    let keys = collector.keys();
    assert_eq!(
        keys.iter().collect::<HashSet<_>>().len(),
        keys.len(),
        "a repeat"
    );
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");
    assert_topic_order(&collector);
}

/// A tail served by an instance killed with `kill -9` mid-stream resumes on another instance
/// from its last `id`: it ends up with every stored event exactly once, each topic in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_resumes_on_another_instance_after_kill_9_with_no_gap_and_no_repeat() {
    // Arrange
    let db = TestDb::create().await;
    let logs = tempfile::tempdir().unwrap();
    let mut processes = start_instances(&db, &["serving", "standby", "writer"], logs.path()).await;
    let writer = processes.pop().unwrap();
    let collector = Collector::start(tail_of(&[&processes[0], &processes[1]]));
    let spec = WorkloadOptions {
        events: 6_000,
        topics: 4,
        duplicate_ratio: 0.2,
        batch_size: 20,
        mixed: true,
        seed: Some(0x7A11),
        ..WorkloadOptions::default()
    }
    .spec('t');
    let config = StreamConfig {
        concurrency: 4,
        rate: Some(2_000.0),
        retry: RetryPolicy::until_acknowledged(),
        ..StreamConfig::default()
    };

    // Act: kill the serving instance once the tail is well under way.
    let stream = Stream::start(&writer.base_url, spec, config).unwrap();
    assert!(collector.wait_for(1_000, Duration::from_secs(30)).await);
    let serving = processes.remove(0);
    serving.kill9().await;
    let report: StreamReport = stream
        .finish_within(Duration::from_secs(120))
        .await
        .unwrap();
    let stored = db.keys().await;
    let caught_up = collector
        .wait_for(stored.len(), Duration::from_secs(30))
        .await;
    // Anything repeated after the reconnection would arrive by now.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Assert
    assert_every_batch_acknowledged_cleanly(&report);
    let keys = collector.keys();
    let distinct: HashSet<Key> = keys.iter().cloned().collect();
    let reconnections = *collector.reconnections.lock().unwrap();
    eprintln!(
        "tail across kill -9: {} stored, {} received ({} distinct), {reconnections} \
         reconnections",
        stored.len(),
        keys.len(),
        distinct.len()
    );
    assert!(
        caught_up,
        "the tail stopped at {} of {}",
        keys.len(),
        stored.len()
    );
    assert!(reconnections >= 1, "the tail never reconnected");
    assert_eq!(keys.len(), distinct.len(), "events repeated");
    assert_eq!(
        distinct, stored,
        "the tail's events differ from the store's"
    );
    assert_topic_order(&collector);
}

/// Peak and current resident memory of a process, in MiB.
fn process_rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> f64 {
        let line = status.lines().find(|line| line.starts_with(name)).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .unwrap()
            / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Sends a verified-clean stream of `events` through `process`; returns events per second.
async fn publish_at_full_speed(process: &AggregatorProcess, events: u64, seed: u64) -> f64 {
    let spec = WorkloadOptions {
        events,
        topics: 10,
        duplicate_ratio: 0.2,
        batch_size: 50,
        seed: Some(seed),
        ..WorkloadOptions::default()
    }
    .spec('f');
    let started = Instant::now();
    send_until_acknowledged(&process.base_url, spec, 4, Duration::from_secs(120)).await;
    events as f64 / started.elapsed().as_secs_f64()
}

const SUBSCRIBERS: usize = 200;
/// The bound asserted on the server's peak RSS with 200 tails open.
const RSS_BOUND_MIB: f64 = 256.0;

/// 200 tails of one instance while a publisher sends at full speed: every tail receives every
/// stored event once, the server's memory stays under [`RSS_BOUND_MIB`], and the ingest rate
/// with the tails against without is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tails_each_receive_every_event_while_publishing_at_full_speed() {
    // Arrange
    let db = TestDb::create().await;
    let logs = tempfile::tempdir().unwrap();
    let processes = start_instances(&db, &["busy"], logs.path()).await;
    let server = &processes[0];
    let without_tails = publish_at_full_speed(server, 4_000, 1).await;
    let stored_before = db.count_rows().await as usize;
    let collectors: Vec<Collector> = (0..SUBSCRIBERS)
        .map(|_| {
            Collector::start(TailConfig {
                start: TailStart::End,
                ..tail_of(&[server])
            })
        })
        .collect();
    // Every tail is connected once it has received an event published after it opened.
    let http = reqwest::Client::new();
    publish_one(&http, server, "everyone-connected").await;
    for collector in &collectors {
        if collector.count() == 0 {
            // A tail that connected after the event missed it (it started at the end): send
            // another until each has one.
            while !collector.wait_for(1, Duration::from_millis(500)).await {
                publish_one(&http, server, &format!("late-{}", db.count_rows().await)).await;
            }
        }
    }
    let (_, rss_before) = process_rss_mib(server.pid());

    // Act
    let with_tails = publish_at_full_speed(server, 4_000, 2).await;
    let stored = db.count_rows().await as usize;

    // Assert: each tail got at least every event stored after it connected, without repeats.
    let expected_new = stored - stored_before;
    let mut slowest = Duration::ZERO;
    let waiting = Instant::now();
    for collector in &collectors {
        // The tail's order is (tx, seq): everything from its first event on is expected.
        let first = collector.received.lock().unwrap()[0].0.cursor.clone();
        let (tx, seq) = first
            .strip_prefix("all.")
            .and_then(|rest| rest.split_once('.'))
            .map(|(tx, seq)| (tx.parse::<i64>().unwrap(), seq.parse::<i64>().unwrap() - 1))
            .unwrap();
        let expected = db
            .client()
            .await
            .query_one(
                "SELECT count(*) FROM events WHERE (tx, seq) > ($1, $2)",
                &[&tx, &seq],
            )
            .await
            .unwrap()
            .get::<_, i64>(0) as usize;
        assert!(
            collector.wait_for(expected, Duration::from_secs(60)).await,
            "a tail stopped at {} of {expected}",
            collector.count()
        );
        slowest = waiting.elapsed();
        let keys = collector.keys();
        assert_eq!(
            keys.len(),
            keys.iter().collect::<HashSet<_>>().len(),
            "a repeat"
        );
    }
    let (peak, rss_after) = process_rss_mib(server.pid());
    eprintln!(
        "{SUBSCRIBERS} tails: ingest {without_tails:.0} events/s without, {with_tails:.0} with \
         ({:.2}×); {expected_new} new rows each received by every tail, the last within {:.1} s \
         after the publisher finished; server RSS {rss_before:.0} MiB before, {rss_after:.0} \
         after, peak {peak:.0} MiB",
        with_tails / without_tails,
        slowest.as_secs_f64()
    );
    assert!(peak < RSS_BOUND_MIB, "server peak RSS {peak:.0} MiB");
}
