//! Cases about what the store reads back for a resync, and how it classifies its failures.

use aggregator::event::Event;
use aggregator::store::{CommitBatch, ShardCounters, StoreError};

use crate::backends::Backend;
use crate::fixtures::{commit_received, event, event_with};

pub async fn own_counters_are_the_shard_row_as_committed(backend: Backend) {
    let store = backend.open().await;
    assert_eq!(
        store.own_counters(3).await.unwrap(),
        ShardCounters::default(),
        "a shard that never committed reads zeros"
    );

    commit_received(&store, 3, &[event("t", "1"), event("t", "2")], 5).await;
    commit_received(&store, 4, &[event("t", "3")], 1).await;

    let row = store.own_counters(3).await.unwrap();
    assert_eq!(
        (row.received, row.unique_processed, row.duplicate_dropped),
        (5, 2, 3)
    );
}

/// PostgreSQL refuses a text value holding NUL (SQLSTATE class 22) for the whole statement:
/// the store must say the input is at fault (`Rejected`), never that a retry may help, and
/// nothing of the commit may land.
pub async fn a_value_postgres_cannot_hold_is_rejected_not_transient(backend: Backend) {
    let store = backend.open().await;
    let good = event("t", "good");
    let poison: Event = event_with("t", "poison", good.timestamp, "svc\u{0}", r#"{"n":1}"#);
    let candidates = [&good, &poison];

    let result = store
        .commit(CommitBatch {
            shard: 0,
            candidates: &candidates,
            received: 2,
        })
        .await;

    let err = result.expect_err("postgres stored a NUL");
    assert!(matches!(err, StoreError::Rejected(_)), "{err:?}");
    assert_eq!(err.cause().code.as_deref(), Some("22021"), "{err}");
    assert_eq!(store.own_counters(0).await.unwrap().received, 0);
}

/// The cluster view of PostgreSQL: this instance's heartbeat makes it listed and alive, topics
/// come once each after the cursor, and counters sum every instance.
pub async fn the_cluster_view_lists_instances_and_new_topics_after_a_cursor(backend: Backend) {
    let store = backend.open().await;
    commit_received(&store, 0, &[event("b", "1"), event("a", "1")], 2).await;

    let first = store.cluster_view(0).await.unwrap();
    commit_received(&store, 1, &[event("c", "1"), event("a", "2")], 2).await;
    let second = store.cluster_view(first.topics_cursor).await.unwrap();

    let mut first_topics = first.new_topics.clone();
    first_topics.sort();
    assert_eq!(first_topics, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(second.new_topics, vec!["c".to_string()]);
    assert_eq!(first.instances.len(), 1);
    assert!(first.instances[0].alive);
    let received: u64 = second.shards.iter().map(|row| row.total.received).sum();
    assert_eq!(received, 4);
}
