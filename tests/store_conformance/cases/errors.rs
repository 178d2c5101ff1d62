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
