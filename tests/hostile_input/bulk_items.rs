//! A bulk item whose action no topic or id may hold fails alone: its neighbours are stored
//! and answered as if it had not been there.

use reqwest::StatusCode;

use crate::common::backend::Backend;
use crate::Server;

#[tokio::test]
async fn a_bad_string_in_a_bulk_action_fails_only_its_item_on_postgres() {
    a_bad_string_in_a_bulk_action_fails_only_its_item(Backend::postgres().await).await;
}

#[tokio::test]
async fn a_bad_string_in_a_bulk_action_fails_only_its_item_on_the_embedded_store() {
    a_bad_string_in_a_bulk_action_fails_only_its_item(Backend::embedded()).await;
}

/// Lone surrogates, a control character and an over-long value in `_index` or `_id`, and
/// metadata that is not an object: each fails its own item with a `400` naming the field,
/// and the valid items of the batch are stored.
async fn a_bad_string_in_a_bulk_action_fails_only_its_item(backend: Backend) {
    // Arrange
    let server = Server::start(backend).await;
    let long = "x".repeat(300);
    let body = [
        r#"{"index":{"_index":"bulk.sur","_id":"ok1"}}"#.to_owned(),
        r#"{"m":1}"#.to_owned(),
        r#"{"index":{"_index":"bulk.\ud800","_id":"bad"}}"#.to_owned(),
        r#"{"m":2}"#.to_owned(),
        r#"{"create":{"_index":"bulk.sur","_id":"\udc00"}}"#.to_owned(),
        r#"{"m":3}"#.to_owned(),
        r#"{"index":{"_index":"bulk.sur","_id":"tab\there"}}"#.to_owned(),
        r#"{"m":4}"#.to_owned(),
        format!(r#"{{"index":{{"_index":"bulk.sur","_id":"{long}"}}}}"#),
        r#"{"m":5}"#.to_owned(),
        r#"{"index":"bulk.sur"}"#.to_owned(),
        r#"{"m":6}"#.to_owned(),
        r#"{"index":{"_index":"bulk.sur","_id":"ok2"}}"#.to_owned(),
        r#"{"m":7}"#.to_owned(),
    ]
    .map(|line| line + "\n")
    .concat();

    // Act
    let (status, answer) = server
        .post("/_bulk", "application/x-ndjson", None, body.into_bytes())
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["errors"], true);
    let items = answer["items"].as_array().unwrap();
    assert_eq!(items.len(), 7, "{answer}");
    let item = |position: usize| {
        let item = &items[position];
        item.get("index").or_else(|| item.get("create")).unwrap()
    };
    assert_eq!(item(0)["status"], 201, "{answer}");
    assert_eq!(item(6)["status"], 201, "{answer}");
    for (position, field) in [
        (1, "_index"),
        (2, "_id"),
        (3, "_id"),
        (4, "_id"),
        (5, "metadata"),
    ] {
        assert_eq!(item(position)["status"], 400, "item {position}: {answer}");
        let reason = item(position)["error"]["reason"].as_str().unwrap();
        assert!(reason.contains(field), "item {position}: {reason}");
    }
    assert!(
        item(1)["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("surrogate"),
        "{answer}"
    );
    assert_eq!(server.stored("bulk.sur").await, 2);
}
