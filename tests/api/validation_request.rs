//! Request-level rules of `POST /publish`: batches are all-or-nothing, sizes are limited, and
//! every client mistake gets a 4xx with a JSON body, never a 500.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, ApiApp};

/// Proves one invalid event rejects the whole batch, with the index of the culprit, and that
/// none of the valid events around it is stored.
#[tokio::test]
async fn one_invalid_event_in_a_batch_rejects_the_whole_request() {
    // Arrange
    let app = spawn_app().await;
    let mut bad = app.event("orders", "3");
    bad["topic"] = json!("");
    let batch = json!({"events": [
        app.event("orders", "1"),
        app.event("orders", "2"),
        bad,
        app.event("orders", "4"),
    ]});

    // Act
    let (status, body) = app.publish(&batch).await;

    // Assert
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["details"],
        json!([{"index": 2, "field": "topic", "reason": "must not be empty"}])
    );
    app.assert_nothing_stored().await;
}

/// Proves an element of a batch that is not an object is reported at its index.
#[tokio::test]
async fn a_batch_element_that_is_not_an_object_is_reported_at_its_index() {
    let app = spawn_app().await;
    let (status, body) = app.publish(&json!([app.event("a", "1"), 5])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["details"],
        json!([{"index": 1, "field": "event", "reason": "must be a JSON object"}])
    );
    app.assert_nothing_stored().await;
}

/// Proves an empty batch, in both batch shapes, is a 422 naming `events`.
#[tokio::test]
async fn an_empty_batch_is_rejected() {
    let app = spawn_app().await;
    for body in [json!({"events": []}), json!([])] {
        let (status, answer) = app.publish(&body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            answer["details"],
            json!([{"index": null, "field": "events", "reason": "must contain at least one event"}])
        );
    }
    app.assert_nothing_stored().await;
}

/// Proves `limits.max_events_per_request` is enforced: the limit itself passes, one more is a
/// 422 naming `events`, and the refused batch stores nothing.
#[tokio::test]
async fn a_batch_over_the_event_limit_is_rejected_and_one_at_the_limit_is_accepted() {
    // Arrange
    let app = spawn_app_with(|config| config.limits.max_events_per_request = 5).await;
    let batch = |n: usize| {
        json!((0..n)
            .map(|i| app.event("limit", &i.to_string()))
            .collect::<Vec<_>>())
    };

    // Act
    let (over_status, over) = app.publish(&batch(6)).await;
    let rows_after_refusal = app.row_count().await;
    let (at_status, at) = app.publish(&batch(5)).await;

    // Assert
    assert_eq!(over_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        over["details"],
        json!([{"index": null, "field": "events", "reason": "at most 5 events per request (got 6)"}])
    );
    assert_eq!(rows_after_refusal, 0);
    assert_eq!(at_status, StatusCode::OK, "{at}");
    assert_eq!(app.row_count().await, 5);
}

/// Proves a body larger than `limits.max_body_bytes` is a 413 with a JSON error, stores
/// nothing, and that a body within the limit still passes.
#[tokio::test]
async fn a_body_over_the_size_limit_is_a_413_with_a_json_error() {
    // Arrange
    let app = spawn_app_with(|config| config.limits.max_body_bytes = 1024).await;
    let mut big = app.event("size", "big");
    big["payload"] = json!({"filler": "x".repeat(2048)});

    // Act
    let (status, body) = app.publish(&big).await;

    // Assert
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body,
        json!({"error": "request body larger than 1024 bytes"})
    );
    app.assert_nothing_stored().await;
    let (small_status, small) = app.publish(&app.event("size", "small")).await;
    assert_eq!(small_status, StatusCode::OK, "{small}");
}

/// Proves a body that is not JSON is a 400 with a JSON error explaining why.
#[tokio::test]
async fn malformed_json_is_a_400_with_a_json_body() {
    let app = spawn_app().await;
    for raw in [r#"{"topic": "a""#, "", "{topic: 1}", "[1,]"] {
        let (status, body) = app.publish_raw(raw).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw:?}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("malformed JSON"), "{raw:?}: {body}");
    }
    app.assert_nothing_stored().await;
}

/// Proves a JSON value that cannot hold events (string, number, boolean, null) is a 422 that
/// names the body.
#[tokio::test]
async fn a_body_that_is_a_json_scalar_is_a_422() {
    let app = spawn_app().await;
    for raw in [r#""hello""#, "42", "true", "null"] {
        let (status, body) = app.publish_raw(raw).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{raw}: {body}");
        assert_eq!(body["details"][0]["index"], Value::Null, "{raw}");
        assert_eq!(body["details"][0]["field"], "body", "{raw}");
    }
    app.assert_nothing_stored().await;
}

/// Proves no client mistake, however odd, makes the server answer 5xx or a non-JSON body, and
/// that none of them stores anything.
#[tokio::test]
async fn no_client_mistake_is_answered_with_a_server_error() {
    // Arrange
    let app = spawn_app().await;
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let mistakes: Vec<Vec<u8>> = [
        "[null]",
        "[[]]",
        r#"{"events": "x"}"#,
        r#"{"events": {"events": []}}"#,
        r#"{"events": [[{"topic": "a"}]]}"#,
        r#"{"topic": {"a": 1}, "event_id": [], "timestamp": {}, "source": [], "payload": 1}"#,
        r#"{"topic": "a", "topic": "b"}"#,
        r#"{"events": [], "events": []}"#,
        r#"{"timestamp": "9999999-01-01T00:00:00Z"}"#,
        r#"{"timestamp": 1e400}"#,
        "\u{feff}{}",
        // Valid JSON whose values the database cannot hold; these once made the commit fail.
        r#"{"topic": "t", "event_id": "1", "timestamp": "-262000-01-01T00:00:00", "source": "s"}"#,
        r#"{"topic": "t", "event_id": "2", "timestamp": "2024-05-01T12:00:00Z", "source": "\u0000"}"#,
        &deep,
    ]
    .iter()
    .map(|text| text.as_bytes().to_vec())
    .chain([vec![0xff, 0xfe, b'{', b'}'], b"{\"topic\": \"\xff\"}".to_vec()])
    .collect();

    for body in mistakes {
        // Act
        let (status, answer) = app.publish_raw(body.clone()).await;

        // Assert
        let shown: String = String::from_utf8_lossy(&body).chars().take(60).collect();
        assert!(status.is_client_error(), "{shown:?} got {status}: {answer}");
        assert!(answer["error"].is_string(), "{shown:?}: {answer}");
    }
    app.assert_nothing_stored().await;
}
