//! Loki's push API (`POST /loki/api/v1/push`) as Promtail, Grafana Alloy and Loki's client
//! libraries use it: snappy-compressed protobuf (built from push.proto by [`wire`], not with the
//! server's messages) and JSON, plain or gzip; each line stored once under the topic of its
//! stream's labels, also when the push is sent again. The refusals (lines named by position
//! while the others are stored, bodies refused whole) are in [`refused`].

mod refused;
mod wire;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ApiApp, TestApp};
use wire::{entry, gzip, json_stream, snappy_protobuf, stream, StreamAdapter};

const PUSH: &str = "/loki/api/v1/push";
const PROTOBUF: &str = "application/x-protobuf";
/// 2026-12-07T12:00:00Z in nanoseconds since the Unix epoch.
const T0: i128 = 1_796_644_800_000_000_000;

/// The answer to `POST /loki/api/v1/push` of `body` as `content_type`, optionally with a
/// `Content-Encoding` and a key: status and body (JSON, or `Null` when empty).
async fn push(
    app: &TestApp,
    content_type: &str,
    encoding: Option<&str>,
    key: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(app.url(PUSH))
        .header(CONTENT_TYPE, content_type)
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header(CONTENT_ENCODING, encoding);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("POST sent");
    let status = response.status();
    let text = response.text().await.expect("body readable");
    if text.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{status} answer is not JSON ({err}): {text:?}"));
    (status, body)
}

async fn push_protobuf(app: &TestApp, streams: Vec<StreamAdapter>) -> (StatusCode, Value) {
    push(app, PROTOBUF, None, None, snappy_protobuf(streams)).await
}

async fn push_json(app: &TestApp, streams: Vec<Value>) -> (StatusCode, Value) {
    let body = json!({ "streams": streams }).to_string().into_bytes();
    push(app, "application/json", None, None, body).await
}

/// Every event of `topic` (one page is enough here).
async fn topic_events(app: &TestApp, topic: &str) -> Vec<Value> {
    let (status, page) = app.events(&format!("topic={topic}&limit=1000")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["events"].as_array().expect("an events array").clone()
}

/// The one event of `events` whose payload `message` is `message`.
fn with_message<'a>(events: &'a [Value], message: &str) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|event| event["payload"]["message"] == message)
        .collect();
    assert_eq!(found.len(), 1, "{message:?} in {events:?}");
    found[0]
}

/// The three streams most tests push: a service with two lines, a job with one, and a stream
/// with neither label.
fn three_streams() -> Vec<StreamAdapter> {
    vec![
        stream(
            &[
                ("service_name", "checkout"),
                ("job", "not-the-topic"),
                ("host", "vm-3"),
                ("level", "warn"),
            ],
            vec![
                entry(T0 + 1_234_567, "order 1 paid", &[("trace_id", "abc")]),
                entry(T0 + 2_000_000, "order 2 paid", &[]),
            ],
        ),
        stream(
            &[("job", "billing"), ("instance", "billing-2")],
            vec![entry(T0 + 3_000_000, "invoice sent", &[])],
        ),
        stream(
            &[("app", "no-topic-label")],
            vec![entry(T0 + 4_000_000, "unlabelled", &[])],
        ),
    ]
}

/// Proves a protobuf push of several streams is answered `204` with nothing in the body, and
/// each line is stored once under the topic and source of its stream's labels, with its time
/// and a payload of the line, the labels, the metadata and the level.
#[tokio::test]
async fn a_protobuf_push_stores_each_line_once_with_its_streams_mapping() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let (status, answer) = push_protobuf(&app, three_streams()).await;

    // Assert
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    assert_eq!(answer, Value::Null, "a 204 has no body");
    assert_eq!(app.row_count().await, 4);
    let checkout = topic_events(&app, "checkout").await;
    assert_eq!(checkout.len(), 2, "{checkout:?}");
    let paid = with_message(&checkout, "order 1 paid");
    assert_eq!(paid["source"], "vm-3");
    assert_eq!(paid["timestamp"], "2026-12-07T12:00:00.001234Z");
    let id = paid["event_id"].as_str().expect("an event id");
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "a SHA-256 in hex: {id}"
    );
    assert_eq!(
        paid["payload"],
        json!({
            "message": "order 1 paid",
            "level": "warn",
            "labels": {
                "service_name": "checkout",
                "job": "not-the-topic",
                "host": "vm-3",
                "level": "warn",
            },
            "structured_metadata": {"trace_id": "abc"},
        })
    );
    let second = with_message(&checkout, "order 2 paid");
    assert_ne!(second["event_id"], paid["event_id"]);
    assert!(second["payload"].get("structured_metadata").is_none());
    let billing = topic_events(&app, "billing").await;
    assert_eq!(
        with_message(&billing, "invoice sent")["source"],
        "billing-2"
    );
    let default = topic_events(&app, "loki").await;
    assert_eq!(with_message(&default, "unlabelled")["source"], "unknown");
}

/// Proves a client resending a push (its answer lost) stores nothing twice: every line of the
/// second push is a duplicate, and so is a line sent again as JSON (labels in another order);
/// the same line and time in a stream of other labels is another event.
#[tokio::test]
async fn the_same_push_sent_again_stores_nothing_twice() {
    // Arrange
    let app = spawn_app().await;
    let (first, answer) = push_protobuf(&app, three_streams()).await;
    assert_eq!(first, StatusCode::NO_CONTENT, "{answer}");

    // Act
    let (again, answer) = push_protobuf(&app, three_streams()).await;
    let other_labels = stream(
        &[("service_name", "checkout"), ("host", "vm-4")],
        vec![entry(
            T0 + 1_234_567,
            "order 1 paid",
            &[("trace_id", "abc")],
        )],
    );
    let (other, _) = push_protobuf(&app, vec![other_labels]).await;
    let as_json = json_stream(
        json!({"instance": "billing-2", "job": "billing"}),
        &[(T0 + 3_000_000, "invoice sent", None)],
    );
    let (json_again, _) = push_json(&app, vec![as_json]).await;

    // Assert
    assert_eq!(again, StatusCode::NO_CONTENT, "{answer}");
    assert_eq!(other, StatusCode::NO_CONTENT);
    assert_eq!(json_again, StatusCode::NO_CONTENT);
    assert_eq!(app.row_count().await, 5);
    let stats = app.stats().await;
    assert_eq!(
        (
            stats.received,
            stats.unique_processed,
            stats.duplicate_dropped
        ),
        (10, 5, 5)
    );
    let checkout = topic_events(&app, "checkout").await;
    let sources: Vec<&str> = checkout
        .iter()
        .filter(|event| event["payload"]["message"] == "order 1 paid")
        .map(|event| event["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources.len(), 2, "{checkout:?}");
    assert!(sources.contains(&"vm-3") && sources.contains(&"vm-4"));
}

/// Proves the JSON encoding, values with and without their metadata object: `204`, and lines
/// that are JSON objects give their own fields, which a search (`level:error`) finds.
#[tokio::test]
async fn a_json_push_stores_its_lines_and_json_lines_give_their_fields() {
    // Arrange
    let app = spawn_app().await;
    let error_line = r#"{"level":"error","msg":"db down","latency_ms":900}"#;
    let streams = vec![
        json_stream(
            json!({"service_name": "web", "host": "vm-1"}),
            &[
                (T0 + 1_000, "GET / 200", None),
                (T0 + 2_000, error_line, Some(json!({"trace_id": "t-1"}))),
            ],
        ),
        json_stream(
            json!({"job": "cron"}),
            &[(T0 + 3_000, r#"{"level":"info","msg":"tick"}"#, None)],
        ),
    ];

    // Act
    let (status, answer) = push_json(&app, streams).await;
    let query = utf8_percent_encode("level:error", NON_ALPHANUMERIC).to_string();
    let (search_status, found) = app.events(&format!("q={query}")).await;

    // Assert
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    assert_eq!(app.row_count().await, 3);
    assert_eq!(search_status, StatusCode::OK, "{found}");
    let found = found["events"].as_array().expect("an events array");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["topic"], "web");
    assert_eq!(found[0]["source"], "vm-1");
    assert_eq!(
        found[0]["payload"],
        json!({
            "level": "error",
            "msg": "db down",
            "latency_ms": 900,
            "labels": {"service_name": "web", "host": "vm-1"},
            "structured_metadata": {"trace_id": "t-1"},
        })
    );
    let web = topic_events(&app, "web").await;
    let plain = with_message(&web, "GET / 200");
    assert!(plain["payload"].get("structured_metadata").is_none());
    let cron = topic_events(&app, "cron").await;
    assert_eq!(cron.len(), 1);
    assert_eq!(cron[0]["payload"]["msg"], "tick");
    assert_eq!(cron[0]["source"], "unknown");
}

/// Proves a gzip-compressed JSON push (`Content-Encoding: gzip`) is decoded and stored.
#[tokio::test]
async fn a_gzip_compressed_json_push_is_stored() {
    // Arrange
    let app = spawn_app().await;
    let body = json!({"streams": [json_stream(
        json!({"service_name": "web"}),
        &[(T0, "compressed line", None)],
    )]});
    let body = gzip(body.to_string().as_bytes());

    // Act
    let (status, answer) = push(&app, "application/json", Some("gzip"), None, body).await;

    // Assert
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    let web = topic_events(&app, "web").await;
    assert_eq!(web.len(), 1);
    assert_eq!(web[0]["payload"]["message"], "compressed line");
}

/// Proves `/openapi.json` documents the route with both encodings and its answers.
#[tokio::test]
async fn the_push_route_is_in_the_openapi_document() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let (status, document) = app.get("/openapi.json").await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    let operation = &document["paths"][PUSH]["post"];
    assert!(operation.is_object(), "{}", document["paths"]);
    let content = &operation["requestBody"]["content"];
    assert!(content[PROTOBUF].is_object(), "{content}");
    assert!(content["application/json"].is_object(), "{content}");
    for answer in ["204", "400", "415", "422"] {
        assert!(
            operation["responses"][answer].is_object(),
            "{answer}: {}",
            operation["responses"]
        );
    }
}
