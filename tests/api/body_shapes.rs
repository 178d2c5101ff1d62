//! The accepted shapes of a publish body: one object, `{"events": [...]}`, a bare array, and
//! NDJSON (`application/x-ndjson`, one event per line).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{event, json_response, outcomes, result_keys, spawn_app, ApiApp, TestApp};

/// `POST /publish` of `body` as `application/x-ndjson`.
async fn publish_ndjson(app: &TestApp, body: String) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/publish"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("POST sent");
    json_response(response).await
}

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

/// Proves an NDJSON body is answered exactly like the JSON array of the same events: one result
/// per event in order, duplicates recognised, blank lines and `\r\n` line ends tolerated.
#[tokio::test]
async fn an_ndjson_body_is_answered_like_the_array_of_its_lines() {
    // Arrange
    let app = spawn_app().await;
    let first = event("lines", "l-1");
    let second = event("lines", "l-2");
    app.publish_ok(&json!([first.clone()])).await;
    let body = format!("{first}\r\n\n{second}\n{first}");

    // Act
    let (status, answer) = publish_ndjson(&app, body).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["received"], 3);
    assert_eq!(answer["unique_processed"], 1);
    assert_eq!(outcomes(&answer), vec!["duplicate", "new", "duplicate"]);
    assert_eq!(app.row_count().await, 2);
}

/// Proves a line that is not JSON makes the body malformed (400, naming the line) and an
/// invalid event is reported at its index among the events (blank lines not counted); nothing
/// of either body is stored.
#[tokio::test]
async fn a_bad_ndjson_line_is_named_and_nothing_is_stored() {
    // Arrange
    let app = spawn_app().await;
    let good = event("lines", "ok");
    let mut no_source = event("lines", "bad");
    no_source.as_object_mut().unwrap().remove("source");

    // Act
    let (malformed, malformed_answer) = publish_ndjson(&app, format!("{good}\n{{oops\n")).await;
    let (invalid, invalid_answer) = publish_ndjson(&app, format!("{good}\n\n{no_source}\n")).await;

    // Assert
    assert_eq!(malformed, StatusCode::BAD_REQUEST, "{malformed_answer}");
    let message = malformed_answer["error"].as_str().unwrap();
    assert!(message.contains("line 2, column 2"), "{message}");
    assert_eq!(
        invalid,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{invalid_answer}"
    );
    assert_eq!(
        invalid_answer["details"],
        json!([{"index": 1, "field": "source", "reason": "is required"}])
    );
    app.assert_nothing_stored().await;
}
