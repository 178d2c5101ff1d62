//! `POST /publish` of one event: stored once, visible in `/events`, counted in `/stats`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, ApiApp, EVENT_TIMESTAMP};

/// Proves that one published event is acknowledged as new, stored as exactly one row, listed by
/// `/events` with every field as sent, and counted once by `/stats`.
#[tokio::test]
async fn a_single_published_event_is_stored_once_listed_and_counted() {
    // Arrange
    let app = spawn_app().await;
    let event = app.event("payments", "evt-1");

    // Act
    let (status, answer) = app.publish(&event).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({
            "status": "accepted",
            "received": 1,
            "unique_processed": 1,
            "duplicate_dropped": 0,
            "results": [{"topic": "payments", "event_id": "evt-1", "outcome": "new"}],
        })
    );
    assert_eq!(app.row_count().await, 1);

    let (status, page) = app.events("").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["count"], 1);
    assert_eq!(page["next_cursor"], json!(null));
    let listed = &page["events"][0];
    assert_eq!(listed["topic"], "payments");
    assert_eq!(listed["event_id"], "evt-1");
    assert_eq!(listed["source"], "test-suite");
    assert_eq!(listed["timestamp"], EVENT_TIMESTAMP);
    assert_eq!(listed["payload"], event["payload"]);
    assert!(listed["seq"].is_i64(), "seq missing: {listed}");
    assert!(
        listed["received_at"].is_string(),
        "received_at missing: {listed}"
    );

    let stats = app.stats_json().await;
    assert_eq!(stats["received"], 1);
    assert_eq!(stats["unique_processed"], 1);
    assert_eq!(stats["duplicate_dropped"], 0);
    assert_eq!(stats["topics"], json!(["payments"]));
}

/// Proves that an answer is only given after the commit: a row is readable straight from the
/// database the moment the publish returns, with no waiting.
#[tokio::test]
async fn an_acknowledged_event_is_already_in_the_database_when_publish_returns() {
    // Arrange
    let app = spawn_app().await;
    let db = app.db.client().await;

    // Act
    app.publish_ok(&app.event("orders", "o-1")).await;

    // Assert
    let row = db
        .query_one(
            "SELECT topic, event_id, source FROM events WHERE topic = 'orders'",
            &[],
        )
        .await
        .expect("the acknowledged row exists");
    assert_eq!(row.get::<_, String>(0), "orders");
    assert_eq!(row.get::<_, String>(1), "o-1");
    assert_eq!(row.get::<_, String>(2), "test-suite");
}
