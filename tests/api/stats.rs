//! `GET /stats`: topics, uptime and the shape of the document.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::wait::wait_until;
use crate::helpers::{spawn_app, ApiApp};

/// Proves `topics` lists every topic with a stored event exactly once, sorted, whatever the
/// order of publishing, and that topics of rejected requests do not appear.
#[tokio::test]
async fn stats_topics_are_sorted_and_complete() {
    // Arrange
    let app = spawn_app().await;
    let topics = [
        "zeta",
        "alpha",
        "Mid",
        "beta-2",
        "beta-10",
        "ünïcode",
        "alpha",
    ];
    for (i, topic) in topics.iter().enumerate() {
        app.publish_ok(&app.event(topic, &i.to_string())).await;
    }
    let mut rejected = app.event("never-stored", "1");
    rejected["source"] = json!("");
    app.publish(&rejected).await;

    // Act
    let stats = app.stats_json().await;

    // Assert
    let mut expected: Vec<&str> = topics.to_vec();
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(stats["topics"], json!(expected));
}

/// The `uptime_seconds` of a `/stats` document.
fn uptime(stats: &Value) -> f64 {
    stats["uptime_seconds"]
        .as_f64()
        .expect("uptime is a number")
}

/// Proves the document carries uptime, the backend and one entry per shard, and that uptime
/// moves forward.
#[tokio::test]
async fn stats_report_uptime_store_and_every_shard() {
    // Arrange
    let app = spawn_app().await;
    let first = app.stats_json().await;

    // Act
    let moved = wait_until(
        || async { uptime(&app.stats_json().await) > uptime(&first) },
        Duration::from_secs(2),
    )
    .await;
    let second = app.stats_json().await;

    // Assert
    assert!(uptime(&first) >= 0.0, "{first}");
    assert!(moved, "uptime stayed at {}", uptime(&first));
    assert_eq!(second["store"], "postgres");
    let shards = second["shards"].as_array().unwrap();
    let indexes: Vec<u64> = shards
        .iter()
        .map(|s| s["shard"].as_u64().unwrap())
        .collect();
    assert_eq!(
        indexes,
        (0..u64::from(app.config.tree.shards)).collect::<Vec<_>>()
    );
    assert!(
        shards
            .iter()
            .all(|s| s["restarts"] == 0 && s["received"] == 0),
        "{second}"
    );
}
