//! What survives a graceful restart on the same database: deduplication, counters, topics.

use serde_json::json;

use crate::helpers::{outcomes, spawn_app, ApiApp};

/// Proves that after a restart a re-sent event is still a duplicate, a new one is still new,
/// and `/stats` continues from the persisted counters instead of starting from zero.
#[tokio::test]
async fn counters_and_deduplication_survive_a_restart_on_the_same_database() {
    // Arrange
    let mut app = spawn_app().await;
    let batch = json!([
        app.event("zeta", "1"),
        app.event("alpha", "1"),
        app.event("alpha", "2"),
        app.event("zeta", "1"),
    ]);
    app.publish_ok(&batch).await;
    let before = app.stats_json().await;
    assert_eq!(
        (
            &before["received"],
            &before["unique_processed"],
            &before["duplicate_dropped"]
        ),
        (&json!(4), &json!(3), &json!(1))
    );
    let old_address = app.base_url.clone();

    // Act
    app.restart().await;
    let resent = app.publish_ok(&app.event("alpha", "2")).await;
    let fresh = app.publish_ok(&app.event("beta", "1")).await;

    // Assert
    assert_ne!(app.base_url, old_address, "a new app was started");
    assert_eq!(outcomes(&resent), ["duplicate"]);
    assert_eq!(outcomes(&fresh), ["new"]);
    let after = app.stats_json().await;
    assert_eq!(after["received"], 4 + 2);
    assert_eq!(after["unique_processed"], 3 + 1);
    assert_eq!(after["duplicate_dropped"], 1 + 1);
    assert_eq!(after["topics"], json!(["alpha", "beta", "zeta"]));
    assert_eq!(app.row_count().await, 4);
}

/// Proves a restart with no traffic in between reports exactly the figures of before, per shard
/// too (the counters are loaded from the store, not recounted or reset).
#[tokio::test]
async fn a_restart_without_traffic_reports_the_same_figures() {
    // Arrange
    let mut app = spawn_app().await;
    let batch: Vec<_> = (0..40)
        .map(|i| app.event(&format!("topic-{}", i % 7), &format!("id-{}", i % 30)))
        .collect();
    app.publish_ok(&json!(batch)).await;
    let before = app.stats_json().await;

    // Act
    app.restart().await;

    // Assert
    let after = app.stats_json().await;
    for field in [
        "received",
        "unique_processed",
        "duplicate_dropped",
        "topics",
        "shards",
    ] {
        assert_eq!(
            after[field], before[field],
            "{field} changed across the restart"
        );
    }
}
