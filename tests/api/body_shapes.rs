//! The three accepted shapes of a publish body: one object, `{"events": [...]}`, a bare array.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{event, outcomes, result_keys, spawn_app, ApiApp};

/// Publishes `body` to a fresh app and checks it stored exactly `expected_keys`, in that order.
async fn assert_stores(body: Value, expected_keys: &[(&str, &str)]) {
    // Arrange
    let app = spawn_app().await;

    // Act
    let (status, answer) = app.publish(&body).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["received"], expected_keys.len());
    assert_eq!(answer["unique_processed"], expected_keys.len());
    let expected: Vec<(String, String)> = expected_keys
        .iter()
        .map(|(topic, id)| (topic.to_string(), id.to_string()))
        .collect();
    assert_eq!(result_keys(&answer), expected);
    assert!(
        outcomes(&answer).iter().all(|outcome| outcome == "new"),
        "{answer}"
    );
    assert_eq!(app.row_count().await, expected_keys.len() as i64);
}

/// Proves a lone event object is accepted as a batch of one.
#[tokio::test]
async fn a_single_event_object_is_accepted() {
    assert_stores(event("shape", "single"), &[("shape", "single")]).await;
}

/// Proves the `{"events": [...]}` envelope is accepted and its events kept in order.
#[tokio::test]
async fn an_events_envelope_is_accepted() {
    let body = json!({"events": [
        event("shape", "env-2"),
        event("other", "env-1"),
    ]});
    assert_stores(body, &[("shape", "env-2"), ("other", "env-1")]).await;
}

/// Proves a bare JSON array of events is accepted and its events kept in order.
#[tokio::test]
async fn a_bare_array_of_events_is_accepted() {
    let body = json!([
        event("shape", "arr-2"),
        event("shape", "arr-1"),
        event("third", "arr-3"),
    ]);
    assert_stores(
        body,
        &[("shape", "arr-2"), ("shape", "arr-1"), ("third", "arr-3")],
    )
    .await;
}

/// Proves fields the API does not know are ignored rather than rejected, in both the event and
/// the envelope, so that publishers can send extra metadata.
#[tokio::test]
async fn unknown_fields_are_ignored() {
    let mut inner = event("shape", "extra");
    inner["trace_id"] = json!("abc");
    let body = json!({"events": [inner], "batch_id": 7});
    assert_stores(body, &[("shape", "extra")]).await;
}
