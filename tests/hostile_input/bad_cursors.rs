//! Cursors and query strings from elsewhere are refused alike on every route that takes them:
//! another topic's cursor, a negative position, a tail's cursor on a listing, and bytes that
//! are not UTF-8 in a topic, each a `400` naming the parameter.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::backend::Backend;
use crate::{event, Server};

#[tokio::test]
async fn cursors_and_topics_are_checked_alike_on_every_route_on_postgres() {
    cursors_and_topics_are_checked_alike_on_every_route(Backend::postgres().await).await;
}

#[tokio::test]
async fn cursors_and_topics_are_checked_alike_on_every_route_on_the_embedded_store() {
    cursors_and_topics_are_checked_alike_on_every_route(Backend::embedded()).await;
}

async fn cursors_and_topics_are_checked_alike_on_every_route(backend: Backend) {
    // Arrange: topics that sort before and after `m.t`, each with a cursor in hand.
    let server = Server::start(backend).await;
    let events: Vec<Value> = ["a.before", "m.t", "z.after"]
        .iter()
        .flat_map(|topic| [event(topic, "1"), event(topic, "2")])
        .collect();
    let body = serde_json::to_vec(&json!({ "events": events })).unwrap();
    let (status, published) = server
        .post("/publish", "application/json", None, body)
        .await;
    assert_eq!(status, StatusCode::OK, "{published}");
    let cursor_of = |topic: &'static str| {
        let server = &server;
        async move {
            let (_, page) = server
                .get(&format!("/events?topic={topic}&limit=1"), &[])
                .await;
            page["next_cursor"].as_str().unwrap().to_owned()
        }
    };
    let before = cursor_of("a.before").await;
    let after = cursor_of("z.after").await;
    let own = cursor_of("m.t").await;
    let hex = &own[own.find('.').unwrap() + 1..];

    // Act and Assert: each refusal names its parameter.
    let refused = [
        (format!("/events?topic=m.t&cursor={after}"), "cursor"),
        (format!("/events?topic=m.t&cursor={before}"), "cursor"),
        (format!("/events/stream?topic=m.t&cursor={after}"), "cursor"),
        (format!("/events?topic=m.t&cursor=-5.{hex}"), "cursor"),
        (format!("/events?cursor=-5.{hex}"), "cursor"),
        ("/events?topic=m.t&cursor=all.1.2".to_owned(), "cursor"),
        ("/events/stream?cursor=all.-1.-1".to_owned(), "cursor"),
        (
            format!("/events/stream?topic=m.t&cursor=-1.{hex}"),
            "cursor",
        ),
        ("/events/stream?topic=%ff".to_owned(), "topic"),
        ("/events?topic=%ff".to_owned(), "topic"),
        ("/events?source=%C3".to_owned(), "source"),
    ];
    for (path, field) in &refused {
        let (status, body) = server.get(path, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["details"][0]["field"], *field, "{path}: {body}");
    }
    let last_event_id = format!("-1.{hex}");
    let (status, body) = server
        .get(
            "/events/stream?topic=m.t",
            &[("last-event-id", &last_event_id)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["field"], "Last-Event-ID", "{body}");

    // The cursor of the same topic still pages on from where it was.
    let (status, page) = server
        .get(&format!("/events?topic=m.t&cursor={own}"), &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["events"][0]["event_id"], "2", "{page}");
    assert_eq!(page["count"], 1);
    let (status, _) = server
        .get(&format!("/events/stream?topic=m.t&cursor={own}"), &[])
        .await;
    assert_eq!(status, StatusCode::OK);
}
