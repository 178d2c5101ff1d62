//! `GET /events`: filters, page sizes, parameter errors, cursor pagination and per-topic order.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ApiApp, TestApp};

/// `n` events `<prefix>-<i>` in `topic`.
fn events_in(app: &TestApp, topic: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| app.event(topic, &format!("{topic}-{i}")))
        .collect()
}

/// Every page of `/events?<query>` with page size `limit`, following `next_cursor`.
async fn all_pages(app: &TestApp, query: &str, limit: usize) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{query}&limit={limit}");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = app.events(&url).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let events = page["events"].as_array().unwrap().clone();
        assert_eq!(page["count"], events.len());
        pages.push(events);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 1000, "pagination does not end");
    }
}

fn ids(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect()
}

/// Proves `topic=` returns every event of that topic and nothing else.
#[tokio::test]
async fn the_topic_filter_returns_only_that_topic() {
    // Arrange
    let app = spawn_app().await;
    let mut batch = events_in(&app, "wanted", 3);
    batch.extend(events_in(&app, "other", 4));
    app.publish_ok(&json!(batch)).await;

    // Act
    let (status, page) = app.events("topic=wanted").await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 3);
    let events = page["events"].as_array().unwrap();
    assert!(events.iter().all(|e| e["topic"] == "wanted"), "{page}");
}

/// Proves `source=` returns every event from that source, across topics, and nothing else.
#[tokio::test]
async fn the_source_filter_returns_only_that_source() {
    // Arrange
    let app = spawn_app().await;
    let mut batch = Vec::new();
    for (i, source) in ["billing", "auth", "billing", "auth", "billing"]
        .iter()
        .enumerate()
    {
        let mut event = app.event(&format!("t{}", i % 2), &format!("e{i}"));
        event["source"] = json!(source);
        batch.push(event);
    }
    app.publish_ok(&json!(batch)).await;

    // Act
    let (status, page) = app.events("source=billing").await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    let mut found = ids(page["events"].as_array().unwrap());
    found.sort_unstable();
    assert_eq!(found, ["e0", "e2", "e4"]);
}

/// Proves `since` (inclusive) and `until` (exclusive) select by the publisher's timestamp.
#[tokio::test]
async fn since_and_until_select_a_time_window() {
    // Arrange
    let app = spawn_app().await;
    let batch: Vec<Value> = (10..14)
        .map(|hour| {
            let mut event = app.event("time", &format!("h{hour}"));
            event["timestamp"] = json!(format!("2024-05-01T{hour}:00:00Z"));
            event
        })
        .collect();
    app.publish_ok(&json!(batch)).await;

    // Act
    let (status, page) = app
        .events("since=2024-05-01T11:00:00Z&until=2024-05-01T13:00:00Z")
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(page["events"].as_array().unwrap()), ["h11", "h12"]);
}

/// Proves a page holds 100 events by default and says where the next page starts.
#[tokio::test]
async fn the_default_page_size_is_100() {
    let app = spawn_app().await;
    app.publish_ok(&json!(events_in(&app, "many", 150))).await;

    let (status, page) = app.events("").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 100);
    assert!(page["next_cursor"].is_string(), "{}", page["next_cursor"]);
}

/// Proves a `limit` above 1000 is capped to 1000 rather than rejected or honoured.
#[tokio::test]
async fn a_limit_above_1000_is_capped_to_1000() {
    let app = spawn_app().await;
    app.publish_ok(&json!(events_in(&app, "many", 1005))).await;

    let (status, page) = app.events("limit=5000").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 1000);
    assert!(page["next_cursor"].is_string());
}

/// Proves a zero, negative or non-numeric `limit` is a 400 that names `limit`, while an empty
/// one means the default and a huge one is capped, like the schema says.
#[tokio::test]
async fn a_zero_or_garbage_limit_is_a_400_naming_limit() {
    let app = spawn_app().await;
    for raw in ["", "99999999999999999999999999"] {
        let (status, body) = app.events(&format!("limit={raw}&cursor=")).await;
        assert_eq!(status, StatusCode::OK, "limit={raw}: {body}");
    }
    for raw in ["0", "-3", "ten", "1.5", "000"] {
        let (status, body) = app.events(&format!("limit={raw}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={raw}: {body}");
        assert_eq!(body["details"].as_array().map(Vec::len), Some(1), "{body}");
        assert_eq!(body["details"][0]["field"], "limit", "limit={raw}");
    }
}

/// Proves a cursor the server did not hand out is a 400 that names `cursor`.
#[tokio::test]
async fn a_forged_cursor_is_a_400_naming_cursor() {
    let app = spawn_app().await;
    for raw in ["garbage", "12", "x.61", "12.zz", "12.ff"] {
        let (status, body) = app.events(&format!("cursor={raw}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "cursor={raw}: {body}");
        assert_eq!(
            body["details"],
            json!([{"index": null, "field": "cursor", "reason": "is not a cursor returned by this server"}])
        );
    }
}

/// Proves an empty `since` or `until` means no bound, like every other empty parameter.
#[tokio::test]
async fn an_empty_since_or_until_means_no_bound() {
    let app = spawn_app().await;
    app.publish_ok(&json!(events_in(&app, "window", 2))).await;

    let (status, page) = app.events("since=&until=").await;

    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["count"], 2, "{page}");
}

/// Proves a NUL in a filter, or in the topic of a cursor, is a 400 naming the parameter, the
/// same on every store (PostgreSQL used to answer with its own encoding error).
#[tokio::test]
async fn a_nul_in_a_filter_or_a_cursor_is_a_400_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, field) in [
        ("topic=a%00b", "topic"),
        ("source=%00", "source"),
        ("cursor=5.6100", "cursor"),
    ] {
        let (status, body) = app.events(query).await;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["details"][0]["field"], field, "{query}: {body}");
    }
}

/// Proves following `next_cursor` across several topics visits every stored event exactly once,
/// in `(topic, seq)` order, with no page over the limit.
#[tokio::test]
async fn cursor_pagination_visits_every_event_exactly_once() {
    // Arrange
    let app = spawn_app().await;
    let mut published = HashSet::new();
    for topic in ["delta", "alpha", "Charlie", "bravo/ü", "echo"] {
        let batch = events_in(&app, topic, 23);
        for event in &batch {
            published.insert((
                topic.to_owned(),
                event["event_id"].as_str().unwrap().to_owned(),
            ));
        }
        app.publish_ok(&json!(batch)).await;
    }

    // Act
    let pages = all_pages(&app, "", 7).await;

    // Assert
    assert!(pages.iter().all(|page| page.len() <= 7));
    assert_eq!(pages.len(), published.len().div_ceil(7));
    let visited: Vec<(String, String, i64)> = pages
        .iter()
        .flatten()
        .map(|e| {
            (
                e["topic"].as_str().unwrap().into(),
                e["event_id"].as_str().unwrap().into(),
                e["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        visited.len(),
        published.len(),
        "an event was skipped or repeated"
    );
    let distinct: HashSet<(String, String)> = visited
        .iter()
        .map(|(t, id, _)| (t.clone(), id.clone()))
        .collect();
    assert_eq!(distinct, published);
    for pair in visited.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            a.0 != b.0 || a.2 < b.2,
            "not in seq order within {}: {a:?} then {b:?}",
            a.0
        );
    }
    let mut topics_seen: Vec<&str> = visited.iter().map(|(t, _, _)| t.as_str()).collect();
    topics_seen.dedup();
    assert_eq!(
        topics_seen.len(),
        5,
        "a topic's events are not contiguous: {topics_seen:?}"
    );
}

/// Proves events of a topic come in commit order (not by id or timestamp): ids and timestamps
/// are chosen to sort the other way round from the order of publishing.
#[tokio::test]
async fn events_of_a_topic_are_listed_in_commit_order() {
    // Arrange
    let app = spawn_app().await;
    let order = ["m", "z", "a", "k", "b"];

    // Act
    for (i, id) in order.iter().enumerate() {
        let mut event = app.event("ordered", id);
        event["timestamp"] = json!(format!("2024-05-01T12:00:{:02}Z", 59 - i));
        app.publish_ok(&event).await;
    }

    // Assert
    let pages = all_pages(&app, "topic=ordered", 2).await;
    let listed: Vec<Value> = pages.into_iter().flatten().collect();
    assert_eq!(ids(&listed), order);
    let seqs: Vec<i64> = listed.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}
