//! `POST /v1/logs` (OTLP/HTTP logs) with hand-built requests: `ExportLogsServiceRequest`
//! messages of the `opentelemetry-proto` crate encoded with prost, and their OTLP JSON twins
//! written by hand. Answers in the request's encoding, retries and twins stored once, refused
//! records counted in `partialSuccess` beside stored neighbours (an empty `log.record.uid`, a
//! topic outside the key's prefixes), and whole bodies refused (undecodable, wrong media type,
//! too many records); the real SDK's exports are in `tests/otlp`.

mod messages;

use std::io::Write;

use aggregator::auth::Scope;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Kind;
use prost::Message;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::auth_support::{spawn_keyed_app, KeysFile};
use crate::helpers::{json_response, spawn_app, spawn_app_with, ApiApp, TestApp};
use messages::{attribute, export, json_twin, record, resource_logs, PROTOBUF};

/// `POST /v1/logs` with `body` as `content_type`, optionally gzip-labelled and with a key.
async fn post_logs(
    app: &TestApp,
    content_type: &str,
    body: Vec<u8>,
    gzip: bool,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/v1/logs"))
        .header(CONTENT_TYPE, content_type)
        .body(body);
    if gzip {
        request = request.header("content-encoding", "gzip");
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("POST /v1/logs sent")
}

/// `POST /v1/logs` of `request` in protobuf; the answer must be a `200` with an
/// `ExportLogsServiceResponse` in protobuf.
async fn export_protobuf(
    app: &TestApp,
    request: &ExportLogsServiceRequest,
    key: Option<&str>,
) -> ExportLogsServiceResponse {
    let response = post_logs(app, PROTOBUF, request.encode_to_vec(), false, key).await;
    let status = response.status();
    let content_type = response.headers().get(CONTENT_TYPE).cloned();
    let body = response.bytes().await.expect("an answer body");
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type.unwrap(), PROTOBUF);
    ExportLogsServiceResponse::decode(body).expect("an ExportLogsServiceResponse in protobuf")
}

/// `partialSuccess.rejectedLogRecords` of a JSON answer: int64, so a string in canonical OTLP
/// JSON, a number accepted too.
fn rejected_in_json(answer: &Value) -> i64 {
    match &answer["partialSuccess"]["rejectedLogRecords"] {
        Value::String(count) => count.parse().expect("an int64"),
        Value::Number(count) => count.as_i64().expect("an int64"),
        other => panic!("rejectedLogRecords is {other}: {answer}"),
    }
}

/// The stored `(event_id, payload)` of every event of `topic`, by event id.
async fn stored(app: &TestApp, topic: &str) -> Vec<(String, String, Value)> {
    let (status, page) = app.events(&format!("topic={topic}&limit=100")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut events: Vec<(String, String, Value)> = page["events"]
        .as_array()
        .expect("an events array")
        .iter()
        .map(|event| {
            (
                event["event_id"].as_str().expect("an id").to_owned(),
                event["timestamp"].as_str().expect("a timestamp").to_owned(),
                event["payload"].clone(),
            )
        })
        .collect();
    events.sort_by(|a, b| a.0.cmp(&b.0));
    events
}

/// Proves a protobuf export is answered `200` with an `ExportLogsServiceResponse` in protobuf
/// and no partial success, each record stored with its mapped payload, and the same export sent
/// again (an exporter's retry) stores nothing twice.
#[tokio::test]
async fn a_protobuf_export_is_stored_once_and_its_retry_stores_nothing() {
    // Arrange
    let app = spawn_app().await;
    let request = export(vec![record(1), record(2), record(3)]);

    // Act
    let first = export_protobuf(&app, &request, None).await;
    let retry = export_protobuf(&app, &request, None).await;

    // Assert
    assert_eq!(first.partial_success, None);
    assert_eq!(retry.partial_success, None);
    assert_eq!(app.row_count().await, 3);
    let stats = app.stats().await;
    assert_eq!((stats.unique_processed, stats.duplicate_dropped), (3, 3));
    let (status, page) = app.events("topic=checkout&limit=10").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let event = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["payload"]["body"] == "order 2 paid")
        .expect("record 2 stored");
    assert_eq!(event["source"], "checkout-1");
    assert_eq!(event["event_id"].as_str().unwrap().len(), 64, "{event}");
    assert!(
        event["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2023-11-14T22:13:20"),
        "{event}"
    );
    let payload = &event["payload"];
    assert_eq!(payload["level"], "info");
    assert_eq!(payload["severity_number"], 9);
    assert_eq!(payload["attributes"], json!({"order.id": 2, "paid": true}));
    assert_eq!(payload["trace_id"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(payload["span_id"], "eee19b7ec3c1b174");
    assert_eq!(payload["resource"]["service.name"], "checkout");
    assert_eq!(
        payload["scope"],
        json!({"name": "checkout.orders", "version": "1.0.0"})
    );
}

/// Proves an OTLP JSON export is answered `200` in JSON, and its records get the same event
/// ids, times and payloads as their protobuf twin's (the id digests the decoded message), so
/// the twin sent after it stores nothing.
#[tokio::test]
async fn an_otlp_json_export_gets_the_event_ids_of_its_protobuf_twin() {
    // Arrange
    let by_protobuf = spawn_app().await;
    let by_json = spawn_app().await;
    let twin = serde_json::to_vec(&json_twin()).unwrap();
    export_protobuf(&by_protobuf, &export(vec![record(1), record(2)]), None).await;

    // Act
    let response = post_logs(&by_json, "application/json", twin.clone(), false, None).await;
    let content_type = response.headers().get(CONTENT_TYPE).cloned();
    let (status, answer) = json_response(response).await;
    let again = post_logs(&by_protobuf, "application/json", twin, false, None).await;
    let (again_status, _) = json_response(again).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        content_type
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "answered in JSON"
    );
    let partial = &answer["partialSuccess"];
    assert!(
        partial.is_null() || rejected_in_json(&answer) == 0,
        "{answer}"
    );
    let from_json = stored(&by_json, "checkout").await;
    assert_eq!(from_json.len(), 2);
    assert_eq!(from_json, stored(&by_protobuf, "checkout").await);
    assert_eq!(again_status, StatusCode::OK);
    assert_eq!(by_protobuf.row_count().await, 2, "the twin stored again");
}

/// Proves a record whose `log.record.uid` is empty is refused alone: counted in
/// `partialSuccess` with the reason, while its neighbours are stored under their own uids.
#[tokio::test]
async fn a_record_with_an_empty_uid_is_refused_and_its_neighbours_stored() {
    // Arrange
    let app = spawn_app().await;
    let with_uid = |n: u64, uid: &str| {
        let mut record = record(n);
        record
            .attributes
            .push(attribute("log.record.uid", Kind::StringValue(uid.into())));
        record
    };
    let request = export(vec![
        with_uid(1, "uid-1"),
        with_uid(2, ""),
        with_uid(3, "uid-3"),
    ]);

    // Act
    let answer = export_protobuf(&app, &request, None).await;

    // Assert
    let partial = answer.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_log_records, 1, "{partial:?}");
    assert!(
        partial.error_message.contains("record 1")
            && partial.error_message.contains("log.record.uid"),
        "{partial:?}"
    );
    let ids: Vec<String> = stored(&app, "checkout")
        .await
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(ids, ["uid-1", "uid-3"]);
}

/// Proves a key limited to `orders.` stores the records of `orders.api` and counts those of
/// `payments` as rejected, in one export.
#[tokio::test]
async fn a_key_limited_to_a_prefix_gets_the_other_services_records_rejected() {
    // Arrange
    let keys = KeysFile::new();
    let key = keys.add("shipper", &[Scope::Publish], &["orders."], None);
    let app = spawn_keyed_app(&keys).await;
    let request = ExportLogsServiceRequest {
        resource_logs: vec![
            resource_logs("orders.api", vec![record(1)]),
            resource_logs("payments", vec![record(2)]),
        ],
    };

    // Act
    let answer = export_protobuf(&app, &request, Some(&key)).await;

    // Assert
    let partial = answer.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_log_records, 1, "{partial:?}");
    assert!(partial.error_message.contains("payments"), "{partial:?}");
    let keys: Vec<(String, String)> = app.db.keys().await.into_iter().collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0].0, "orders.api");
}

/// Proves a gzip body (`Content-Encoding: gzip`, what exporters send by default) is decoded
/// and its records stored.
#[tokio::test]
async fn a_gzip_export_is_decoded_and_stored() {
    // Arrange
    let app = spawn_app().await;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(&export(vec![record(1), record(2)]).encode_to_vec())
        .unwrap();
    let body = encoder.finish().unwrap();

    // Act
    let response = post_logs(&app, PROTOBUF, body, true, None).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let answer = ExportLogsServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(answer.partial_success, None);
    assert_eq!(app.row_count().await, 2);
}

/// Proves bodies that cannot be an export are refused whole, nothing stored: an undecodable
/// protobuf body `400`, `text/plain` `415`.
#[tokio::test]
async fn undecodable_and_unsupported_bodies_are_refused_whole() {
    // Arrange
    let app = spawn_app().await;
    let garbage = vec![0xff, 0xff, 0xff, 0x0f, 0x01];
    let valid = export(vec![record(1)]).encode_to_vec();

    // Act
    let undecodable = post_logs(&app, PROTOBUF, garbage, false, None).await;
    let (undecodable_status, undecodable) = json_response(undecodable).await;
    let plain = post_logs(&app, "text/plain", valid, false, None).await;
    let (plain_status, plain) = json_response(plain).await;

    // Assert
    assert_eq!(undecodable_status, StatusCode::BAD_REQUEST, "{undecodable}");
    assert!(undecodable["error"].is_string(), "{undecodable}");
    assert_eq!(plain_status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{plain}");
    assert!(
        plain["error"].as_str().unwrap().contains("text/plain"),
        "{plain}"
    );
    app.assert_nothing_stored().await;
}

/// Proves an export of more records than `--max-events-per-request` is refused whole with
/// `422`, nothing stored, while one at the limit is stored.
#[tokio::test]
async fn an_export_over_the_request_limit_is_refused_with_422() {
    // Arrange
    let app = spawn_app_with(|config| config.limits.max_events_per_request = 3).await;
    let over = export((1..=4).map(record).collect());
    let at_limit = export((1..=3).map(record).collect());

    // Act
    let response = post_logs(&app, PROTOBUF, over.encode_to_vec(), false, None).await;
    let (status, answer) = json_response(response).await;
    let rows_after_refusal = app.row_count().await;
    let accepted = export_protobuf(&app, &at_limit, None).await;

    // Assert
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(rows_after_refusal, 0);
    assert_eq!(accepted.partial_success, None);
    assert_eq!(app.row_count().await, 3);
}

/// Proves an empty export succeeds and stores nothing, as the specification asks of a server,
/// and that a JSON success is `{}`.
#[tokio::test]
async fn an_empty_export_succeeds() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let accepted = export_protobuf(&app, &export(Vec::new()), None).await;
    let response = post_logs(&app, "application/json", b"{}".to_vec(), false, None).await;
    let (status, answer) = json_response(response).await;

    // Assert
    assert_eq!(accepted.partial_success, None);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, serde_json::json!({}));
    app.assert_nothing_stored().await;
}

/// Proves `/openapi.json` documents `POST /v1/logs` with both encodings of its body.
#[tokio::test]
async fn the_openapi_document_lists_the_otlp_route() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let (status, document) = app.get("/openapi.json").await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    let operation = &document["paths"]["/v1/logs"]["post"];
    let content = &operation["requestBody"]["content"];
    assert!(content[PROTOBUF].is_object(), "{operation}");
    assert!(content["application/json"].is_object(), "{operation}");
    for status in ["200", "400", "415", "422"] {
        assert!(
            operation["responses"][status].is_object(),
            "{status}: {operation}"
        );
    }
}
