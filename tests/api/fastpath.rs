//! The shard fast path: re-sends of recently committed keys are answered from memory, exactly
//! as the database would have answered them, and a cold fast path (after a restart) never
//! claims anything it has not seen committed.

use aggregator::client::ServerStats;
use serde_json::{json, Value};

use crate::helpers::{event, outcomes, spawn_app, spawn_app_with, ApiApp};

fn batch(topic: &str, ids: std::ops::Range<u32>) -> Value {
    let events: Vec<Value> = ids.map(|id| event(topic, &format!("evt-{id}"))).collect();
    json!({ "events": events })
}

fn fastpath_hits(stats: &ServerStats) -> u64 {
    stats.shards.iter().map(|shard| shard.fastpath_hits).sum()
}

/// Proves a re-sent batch is answered "duplicate" by the fast path (no index probe), and that
/// the counters still account for it exactly.
#[tokio::test]
async fn a_resent_batch_is_answered_from_the_fast_path_with_exact_counters() {
    // Arrange
    let app = spawn_app().await;
    app.publish_ok(&batch("orders", 0..50)).await;
    assert_eq!(fastpath_hits(&app.stats().await), 0);

    // Act
    let resent = app.publish_ok(&batch("orders", 0..50)).await;

    // Assert
    assert!(outcomes(&resent)
        .iter()
        .all(|outcome| outcome == "duplicate"));
    let stats = app.stats().await;
    assert_eq!(fastpath_hits(&stats), 50);
    assert_eq!(stats.received, 100);
    assert_eq!(stats.unique_processed, 50);
    assert_eq!(stats.duplicate_dropped, 50);
    assert_eq!(app.row_count().await, 50);
}

/// Proves a mixed batch gets exact outcomes: known keys from memory, unknown keys from the
/// database, in request order.
#[tokio::test]
async fn a_batch_mixing_known_and_new_keys_gets_exact_outcomes_in_order() {
    // Arrange
    let app = spawn_app().await;
    app.publish_ok(&batch("orders", 0..2)).await;

    // Act
    let mixed = app
        .publish_ok(&json!({"events": [
            event("orders", "evt-0"),
            event("orders", "evt-9"),
            event("orders", "evt-1"),
            event("orders", "evt-9"),
        ]}))
        .await;

    // Assert
    assert_eq!(
        outcomes(&mixed),
        ["duplicate", "new", "duplicate", "duplicate"]
    );
    assert_eq!(fastpath_hits(&app.stats().await), 2);
    assert_eq!(app.row_count().await, 3);
}

/// Proves that with the fast path turned off every answer still comes from the database, and
/// that after a restart (a cold fast path) re-sends are still duplicates, decided by the store.
#[tokio::test]
async fn without_or_before_a_warm_fast_path_the_database_decides() {
    // Arrange
    let mut app = spawn_app_with(|config| config.tree.fastpath_keys = 0).await;
    app.publish_ok(&batch("orders", 0..10)).await;

    // Act
    let resent_without_fast_path = app.publish_ok(&batch("orders", 0..10)).await;
    app.restart().await;
    let resent_after_restart = app.publish_ok(&batch("orders", 0..10)).await;

    // Assert
    for answer in [&resent_without_fast_path, &resent_after_restart] {
        assert!(outcomes(answer)
            .iter()
            .all(|outcome| outcome == "duplicate"));
    }
    assert_eq!(fastpath_hits(&app.stats().await), 0);
    assert_eq!(app.row_count().await, 10);
}
