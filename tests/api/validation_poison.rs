//! Poison events: values some store cannot hold, or that break readers, are refused at parse
//! time with `422` on every store, and never fail other clients' events.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{event, spawn_app, ApiApp, TestApp};

/// Publishes a valid event whose `field` is replaced by raw JSON text, and returns the answer.
async fn publish_with_raw(app: &TestApp, field: &str, raw_value: &str) -> (StatusCode, Value) {
    let mut valid = app.event("topic", "id");
    valid.as_object_mut().unwrap().remove(field);
    let mut text = serde_json::to_string(&valid).unwrap();
    text.pop(); // the closing brace
    text.push_str(&format!(r#","{field}":{raw_value}}}"#));
    app.publish_raw(text).await
}

/// Asserts a `422` naming exactly `field` of event 0 with `reason`, and nothing stored.
async fn assert_refused(app: &TestApp, field: &str, raw_value: &str, reason: &str) {
    let (status, body) = publish_with_raw(app, field, raw_value).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
    assert_eq!(
        body["details"],
        json!([{"index": 0, "field": field, "reason": reason}]),
        "{field} = {raw_value}"
    );
    app.assert_nothing_stored().await;
}

/// Proves a payload nested deeper than `--max-payload-depth` (default 64) is refused (it made
/// PostgreSQL fail the whole group commit), and 64 levels pass.
#[tokio::test]
async fn a_payload_nested_deeper_than_the_limit_is_refused_and_the_limit_itself_passes() {
    let app = spawn_app().await;
    let nested = |levels: usize| {
        format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
    };
    let reason = "must not nest objects and arrays more than 64 levels deep";

    assert_refused(&app, "payload", &nested(65), reason).await;
    assert_refused(&app, "payload", &nested(13_000), reason).await;
    let (status, answer) = publish_with_raw(&app, "payload", &nested(64)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Proves `\u0000` and lone surrogate escapes are refused in the payload and in keys.
#[tokio::test]
async fn nul_and_lone_surrogate_escapes_are_refused_in_payloads_and_keys() {
    let app = spawn_app().await;

    assert_refused(
        &app,
        "payload",
        r#"{"msg":"a\u0000b"}"#,
        r"must not contain the NUL character (\u0000)",
    )
    .await;
    assert_refused(
        &app,
        "payload",
        r#"{"msg":"\ud800"}"#,
        r"must not contain a lone UTF-16 surrogate escape (found \ud800)",
    )
    .await;
    assert_refused(
        &app,
        "topic",
        r#""t\udfff""#,
        r"must not contain a lone UTF-16 surrogate escape (found \udfff)",
    )
    .await;
    let (status, answer) = publish_with_raw(&app, "payload", r#"{"crab":"\ud83e\udd80"}"#).await;
    assert_eq!(status, StatusCode::OK, "a valid surrogate pair: {answer}");
}

/// Proves blank keys, invisible or bidirectional characters in keys and over-long sources are
/// refused.
#[tokio::test]
async fn blank_keys_invisible_characters_and_long_sources_are_refused() {
    let app = spawn_app().await;

    assert_refused(&app, "event_id", r#""   ""#, "must not be empty").await;
    for (raw, code) in [
        (r#""pay\u202Ements""#, "U+202E"),
        (r#""a\u2028b""#, "U+2028"),
        (r#""a\u200Bb""#, "U+200B"),
        (r#""\uFEFFa""#, "U+FEFF"),
    ] {
        let reason = format!(
            "must not contain invisible or bidirectional formatting characters (found {code})"
        );
        assert_refused(&app, "topic", raw, &reason).await;
    }
    let long_source = format!("\"{}\"", "s".repeat(256));
    assert_refused(
        &app,
        "source",
        &long_source,
        "must be at most 255 characters (got 256)",
    )
    .await;
}

/// Proves poison requests mixed into a stream of valid requests from other clients cost those
/// clients nothing: every valid event is answered `200` and stored, every poison one `422`.
#[tokio::test]
async fn poison_requests_among_valid_ones_never_fail_the_valid_ones() {
    let app = spawn_app().await;
    let deep = format!("{}1{}", "[".repeat(13_000), "]".repeat(13_000));
    let poison_payloads = [
        format!("{{\"a\":{deep}}}"),
        r#"{"a":"\u0000"}"#.to_string(),
        r#"{"a":"\ud800"}"#.to_string(),
    ];

    let mut requests = Vec::new();
    for index in 0..200 {
        let body = if index % 10 == 0 {
            let payload = &poison_payloads[(index / 10) % poison_payloads.len()];
            let mut text = serde_json::to_string(&json!({
                "topic": "mixed", "event_id": format!("poison-{index}"),
                "timestamp": "2024-05-01T12:00:00Z", "source": "attacker",
            }))
            .unwrap();
            text.pop();
            text.push_str(&format!(r#","payload":{payload}}}"#));
            text
        } else {
            serde_json::to_string(&event("mixed", &format!("valid-{index}"))).unwrap()
        };
        let app = &app;
        requests.push(async move { (index, app.publish_raw(body).await) });
    }
    let answers = futures::future::join_all(requests).await;

    for (index, (status, body)) in &answers {
        let expected = if index % 10 == 0 {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        assert_eq!(*status, expected, "request {index}: {body}");
    }
    assert_eq!(app.row_count().await, 180);
    assert_eq!(app.stats_json().await["unique_processed"], 180);
}
