//! Unit tests of the stats actor: counters loaded at start, newest snapshot per shard wins,
//! restarts counted with their durations, topics paged and counted inside topic prefixes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{call, Actor, ActorRef};

use super::{CommitDelta, StatsActor, StatsArgs, StatsMsg, StatsSnapshot};
use crate::actors::test_support::event;
use crate::event::TopicPrefixes;
use crate::store::memory::MemoryStore;
use crate::store::{CommitBatch, Ingest, ShardCounters};

async fn spawn_stats(store: &MemoryStore, shard_count: u32) -> ActorRef<StatsMsg> {
    let args = StatsArgs {
        store: Arc::new(store.clone()),
        shard_count,
        started_at: Instant::now(),
    };
    Actor::spawn(None, StatsActor, args).await.unwrap().0
}

async fn snapshot(stats: &ActorRef<StatsMsg>) -> StatsSnapshot {
    call!(stats, StatsMsg::Snapshot, TopicPrefixes::any()).unwrap()
}

/// One page of `GET /topics` as the HTTP layer asks for it.
async fn topics(
    stats: &ActorRef<StatsMsg>,
    after: Option<&str>,
    limit: usize,
    prefixes: &TopicPrefixes,
) -> Vec<String> {
    call!(stats, |reply| StatsMsg::Topics {
        after: after.map(str::to_owned),
        limit,
        prefixes: prefixes.clone(),
        reply
    })
    .unwrap()
}

/// Reports a commit of `topics` on shard 0.
fn committed(stats: &ActorRef<StatsMsg>, topics: &[String]) {
    let count = topics.len() as u64;
    stats
        .send_message(StatsMsg::Committed(CommitDelta {
            shard: 0,
            counters_after: counters(count, count),
            topics: topics.to_vec(),
            fastpath_hits: 0,
        }))
        .unwrap();
}

fn counters(received: u64, unique_processed: u64) -> ShardCounters {
    ShardCounters {
        received,
        unique_processed,
        duplicate_dropped: received - unique_processed,
    }
}

#[tokio::test]
async fn counters_and_topics_are_loaded_from_the_store_at_start() {
    let store = MemoryStore::new();
    let (a, b) = (event("orders", "1"), event("auth", "2"));
    let candidates = [&a, &b];
    store
        .commit(CommitBatch {
            shard: 1,
            candidates: &candidates,
            received: 3,
        })
        .await
        .unwrap();

    let stats = snapshot(&spawn_stats(&store, 2).await).await;

    assert_eq!(stats.totals, counters(3, 2));
    assert_eq!(stats.topics, vec!["auth".to_string(), "orders".to_string()]);
    assert_eq!(stats.shards.len(), 2, "idle shards are listed too");
    assert_eq!(stats.shards[1].counters, counters(3, 2));
}

#[tokio::test]
async fn an_older_snapshot_of_a_shard_never_replaces_a_newer_one() {
    let stats = spawn_stats(&MemoryStore::new(), 1).await;
    let report = |received, unique| {
        StatsMsg::Committed(CommitDelta {
            shard: 0,
            counters_after: counters(received, unique),
            topics: vec!["t".into()],
            fastpath_hits: 1,
        })
    };

    stats.send_message(report(10, 7)).unwrap();
    stats.send_message(report(5, 5)).unwrap();

    let snapshot = snapshot(&stats).await;
    assert_eq!(snapshot.totals, counters(10, 7));
    assert_eq!(snapshot.topics, vec!["t".to_string()]);
    assert_eq!(snapshot.shards[0].fastpath_hits, 2);
}

#[tokio::test]
async fn restarts_are_counted_per_shard_with_their_median_and_maximum() {
    let stats = spawn_stats(&MemoryStore::new(), 2).await;

    for millis in [1, 3, 2] {
        let took = Duration::from_millis(millis);
        stats
            .send_message(StatsMsg::ShardRestarted { shard: 1, took })
            .unwrap();
    }

    let snapshot = snapshot(&stats).await;
    assert_eq!(snapshot.shards[0].restarts, 0);
    assert_eq!(snapshot.shards[1].restarts, 3);
    let latency = snapshot.restart_latency.unwrap();
    assert_eq!(latency.samples, 3);
    assert_eq!(latency.median, Duration::from_millis(2));
    assert_eq!(latency.max, Duration::from_millis(3));
}

#[tokio::test]
async fn a_snapshot_lists_the_first_thousand_topics_and_counts_them_all() {
    let stats = spawn_stats(&MemoryStore::new(), 1).await;
    let topics: Vec<String> = (0..1_005).map(|n| format!("topic-{n:05}")).collect();
    stats
        .send_message(StatsMsg::Committed(CommitDelta {
            shard: 0,
            counters_after: counters(1_005, 1_005),
            topics: topics.clone(),
            fastpath_hits: 0,
        }))
        .unwrap();

    let snapshot = snapshot(&stats).await;
    let tail = self::topics(&stats, Some(&topics[999]), 10, &TopicPrefixes::any()).await;

    assert_eq!(snapshot.topics_total, 1_005);
    assert_eq!(snapshot.topics, topics[..1_000].to_vec());
    assert_eq!(tail, topics[1_000..].to_vec());
}

#[tokio::test]
async fn topic_pages_hold_only_topics_inside_the_prefixes_and_are_full_until_the_last() {
    let stats = spawn_stats(&MemoryStore::new(), 1).await;
    // Topics outside the prefixes sort before, between and after the ones inside.
    let mut all: Vec<String> = Vec::new();
    for n in 0..5 {
        all.extend(
            ["audit.", "orders.", "orders", "p.", "payments.", "zeta."].map(|p| format!("{p}{n}")),
        );
    }
    committed(&stats, &all);
    let grant = TopicPrefixes::new(["payments.".to_string(), "orders.".to_string()]);
    let mut inside: Vec<String> = all.iter().filter(|t| grant.contains(t)).cloned().collect();
    inside.sort();

    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = topics(&stats, after.as_deref(), 3, &grant).await;
        let Some(last) = page.last() else { break };
        after = Some(last.clone());
        pages.push(page);
        assert!(pages.len() <= inside.len(), "paging does not end");
    }

    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 3, 1]);
    assert_eq!(pages.concat(), inside);
}

#[tokio::test]
async fn a_snapshot_lists_and_counts_only_the_topics_inside_its_prefixes() {
    let stats = spawn_stats(&MemoryStore::new(), 1).await;
    let all: Vec<String> = (0..1_500)
        .map(|n| format!("{}.{n:05}", if n % 3 == 0 { "audit" } else { "orders" }))
        .collect();
    committed(&stats, &all);
    let grant = TopicPrefixes::new(["orders.".to_string()]);

    let restricted = call!(stats, StatsMsg::Snapshot, grant.clone()).unwrap();
    let everything = snapshot(&stats).await;

    assert_eq!(restricted.topics_total, 1_000);
    assert_eq!(restricted.topics.len(), 1_000);
    assert!(restricted.topics.iter().all(|topic| grant.contains(topic)));
    assert_eq!(
        restricted.totals, everything.totals,
        "counters are the whole store's"
    );
    assert_eq!(everything.topics_total, 1_500);
}
