//! Bounded answers: `/events` pages end at a byte budget, `/stats` lists at most 1,000 topics
//! (`GET /topics` pages through all), error details are capped, client request ids are short.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{event, spawn_app, spawn_app_with, ApiApp};

/// Proves a page ends before the event that would take it past `--max-page-bytes`, and the
/// cursor goes on from there.
#[tokio::test]
async fn an_events_page_ends_at_its_byte_budget_and_its_cursor_goes_on() {
    let app = spawn_app_with(|config| config.limits.max_page_bytes = 3_000).await;
    let padded = |id: &str| {
        let mut event = event("big", id);
        event["payload"] = json!({"pad": "x".repeat(1_200)});
        event
    };
    app.publish_ok(&json!({"events": [padded("1"), padded("2"), padded("3")]}))
        .await;

    let (status, first) = app.events("limit=10").await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, second) = app.events(&format!("limit=10&cursor={cursor}")).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["count"], 2, "{first}");
    assert_eq!(second["count"], 1, "{second}");
    assert_eq!(second["next_cursor"], Value::Null);
}

/// Proves `GET /topics` pages through every topic and `/stats` counts them in `topics_total`.
#[tokio::test]
async fn topics_are_paged_and_counted() {
    let app = spawn_app().await;
    let events: Vec<Value> = ["b", "a", "c"]
        .iter()
        .map(|topic| event(topic, "1"))
        .collect();
    app.publish_ok(&json!({ "events": events })).await;

    let (status, first) = app.get("/topics?limit=2").await;
    let (_, second) = app.get("/topics?limit=2&cursor=b").await;
    let stats = app.stats_json().await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(first, json!({"topics": ["a", "b"], "next_cursor": "b"}));
    assert_eq!(second, json!({"topics": ["c"], "next_cursor": null}));
    assert_eq!(stats["topics_total"], 3);
    assert_eq!(stats["topics"], json!(["a", "b", "c"]));
}

/// Proves a `GET /topics` limit of any size is capped, like the one of `GET /events`, and an
/// empty one means the default.
#[tokio::test]
async fn any_topics_limit_is_capped_and_an_empty_one_is_the_default() {
    let app = spawn_app().await;
    app.publish_ok(&event("only", "1")).await;

    for limit in ["99999999999999999999999999", "%2B007", ""] {
        let (status, body) = app.get(&format!("/topics?limit={limit}")).await;

        assert_eq!(status, StatusCode::OK, "limit={limit}: {body}");
        assert_eq!(body["topics"], json!(["only"]), "limit={limit}");
    }
}

/// Proves a request with thousands of problems lists the first 100 and counts them all.
#[tokio::test]
async fn validation_details_are_capped_at_100_with_the_total() {
    let app = spawn_app().await;
    let events: Vec<Value> = (0..300).map(|_| json!({"topic": ""})).collect();

    let (status, body) = app.publish(&json!({ "events": events })).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["details"].as_array().unwrap().len(), 100);
    assert_eq!(
        body["details_total"],
        300 * 4,
        "topic, event_id, timestamp, source"
    );
}

/// Proves a client request id is echoed only when short and visible; otherwise replaced.
#[tokio::test]
async fn only_short_visible_request_ids_are_kept() {
    let app = spawn_app().await;
    let ask = |id: String| {
        let request = app
            .client
            .get(app.url("/health"))
            .header("x-request-id", id);
        async move {
            let response = request.send().await.unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };

    let short = ask("trace-42".into()).await;
    let long = ask("x".repeat(300_000)).await;
    let spaced = ask("has spaces".into()).await;

    assert_eq!(short, "trace-42");
    assert!(long.len() < 64, "kept a long id: {} bytes", long.len());
    assert_ne!(spaced, "has spaces");
}
