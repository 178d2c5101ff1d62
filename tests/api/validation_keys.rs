//! Validation of the two halves of an event's identity, `topic` and `event_id`: each rule gives
//! a 422 that names the field and the reason, and nothing is stored.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, ApiApp};

const KEY_FIELDS: [&str; 2] = ["topic", "event_id"];

/// Proves a topic or event id that is absent or `null` is reported as required.
#[tokio::test]
async fn a_missing_or_null_topic_or_event_id_is_required() {
    let app = spawn_app().await;
    for field in KEY_FIELDS {
        app.assert_field_rejected(field, None, "is required").await;
        app.assert_field_rejected(field, Some(json!(null)), "is required")
            .await;
    }
}

/// Proves an empty topic or event id is rejected.
#[tokio::test]
async fn an_empty_topic_or_event_id_is_rejected() {
    let app = spawn_app().await;
    for field in KEY_FIELDS {
        app.assert_field_rejected(field, Some(json!("")), "must not be empty")
            .await;
    }
}

/// Proves a topic or event id that is a number, a boolean, an object or an array is a type
/// error (422), not a malformed body (400) and not coerced to a string.
#[tokio::test]
async fn a_non_string_topic_or_event_id_is_rejected() {
    let app = spawn_app().await;
    for field in KEY_FIELDS {
        for value in [json!(42), json!(true), json!({"a": 1}), json!(["x"])] {
            app.assert_field_rejected(field, Some(value), "must be a string")
                .await;
        }
    }
}

/// Proves the 255-character limit on each key: 256 characters are rejected with the length.
#[tokio::test]
async fn a_topic_or_event_id_of_256_characters_is_rejected() {
    let app = spawn_app().await;
    for field in KEY_FIELDS {
        let too_long = json!("x".repeat(256));
        app.assert_field_rejected(
            field,
            Some(too_long),
            "must be at most 255 characters (got 256)",
        )
        .await;
    }
}

/// Proves 255 characters (multi-byte ones included: the limit counts characters, not bytes)
/// are accepted and stored unchanged.
#[tokio::test]
async fn a_topic_and_event_id_of_255_characters_are_accepted() {
    // Arrange
    let app = spawn_app().await;
    let topic = "t".repeat(254) + "é";
    let event_id = "订".repeat(255);

    // Act
    let answer = app.publish_ok(&app.event(&topic, &event_id)).await;

    // Assert
    assert_eq!(answer["results"][0]["outcome"], "new");
    let row = app
        .db
        .client()
        .await
        .query_one("SELECT topic, event_id FROM events", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), topic);
    assert_eq!(row.get::<_, String>(1), event_id);
}

/// Proves control characters (newline, tab, NUL, DEL, C1) in a key are rejected.
#[tokio::test]
async fn a_topic_or_event_id_with_a_control_character_is_rejected() {
    let app = spawn_app().await;
    for field in KEY_FIELDS {
        for value in ["a\nb", "a\tb", "nul\u{0}", "del\u{7f}", "c1\u{85}"] {
            app.assert_field_rejected(
                field,
                Some(json!(value)),
                "must not contain control characters",
            )
            .await;
        }
    }
}

/// Proves every problem of an event is reported at once, in field order, not just the first.
#[tokio::test]
async fn every_invalid_field_of_an_event_is_reported_at_once() {
    // Arrange
    let app = spawn_app().await;
    let event = json!({"topic": "", "event_id": 7, "timestamp": "soon", "payload": [1]});

    // Act
    let (status, body) = app.publish(&event).await;

    // Assert
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| issue["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["topic", "event_id", "source", "timestamp", "payload"]
    );
    app.assert_nothing_stored().await;
}
