//! Readers following a topic while several processes write it: with `seq` taken at insert
//! time, a commit that took a lower `seq` can become visible after a reader paged past a higher
//! one committed by another process, and that reader never sees it. This test follows every
//! topic with a pager while three real processes write the same topics.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{start_instances_with, Key, Listed, Page, TestDb};
use aggregator::client::workload::WorkloadOptions;
use aggregator::client::{RetryPolicy, Stream, StreamConfig};

const TOPICS: [&str; 3] = ["orders", "payments", "auth"];

/// What a pager saw of its topic.
#[derive(Default)]
struct Followed {
    keys: Vec<Key>,
    repeats: usize,
    out_of_order: usize,
}

/// The cursor just after `event` (the server's cursor format: `<seq>.<hex of the topic>`).
fn cursor_after(event: &Listed) -> String {
    let hex: String = event.topic.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{}.{hex}", event.seq)
}

/// Follows `topic` on `base_url` from the start, as a tailing reader would, until `done` is
/// set and a last pass finds nothing new.
async fn follow(base_url: String, topic: &'static str, done: Arc<AtomicBool>) -> Followed {
    let http = reqwest::Client::new();
    let mut followed = Followed::default();
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut last_seq = i64::MIN;
    loop {
        let writers_done = done.load(Ordering::SeqCst);
        let mut request = http
            .get(format!("{base_url}/events"))
            .query(&[("topic", topic), ("limit", "1000")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let page: Page = request.send().await.unwrap().json().await.unwrap();
        let got_some = !page.events.is_empty();
        for event in &page.events {
            if event.seq <= last_seq {
                followed.out_of_order += 1;
            }
            last_seq = last_seq.max(event.seq);
            let key = (event.topic.clone(), event.event_id.clone());
            if !seen.insert(key.clone()) {
                followed.repeats += 1;
            }
            followed.keys.push(key);
        }
        if let Some(last) = page.events.last() {
            cursor = Some(page.next_cursor.unwrap_or_else(|| cursor_after(last)));
        }
        if writers_done && !got_some {
            return followed;
        }
        if !got_some {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Proves guarantee 8 across processes: three processes write the same three topics at once
/// while a pager follows each topic through one of them; every pager sees every acknowledged
/// event of its topic exactly once, in `seq` order. Each process runs up to three commits of a
/// shard at once (`--commits-in-flight 3`), so overlapping commits inside one process are
/// ordered by the same means as those of different processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagers_see_every_event_once_while_three_processes_write_the_same_topics() {
    // Arrange
    let db = TestDb::create().await;
    let logs = tempfile::tempdir().unwrap();
    let processes = start_instances_with(
        &db,
        &["a", "b", "c"],
        logs.path(),
        &["--commits-in-flight", "3"],
    )
    .await;
    let done = Arc::new(AtomicBool::new(false));
    let pagers: Vec<_> = TOPICS
        .iter()
        .enumerate()
        .map(|(index, topic)| {
            let base_url = processes[index % processes.len()].base_url.clone();
            tokio::spawn(follow(base_url, topic, done.clone()))
        })
        .collect();
    let config = StreamConfig {
        concurrency: 4,
        retry: RetryPolicy::until_acknowledged(),
        ..StreamConfig::default()
    };

    // Act: three different streams over the same topics, one per process.
    let mut streams = Vec::new();
    for (seed, process) in processes.iter().enumerate() {
        let spec = WorkloadOptions {
            events: 15_000,
            topics: TOPICS.len() as u32,
            duplicate_ratio: 0.1,
            batch_size: 20,
            seed: Some(0x0DE2 + seed as u64),
            ..WorkloadOptions::default()
        }
        .spec('p');
        streams.push(Stream::start(&process.base_url, spec, config.clone()).unwrap());
    }
    let mut acked: HashSet<Key> = HashSet::new();
    for stream in streams {
        let report = stream
            .finish_within(Duration::from_secs(180))
            .await
            .unwrap();
        acked.extend(report.acked_keys());
    }
    done.store(true, Ordering::SeqCst);
    let mut followed: HashMap<&str, Followed> = HashMap::new();
    for (topic, pager) in TOPICS.iter().zip(pagers) {
        followed.insert(topic, pager.await.unwrap());
    }

    // Assert
    let stored = db.keys().await;
    let mut missed_total = 0;
    for topic in TOPICS {
        let seen = &followed[topic];
        let seen_keys: HashSet<&Key> = seen.keys.iter().collect();
        let stored_in_topic: HashSet<&Key> = stored.iter().filter(|(t, _)| t == topic).collect();
        let missed = stored_in_topic.difference(&seen_keys).count();
        missed_total += missed;
        eprintln!(
            "ordered paging: topic {topic}: {} stored, {} seen, {missed} missed, {} repeated, \
             {} out of order",
            stored_in_topic.len(),
            seen.keys.len(),
            seen.repeats,
            seen.out_of_order
        );
        assert_eq!(seen.repeats, 0, "{topic}: a pager saw an event twice");
        assert_eq!(seen.out_of_order, 0, "{topic}: seq went backwards");
    }
    assert!(acked.iter().all(|key| stored.contains(key)));
    assert_eq!(missed_total, 0, "pagers missed committed events");
    for process in processes {
        process.kill9().await;
    }
}
