//! API keys beyond the route × caller matrix (`auth_matrix.rs`): a publish with one topic
//! outside the key's prefixes is refused whole; a reader limited to some prefixes sees only
//! those topics in every listing, count and tail; a key removed from the keys file stops
//! working once the server notices the change; a non-loopback address is not served without
//! keys unless asked to; `/metrics` counts answers per key name and refusals, never a key.

use std::collections::BTreeSet;
use std::time::Duration;

use aggregator::app::App;
use aggregator::auth::Scope;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::auth_support::*;
use crate::common::app::{start_app, test_config};
use crate::common::db::TestDb;
use crate::common::wait::wait_until;
use crate::helpers::{event, TestApp};
use crate::stream_support::pairs;

/// The server checks the keys file every 2 s; a change shows well within this.
const RELOAD_WAIT: Duration = Duration::from_secs(10);

/// Every event `/events` lists to `key`, page by page of `limit`; and how many pages it took.
async fn list_all_as(app: &TestApp, key: &Presented, limit: usize) -> (Vec<Value>, usize) {
    let mut events = Vec::new();
    let mut cursor = String::new();
    for pages in 1..=100 {
        let path = format!("/events?limit={limit}&cursor={cursor}");
        let (status, page) = get_as(app, &path, key).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        events.extend(
            page["events"]
                .as_array()
                .expect("events is an array")
                .clone(),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return (events, pages),
        }
    }
    panic!("pagination does not end");
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|item| item.as_str().expect("a string").to_owned())
        .collect()
}

/// Proves a batch holding one event whose topic is outside the key's prefixes is refused whole
/// with 403, naming that event's index and its `topic`, and that none of its events is stored.
#[tokio::test]
async fn a_batch_with_one_forbidden_topic_is_refused_whole_naming_that_event() {
    // Arrange
    let file = KeysFile::new();
    let publisher = bearer(&file.add("orders", &[Scope::Publish], &["orders."], None));
    let app = spawn_keyed_app(&file).await;
    let batch = json!({"events": [
        event("orders.1", "a"),
        event("orders.2", "b"),
        event("payments.1", "c"),
        event("orders.3", "d"),
    ]});

    // Act
    let (status, _, body) = publish_as(&app, &publisher, &batch).await;

    // Assert
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].is_string(), "{body}");
    let details = body["details"].as_array().expect("details is an array");
    assert_eq!(details.len(), 1, "only the forbidden event: {body}");
    assert_eq!(details[0]["index"], 2, "{body}");
    assert_eq!(details[0]["field"], "topic", "{body}");
    let reason = details[0]["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("payments.1") && reason.contains("orders."),
        "{reason}"
    );
    assert_eq!(
        app.db.count_rows().await,
        0,
        "nothing of the batch is stored"
    );
}

/// Proves a reader limited to `orders.` lists only `orders.*` events, across several pages,
/// while `payments.*` events are stored too; that `/topics` and `/stats` show it only
/// `orders.*` topics; and that its tail of every topic receives only `orders.*` events.
#[tokio::test]
async fn a_reader_limited_to_a_prefix_sees_only_its_topics_in_lists_counts_and_tails() {
    // Arrange
    let file = KeysFile::new();
    let publisher = bearer(&file.add("publisher", &[Scope::Publish], &[], None));
    let reader = bearer(&file.add("orders-reader", &[Scope::Read], &["orders."], None));
    let app = spawn_keyed_app(&file).await;
    let mut stored = Vec::new();
    for n in 0..4 {
        stored.push(event("orders.a", &format!("oa-{n}")));
        stored.push(event("payments.a", &format!("pa-{n}")));
        stored.push(event("orders.b", &format!("ob-{n}")));
        stored.push(event("payments.b", &format!("pb-{n}")));
    }
    publish_ok_as(&app, &publisher, &stored).await;

    // Act
    let (listed, pages) = list_all_as(&app, &reader, 3).await;
    let (topics_status, topics) = get_as(&app, "/topics?limit=1", &reader).await;
    let (all_topics_status, all_topics) = get_as(&app, "/topics", &reader).await;
    let (stats_status, stats) = get_as(&app, "/stats", &reader).await;
    let mut tail = open_tail_as(&app, &reader, "").await;
    publish_ok_as(&app, &publisher, &[event("payments.c", "p-1")]).await;
    publish_ok_as(&app, &publisher, &[event("orders.c", "o-1")]).await;
    publish_ok_as(&app, &publisher, &[event("payments.a", "p-2")]).await;
    publish_ok_as(&app, &publisher, &[event("orders.a", "o-2")]).await;
    let tailed = tail.take(2).await;

    // Assert
    let listed_keys: BTreeSet<(String, String)> = keys_of(&json!(listed)).into_iter().collect();
    let orders: BTreeSet<(String, String)> = keys_of(&json!(stored))
        .into_iter()
        .filter(|(topic, _)| topic.starts_with("orders."))
        .collect();
    assert_eq!(listed_keys, orders, "exactly the orders.* events");
    assert_eq!(listed.len(), 8, "each once");
    assert!(pages >= 3, "several pages: {pages}");
    assert_eq!(topics_status, StatusCode::OK, "{topics}");
    assert_eq!(strings(&topics["topics"]), ["orders.a"], "{topics}");
    assert_eq!(all_topics_status, StatusCode::OK, "{all_topics}");
    assert_eq!(
        strings(&all_topics["topics"]),
        ["orders.a", "orders.b"],
        "{all_topics}"
    );
    assert!(all_topics["next_cursor"].is_null(), "{all_topics}");
    assert_eq!(stats_status, StatusCode::OK, "{stats}");
    assert_eq!(
        strings(&stats["topics"]),
        ["orders.a", "orders.b"],
        "{stats}"
    );
    assert_eq!(stats["topics_total"], 2, "{stats}");
    let tailed: Vec<(String, String)> = tailed.iter().map(|received| received.key()).collect();
    assert_eq!(
        tailed,
        pairs(&[("orders.c", "o-1"), ("orders.a", "o-2")]),
        "the payments.* events between them are not sent"
    );
}

/// Proves a key removed from the keys file is refused (401) and a key added to it accepted once
/// the server notices the change on disk (it checks every 2 s), without a restart.
#[tokio::test]
async fn a_key_removed_from_the_keys_file_stops_working_once_the_file_is_reloaded() {
    // Arrange
    let file = KeysFile::new();
    let old = bearer(&file.add("old", &[Scope::Read], &[], None));
    let app = spawn_keyed_app(&file).await;
    let (before, _) = get_as(&app, "/events", &old).await;
    assert_eq!(before, StatusCode::OK, "the old key works at first");

    // Act
    let new = bearer(&file.replace_with("the-new-key", &[Scope::Read], &[]));
    let switched = wait_until(
        || async {
            let (old_status, _) = get_as(&app, "/events", &old).await;
            let (new_status, _) = get_as(&app, "/events", &new).await;
            old_status == StatusCode::UNAUTHORIZED && new_status == StatusCode::OK
        },
        RELOAD_WAIT,
    )
    .await;

    // Assert
    assert!(
        switched,
        "within {RELOAD_WAIT:?} the old key is refused and the new one accepted"
    );
    let (status, body) = get_as(&app, "/events", &old).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

/// Proves that without a keys file a non-loopback address is refused at build time, naming
/// `--keys-file`, and is served when unauthenticated access is explicitly allowed.
#[tokio::test]
async fn without_keys_a_non_loopback_address_is_refused_unless_explicitly_allowed() {
    // Arrange
    let db = TestDb::create().await;
    let mut config = test_config(&db.url);
    config.bind = "0.0.0.0:0".parse().expect("an address");

    // Act
    let refused = App::build(config.clone()).await.err();
    config.access.allow_unauthenticated = true;
    let app = start_app(config).await;
    let health = reqwest::get(format!("{}/health", app.base_url))
        .await
        .expect("GET /health sent")
        .status();
    app.stop().await;

    // Assert
    let message = format!(
        "{:#}",
        refused.expect("the open non-loopback app is refused")
    );
    assert!(
        message.contains("refusing") && message.contains("--keys-file"),
        "{message}"
    );
    assert_eq!(health, StatusCode::OK, "the allowed app serves");
}

/// Proves `/metrics` counts answers per key name and status and requests refused for want of a
/// (known) key, by reason, and never shows a key.
#[tokio::test]
async fn metrics_count_answers_per_key_name_and_refusals_without_showing_a_key() {
    // Arrange
    let file = KeysFile::new();
    let publisher_key = file.add("publisher", &[Scope::Publish], &["orders."], None);
    let reader_key = file.add("reader", &[Scope::Read], &["orders."], None);
    let admin_key = file.add("admin", &[Scope::Admin], &[], None);
    let unknown = unknown_key();
    let (publisher, reader, admin) = (
        bearer(&publisher_key),
        Presented::ApiKey(reader_key.clone()),
        bearer(&admin_key),
    );
    let app = spawn_keyed_app(&file).await;
    publish_ok_as(&app, &publisher, &[event("orders.1", "a")]).await;
    let (forbidden, _) = get_as(&app, "/events", &publisher).await;
    assert_eq!(forbidden, StatusCode::FORBIDDEN);
    for _ in 0..2 {
        let (status, _) = get_as(&app, "/events", &reader).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (missing, _) = get_as(&app, "/events", &Presented::Nothing).await;
    let (refused, _) = get_as(&app, "/events", &bearer(&unknown)).await;
    assert_eq!(
        (missing, refused),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );

    // Act
    let text = scrape_as(&app, &admin).await;

    // Assert
    let requests = |key: &str, status: &str| {
        sample(
            &text,
            "aggregator_key_requests_total",
            &[("key", key), ("status", status)],
        )
    };
    assert_eq!(requests("publisher", "200"), Some(1.0), "{text}");
    assert_eq!(requests("publisher", "403"), Some(1.0), "{text}");
    assert_eq!(requests("reader", "200"), Some(2.0), "{text}");
    let refusals = |reason: &str| {
        sample(
            &text,
            "aggregator_auth_refusals_total",
            &[("reason", reason)],
        )
    };
    assert_eq!(refusals("missing"), Some(1.0), "{text}");
    assert_eq!(refusals("unknown"), Some(1.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "aggregator_key_events_total",
            &[("key", "publisher")]
        ),
        Some(1.0),
        "{text}"
    );
    for key in [&publisher_key, &reader_key, &admin_key, &unknown] {
        assert!(!text.contains(key.as_str()), "a key is exposed");
    }
    assert!(!text.contains("agg_"), "nothing that looks like a key");
}
