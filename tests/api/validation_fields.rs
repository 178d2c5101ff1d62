//! Validation of `source`, `timestamp` and `payload`, and how accepted values are stored.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ApiApp, TestApp};

const BAD_TIMESTAMP: &str = "must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z";

/// Publishes a valid event with `field` replaced by raw JSON text and returns the stored event
/// as `/events` lists it, plus the payload text as the database holds it.
async fn store_with(app: &TestApp, field: &str, raw_value: Option<&str>) -> (Value, String) {
    let mut event = app.event("topic", "id");
    event.as_object_mut().unwrap().remove(field);
    let mut text = serde_json::to_string(&event).unwrap();
    if let Some(raw_value) = raw_value {
        text.pop(); // the closing brace
        text.push_str(&format!(r#","{field}":{raw_value}}}"#));
    }
    let (status, answer) = app.publish_raw(text).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, page) = app.events("").await;
    assert_eq!(status, StatusCode::OK);
    let row = app
        .db
        .client()
        .await
        .query_one("SELECT payload::text FROM events", &[])
        .await
        .unwrap();
    (page["events"][0].clone(), row.get(0))
}

/// Proves an absent, empty or blank source is rejected.
#[tokio::test]
async fn a_missing_or_empty_source_is_rejected() {
    let app = spawn_app().await;
    app.assert_field_rejected("source", None, "is required")
        .await;
    app.assert_field_rejected("source", Some(json!(null)), "is required")
        .await;
    app.assert_field_rejected("source", Some(json!("")), "must not be empty")
        .await;
    app.assert_field_rejected("source", Some(json!("   ")), "must not be empty")
        .await;
    app.assert_field_rejected("source", Some(json!(3)), "must be a string")
        .await;
}

/// Proves a source with a control character is rejected (a NUL cannot even be stored in a
/// PostgreSQL text column, which once turned this client mistake into a 503).
#[tokio::test]
async fn a_source_with_a_control_character_is_rejected() {
    let app = spawn_app().await;
    for value in ["nul\u{0}byte", "two\nlines"] {
        let reason = "must not contain control characters";
        app.assert_field_rejected("source", Some(json!(value)), reason)
            .await;
    }
}

/// Proves an absent, unparseable or non-string timestamp is rejected.
#[tokio::test]
async fn a_missing_or_garbage_timestamp_is_rejected() {
    let app = spawn_app().await;
    app.assert_field_rejected("timestamp", None, "is required")
        .await;
    for garbage in [
        "",
        "yesterday",
        "2024-13-01T00:00:00Z",
        "2024-05-01",
        "1714564800",
    ] {
        app.assert_field_rejected("timestamp", Some(json!(garbage)), BAD_TIMESTAMP)
            .await;
    }
    // Outside the four-digit years of RFC 3339; one of them once made the database fail (503).
    for garbage in [
        "-262000-01-01T00:00:00",
        "+262000-01-01T00:00:00",
        "10000-01-01T00:00:00",
    ] {
        app.assert_field_rejected("timestamp", Some(json!(garbage)), BAD_TIMESTAMP)
            .await;
    }
    app.assert_field_rejected("timestamp", Some(json!(1714564800)), "must be a string")
        .await;
}

/// Proves a timestamp without an offset is taken as UTC, and one with an offset is normalised
/// to UTC.
#[tokio::test]
async fn timestamps_without_an_offset_are_utc_and_offsets_are_normalised() {
    // Arrange
    let app = spawn_app().await;
    let mut naive = app.event("time", "naive");
    naive["timestamp"] = json!("2024-05-01T12:00:00.250");
    let mut offset = app.event("time", "offset");
    offset["timestamp"] = json!("2024-05-01T14:00:00+02:00");

    // Act
    app.publish_ok(&json!([naive, offset])).await;

    // Assert
    let (_, page) = app.events("topic=time").await;
    let timestamp_of = |id: &str| {
        let events = page["events"].as_array().unwrap();
        let event = events
            .iter()
            .find(|e| e["event_id"] == id)
            .expect("event listed");
        event["timestamp"].clone()
    };
    assert_eq!(timestamp_of("naive"), "2024-05-01T12:00:00.250Z");
    assert_eq!(timestamp_of("offset"), "2024-05-01T12:00:00Z");
}

/// Proves a payload that is not an object (array, string, number, boolean) is rejected.
#[tokio::test]
async fn a_payload_that_is_not_an_object_is_rejected() {
    let app = spawn_app().await;
    for value in [json!([1, 2]), json!("text"), json!(12.5), json!(false)] {
        app.assert_field_rejected("payload", Some(value), "must be a JSON object")
            .await;
    }
}

/// Proves an absent payload is stored and listed as `{}`.
#[tokio::test]
async fn an_absent_payload_is_stored_as_an_empty_object() {
    let app = spawn_app().await;
    let (listed, stored) = store_with(&app, "payload", None).await;
    assert_eq!(listed["payload"], json!({}));
    assert_eq!(stored, "{}");
}

/// Proves a `null` payload is stored and listed as `{}`.
#[tokio::test]
async fn a_null_payload_is_stored_as_an_empty_object() {
    let app = spawn_app().await;
    let (listed, stored) = store_with(&app, "payload", Some("null")).await;
    assert_eq!(listed["payload"], json!({}));
    assert_eq!(stored, "{}");
}

/// Proves the payload is kept byte for byte: odd spacing, key order and `1.0` survive both in
/// the database and in the `/events` answer.
#[tokio::test]
async fn the_payload_is_returned_byte_for_byte_as_sent() {
    // Arrange
    let app = spawn_app().await;
    let payload = r#"{"b": 1,  "a":[1.0], "s":"\u00e9"}"#;

    // Act
    let (_, stored) = store_with(&app, "payload", Some(payload)).await;
    let text = app
        .client
        .get(app.url("/events"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    // Assert
    assert_eq!(stored, payload);
    assert!(
        text.contains(&format!(r#""payload":{payload}"#)),
        "payload altered: {text}"
    );
}
