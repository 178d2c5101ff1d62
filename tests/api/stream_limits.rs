//! The live tail's limits and lifetime, against a real PostgreSQL: `--max-subscribers` (`503`
//! with `Retry-After` past it, a slot back when a client leaves), `:keep-alive` comments while
//! idle, and tails that end when their connection is told to close (server shutdown, maximum
//! connection age), so that neither waits on an answer that never ends.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;

use crate::helpers::{event, json_response, spawn_app, spawn_app_with, TestApp};
use crate::stream_support::*;

/// Proves `--max-subscribers` caps the open tails: past it a tail gets a JSON 503 with
/// `Retry-After`, and once a client goes away its slot serves a new tail.
#[tokio::test]
async fn past_max_subscribers_a_tail_gets_503_until_another_goes_away() {
    // Arrange: heartbeats make the server notice a vanished client soon.
    let app = spawn_app_with(|config| {
        config.limits.max_subscribers = 2;
        config.limits.stream_heartbeat = Duration::from_millis(100);
    })
    .await;
    let first = open(&app, "").await;
    let mut second = open(&app, "topic=t").await;

    // Act
    let response = get_stream(&app, "", None).await;

    // Assert
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry_after = response.headers().get(RETRY_AFTER).cloned();
    let (_, body) = json_response(response).await;
    let retry_after = retry_after.expect("a Retry-After header");
    let seconds: u64 = retry_after
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(seconds >= 1, "{retry_after:?}");
    assert!(body["error"].is_string(), "{body}");

    // Act: one client goes away; a new tail is accepted once the server noticed.
    drop(first);
    let deadline = Instant::now() + WAIT;
    let mut third = loop {
        let response = get_stream(&app, "", None).await;
        match response.status() {
            StatusCode::OK => break tail_of(response, "").await,
            StatusCode::SERVICE_UNAVAILABLE if Instant::now() < deadline => {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            status => panic!("{status} {:?}", response.text().await),
        }
    };

    // Assert: the new tail works, the old one still does, and the cap still holds.
    let (status, body) = refused(&app, "", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    publish(&app, &[event("t", "after")]).await;
    let after = ("t".to_string(), "after".to_string());
    assert_eq!(third.next().await.key(), after);
    assert_eq!(second.next().await.key(), after);
}

/// Proves an idle tail receives `:keep-alive` comments every `stream_heartbeat`, and nothing
/// else.
#[tokio::test]
async fn an_idle_tail_receives_keep_alive_comments() {
    // Arrange
    let app = spawn_app_with(|config| {
        config.limits.stream_heartbeat = Duration::from_millis(200);
    })
    .await;
    let response = get_stream(&app, "topic=quiet", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut bytes = response.bytes_stream();

    // Act: read the raw body until two comments came.
    let mut text = String::new();
    let read = async {
        while keep_alives(&text) < 2 {
            let chunk = bytes
                .next()
                .await
                .expect("the stream is still open")
                .expect("readable bytes");
            text.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .unwrap_or_else(|_| panic!("no two keep-alive comments within {WAIT:?}: {text:?}"));

    // Assert: after the opening position event, comment lines only, each its own SSE block.
    let (opening, rest) = text.split_once("\n\n").expect("a first SSE block");
    assert!(
        opening.contains("event: position") || opening.contains("event:position"),
        "{text:?}"
    );
    assert!(
        rest.split("\n\n")
            .all(|block| block.is_empty() || is_keep_alive(block)),
        "{text:?}"
    );
}

/// Whether an SSE line is the `keep-alive` comment (`:` then the text, a space allowed).
fn is_keep_alive(line: &str) -> bool {
    line.strip_prefix(':').map(str::trim_start) == Some("keep-alive")
}

/// How many `keep-alive` comment lines `text` holds.
fn keep_alives(text: &str) -> usize {
    text.lines().filter(|line| is_keep_alive(line)).count()
}

/// Proves a server with open tails shuts down promptly: each tail's stream ends, cleanly,
/// instead of holding the shutdown until its deadline.
#[tokio::test]
async fn a_server_with_open_tails_stops_promptly_and_ends_them() {
    // Arrange
    let mut app = spawn_app().await;
    let mut every_topic = open(&app, "").await;
    let idle = open(&app, "topic=never").await;
    publish(&app, &[event("t", "1")]).await;
    assert_eq!(every_topic.next().await.key(), ("t".into(), "1".into()));

    // Act
    let started = Instant::now();
    tokio::time::timeout(WAIT, app.stop())
        .await
        .unwrap_or_else(|_| panic!("the app did not stop within {WAIT:?}"));
    let took = started.elapsed();

    // Assert
    assert!(took < Duration::from_secs(3), "stopping took {took:?}");
    assert!(every_topic.ends().await, "the stream ended with an error");
    assert!(idle.ends().await, "the stream ended with an error");
}

/// The next event of `tail`, reconnecting from `from` (an SSE id) whenever the connection
/// ends first, as a real client does; the event and the tail it came on. Here every connection
/// lives 500 ms, and a cross-topic tail sends an event only once every older transaction of
/// the cluster has ended (other tests' included), which can take longer.
async fn next_reconnecting(app: &TestApp, mut tail: Tail, from: &str) -> (Received, Tail) {
    let started = Instant::now();
    loop {
        if let Some(received) = tail.next_or_end().await {
            return (received, tail);
        }
        assert!(
            started.elapsed() < WAIT,
            "no event after {from} within {WAIT:?}"
        );
        tail = open_with(app, "", Some(from)).await;
    }
}

/// Proves a tail ends when its connection reaches `--max-connection-age` (hyper's graceful
/// close would otherwise wait for an answer that never ends), and a client resuming from its
/// last id on a new connection misses nothing.
#[tokio::test]
async fn a_tail_ends_at_the_maximum_connection_age_and_resumes_on_a_new_connection() {
    // Arrange
    let app = spawn_app_with(|config| {
        config.limits.connections.max_connection_age = Duration::from_millis(500);
    })
    .await;
    let tail = open(&app, "").await;
    let start = tail.start.clone();
    publish(&app, &[event("t", "1")]).await;
    let (first, tail) = next_reconnecting(&app, tail, &start).await;

    // Act
    let started = Instant::now();
    let ended = tail.ends().await;
    let lasted = started.elapsed();
    publish(&app, &[event("t", "2")]).await;
    let resumed = open_with(&app, "", Some(&first.id)).await;
    let (next, _) = next_reconnecting(&app, resumed, &first.id).await;

    // Assert
    assert!(ended, "the stream ended with an error");
    assert!(
        lasted < WAIT,
        "the tail outlived its connection's age by {lasted:?}"
    );
    assert_eq!(next.key(), ("t".into(), "2".into()));
}
