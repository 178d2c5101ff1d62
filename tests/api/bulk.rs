//! The Elasticsearch bulk API (`POST /_bulk`, `POST /{index}/_bulk`) and the `GET /` probe, as
//! log shippers use them: per-item answers, duplicates as `noop`, refused items beside stored
//! ones, keys limited to topic prefixes, and a store outage answering the whole batch `503`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::auth_support::{spawn_keyed_app, KeysFile};
use crate::common::db::{postgres_address, url_with_address};
use crate::common::proxy::TcpProxy;
use crate::helpers::{json_response, spawn_app, spawn_app_with, ApiApp, TestApp};
use aggregator::auth::Scope;

const RSYSLOG_LINE: &str = r#"{"@timestamp":"2026-12-02T00:47:20.723488+00:00","host":"vm","program":"checkout","message":"order 1 paid"}"#;

/// `POST path` with `body` as rsyslog sends it; optionally with a key.
async fn post_bulk(
    app: &TestApp,
    path: &str,
    body: String,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json; charset=utf-8")
        .body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    json_response(request.send().await.expect("POST sent")).await
}

fn index_line(index: &str) -> String {
    json!({"index": {"_index": index, "_type": "events"}}).to_string()
}

/// Proves an rsyslog batch is stored once, answered `201 created`, and the same batch re-sent
/// (a shipper's retry) is answered `200 noop` without a second row; both are timed as
/// publishes.
#[tokio::test]
async fn an_rsyslog_batch_is_stored_once_and_its_retry_is_a_noop() {
    // Arrange
    let app = spawn_app().await;
    let second = RSYSLOG_LINE.replace("order 1", "order 2");
    let body = format!(
        "{}\n{RSYSLOG_LINE}\n{}\n{second}\n",
        index_line("syslog.checkout"),
        index_line("syslog.checkout")
    );

    // Act
    let (status, first) = post_bulk(&app, "/_bulk", body.clone(), None).await;
    let (retry_status, retry) = post_bulk(&app, "/_bulk", body, None).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["errors"], false);
    assert_eq!(first["items"][0]["index"]["status"], 201);
    assert_eq!(first["items"][0]["index"]["result"], "created");
    assert_eq!(first["items"][0]["index"]["_index"], "syslog.checkout");
    assert_eq!(
        first["items"][0]["index"]["_id"].as_str().unwrap().len(),
        64
    );
    assert_eq!(retry_status, StatusCode::OK);
    assert_eq!(retry["errors"], false);
    assert_eq!(retry["items"][1]["index"]["status"], 200);
    assert_eq!(retry["items"][1]["index"]["result"], "noop");
    assert_eq!(
        retry["items"][1]["index"]["_id"],
        first["items"][1]["index"]["_id"]
    );
    assert_eq!(app.row_count().await, 2);
    let (_, page) = app.events("topic=syslog.checkout").await;
    assert_eq!(page["events"][0]["source"], "vm");
    assert_eq!(
        page["events"][0]["timestamp"],
        "2026-12-02T00:47:20.723488Z"
    );
    assert_eq!(page["events"][0]["payload"]["message"], "order 1 paid");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("aggregator_publish_request_duration_seconds_count 2\n"),
        "{metrics}"
    );
}

/// Proves refused items are answered per item while the valid items of the same request are
/// stored, and the path's index stands for a missing `_index`.
#[tokio::test]
async fn refused_items_are_answered_per_item_and_the_rest_is_stored() {
    // Arrange
    let app = spawn_app().await;
    let body = [
        r#"{"create":{"_id":"kept-1"}}"#,
        r#"{"message":"stored under the path's index"}"#,
        r#"{"delete":{"_index":"web","_id":"x"}}"#,
        r#"{"index":{"_index":"web"}}"#,
        r#"{"@timestamp":"not a time","message":"refused"}"#,
        r#"{"index":{"_index":"web","_id":"kept-2"}}"#,
        r#"{"message":"stored"}"#,
    ]
    .join("\n");

    // Act
    let (status, answer) = post_bulk(&app, "/web/_bulk", body, None).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["errors"], true);
    let statuses: Vec<(String, u64)> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let (action, result) = item.as_object().unwrap().iter().next().unwrap();
            (action.clone(), result["status"].as_u64().unwrap())
        })
        .collect();
    let expected = [
        ("create", 201),
        ("delete", 400),
        ("index", 400),
        ("index", 201),
    ];
    let expected: Vec<(String, u64)> = expected.iter().map(|(a, s)| (a.to_string(), *s)).collect();
    assert_eq!(statuses, expected);
    let reason = answer["items"][2]["index"]["error"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.starts_with("@timestamp must be an RFC 3339"),
        "{reason}"
    );
    assert_eq!(app.row_count().await, 2);
    let (_, page) = app.events("topic=web").await;
    let ids: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["kept-1", "kept-2"]);
}

/// Proves a line that breaks the action/document pairing refuses the whole body (400), and that
/// `GET /` answers the version shippers probe, with Elastic's product header.
#[tokio::test]
async fn an_unpaired_body_is_refused_whole_and_the_root_answers_a_version() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let (status, answer) = post_bulk(&app, "/_bulk", format!("{}\n", index_line("t")), None).await;
    let root = app.client.get(app.url("/")).send().await.unwrap();
    let product = root.headers().get("x-elastic-product").cloned();
    let (root_status, info) = json_response(root).await;
    let head = app.client.head(app.url("/")).send().await.unwrap();

    // Assert
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("line 1"),
        "{answer}"
    );
    app.assert_nothing_stored().await;
    assert_eq!(root_status, StatusCode::OK);
    assert!(
        info["version"]["number"]
            .as_str()
            .unwrap()
            .starts_with("8."),
        "{info}"
    );
    assert_eq!(product.unwrap(), "Elasticsearch");
    assert_eq!(head.status(), StatusCode::OK);
}

/// Proves a key limited to a prefix gets `403` for the items outside it while its other items
/// are stored, that the key works as the password of Basic credentials (what shippers' outputs
/// send), and a key without the publish scope is refused whole.
#[tokio::test]
async fn a_key_stores_only_inside_its_prefixes() {
    // Arrange
    let keys = KeysFile::new();
    let shipper = keys.add("shipper", &[Scope::Publish], &["syslog."], None);
    let reader = keys.add("reader", &[Scope::Read], &[], None);
    let app = spawn_keyed_app(&keys).await;
    let body = format!(
        "{}\n{RSYSLOG_LINE}\n{}\n{RSYSLOG_LINE}\n",
        index_line("syslog.web"),
        index_line("billing")
    );

    // Act
    let (status, answer) = post_bulk(&app, "/_bulk", body.clone(), Some(&shipper)).await;
    let (reader_status, _) = post_bulk(&app, "/_bulk", body.clone(), Some(&reader)).await;
    let (anonymous_status, _) = post_bulk(&app, "/_bulk", body.clone(), None).await;
    let as_basic = app
        .client
        .post(app.url("/syslog.web/_bulk"))
        .basic_auth("rsyslog", Some(&shipper))
        .header("content-type", "application/x-ndjson")
        .body(format!(
            "{{\"index\":{{}}}}\n{}\n",
            RSYSLOG_LINE.replace("order 1", "order 9")
        ))
        .send()
        .await
        .unwrap();
    let (basic_status, basic_answer) = json_response(as_basic).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["items"][0]["index"]["status"], 201);
    assert_eq!(answer["items"][1]["index"]["status"], 403);
    assert_eq!(
        answer["items"][1]["index"]["error"]["type"],
        "security_exception"
    );
    assert_eq!(reader_status, StatusCode::FORBIDDEN);
    assert_eq!(anonymous_status, StatusCode::UNAUTHORIZED);
    assert_eq!(basic_status, StatusCode::OK, "{basic_answer}");
    assert_eq!(basic_answer["items"][0]["index"]["status"], 201);
    assert_eq!(app.row_count().await, 2);
}

/// Proves a store outage makes the whole batch's answer (a `503`) end in a failed transfer, as
/// rsyslog needs to retry a whole batch, and the retry once the database is back stores every
/// document once.
#[tokio::test]
async fn a_store_outage_answers_the_whole_batch_503_and_the_retry_stores_it() {
    // Arrange
    let proxy = TcpProxy::start(postgres_address()).await;
    let app = spawn_app_with(|config| {
        let direct = config.store.database_url.take().expect("database URL set");
        config.store.database_url = Some(url_with_address(&direct, proxy.address()));
        config.store.timeout = Duration::from_millis(1000);
    })
    .await;
    let body = format!("{}\n{RSYSLOG_LINE}\n", index_line("syslog.checkout"));

    // Act
    proxy.cut().await;
    let during = app
        .client
        .post(app.url("/_bulk"))
        .header("content-type", "application/x-ndjson")
        .body(body.clone())
        .send()
        .await;
    // The cut may come before or after the status line reaches the client: either way the
    // transfer fails, and a status that did arrive is the 503.
    let cut = match during {
        Err(err) => Some(err.to_string()),
        Ok(answer) => {
            assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
            answer.text().await.err().map(|err| err.to_string())
        }
    };
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    proxy.restore().await;
    let (status, answer) = post_bulk(&app, "/_bulk", body, None).await;

    // Assert
    assert!(cut.is_some(), "the 503 was answered in full");
    assert!(
        metrics.contains("aggregator_http_responses_total{status=\"503\"} 1\n"),
        "{metrics}"
    );
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["errors"], false);
    assert_eq!(app.row_count().await, 1);
}
