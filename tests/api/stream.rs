//! `GET /events/stream`, the live tail as Server-Sent Events, against a real PostgreSQL: every
//! tail opens with a `position` event naming where it starts; a topic's tail sends the stored
//! events in `/events` order and then the new ones, with the `/events` cursors as ids and the
//! `/events` JSON as data; a tail from the end sends only what is published after it opened
//! (across topics, possibly also rows committed while an older transaction was still running:
//! the documented start at the visibility horizon), and one reopened from its `position` gets
//! what was published meanwhile; a tail of every topic gets concurrent publishes exactly once
//! and resumes from `Last-Event-ID` (or `cursor`, or a `/events` `next_cursor`) with no gap and
//! no repeat; the `source` filter; 400s naming the parameter at fault. Limits, heartbeats and
//! closing are in `stream_limits.rs`.
//!
//! Every wait is bounded ([`WAIT`]) and waits on something the server sends. Absence is shown
//! with a sentinel: publish one more event, and the next event a tail receives must be it.

use std::collections::HashSet;

use reqwest::header::HeaderValue;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{event, spawn_app, ApiApp};
use crate::stream_support::*;

/// Proves `from=start` with a topic sends that topic's stored events in `/events` order, then
/// the ones published afterwards, each with the `/events` JSON as `data` and the cursor
/// `/events` hands out after that event as `id`.
#[tokio::test]
async fn from_start_a_topic_tail_sends_stored_events_in_listing_order_then_new_ones() {
    // Arrange: several commits, ids out of order, another topic interleaved.
    let app = spawn_app().await;
    publish(
        &app,
        &[
            event("orders", "o-c"),
            event("other", "x-1"),
            event("orders", "o-a"),
        ],
    )
    .await;
    publish(&app, &[event("other", "x-2"), event("orders", "o-b")]).await;
    let stored = listing(&app, "topic=orders").await;
    assert_eq!(stored.len(), 3);

    // Act
    let mut tail = open(&app, "topic=orders&from=start").await;
    assert_eq!(
        tail.start,
        topic_cursor(0, "orders"),
        "it starts before every event"
    );
    let mut received = tail.take(3).await;
    publish(&app, &[event("orders", "o-e")]).await;
    publish(&app, &[event("other", "x-3")]).await;
    publish(&app, &[event("orders", "o-d")]).await;
    received.extend(tail.take(2).await);

    // Assert: the data is `/events`' JSON, in `/events`' order.
    let listed = listing_with_cursors(&app, "topic=orders").await;
    let data: Vec<&Value> = received.iter().map(|r| &r.data).collect();
    let expected: Vec<&Value> = listed.iter().map(|(event, _)| event).collect();
    assert_eq!(data, expected);
    let keys: Vec<String> = received.iter().map(|r| r.key().1).collect();
    assert_eq!(keys[3..], ["o-e", "o-d"], "new events come in commit order");
    // Each id is the cursor `/events` hands out after that event.
    for (received, (event, next_cursor)) in received.iter().zip(&listed) {
        let seq = event["seq"].as_i64().expect("seq is a number");
        assert_eq!(received.id, topic_cursor(seq, "orders"), "{event}");
        if let Some(next_cursor) = next_cursor {
            assert_eq!(&received.id, next_cursor, "{event}");
        }
    }
    let last = &received.last().expect("events received").id;
    let (status, after_last) = app.events(&format!("topic=orders&cursor={last}")).await;
    assert_eq!(status, StatusCode::OK, "{after_last}");
    assert_eq!(
        after_last["count"], 0,
        "the last id is a cursor after it: {after_last}"
    );
}

/// Proves a topic's tail from the end (the default, or `from=end`) starts after the topic's
/// last event and sends only events published after it opened; and that a tail of every topic
/// from the end loses none of them.
#[tokio::test]
async fn from_the_end_a_tail_sends_only_events_published_after_it_opened() {
    // Arrange
    let app = spawn_app().await;
    publish(&app, &[event("t", "old-1"), event("u", "old-1")]).await;
    publish(&app, &[event("t", "old-2")]).await;
    let last_of_t = listing(&app, "topic=t").await.last().expect("stored")["seq"].clone();
    let last_of_t = last_of_t.as_i64().expect("seq is a number");

    // Act
    let mut by_default = open(&app, "topic=t").await;
    let mut from_end = open(&app, "topic=t&from=end").await;
    let mut every_topic = open(&app, "").await;
    publish(&app, &[event("u", "new-1")]).await;
    publish(&app, &[event("t", "new-2")]).await;
    publish(&app, &[event("t", "new-3")]).await;

    // Assert: the first events received are the new ones (older ones would come first).
    for tail in [&mut by_default, &mut from_end] {
        assert_eq!(tail.start, topic_cursor(last_of_t, "t"), "after the last");
        let keys: Vec<(String, String)> = tail.take(2).await.iter().map(Received::key).collect();
        assert_eq!(keys, pairs(&[("t", "new-2"), ("t", "new-3")]));
    }
    assert!(
        every_topic.start.starts_with("all."),
        "{}",
        every_topic.start
    );
    let earlier = read_until(
        &mut every_topic,
        &pairs(&[("u", "new-1"), ("t", "new-2"), ("t", "new-3")]),
    )
    .await;
    // Across topics a tail starts at the visibility horizon (docs/http-api.md, DESIGN "Live tail"): rows
    // committed while an older transaction was still running, anywhere in the cluster, may
    // come first; none may be lost, repeated or reordered.
    assert_only_old(&earlier);
}

/// Proves a tail that received nothing but its opening `position` event, reconnected with that
/// id as `Last-Event-ID` (what a browser's `EventSource` does), gets what was published while
/// it was away, with or without a topic.
#[tokio::test]
async fn a_tail_reopened_from_its_position_event_gets_what_was_published_meanwhile() {
    // Arrange
    let app = spawn_app().await;
    publish(&app, &[event("t", "old")]).await;
    let every_topic = open(&app, "").await;
    let topic_t = open(&app, "topic=t").await;
    let (every_topic_start, topic_t_start) = (every_topic.start.clone(), topic_t.start.clone());
    drop((every_topic, topic_t));
    publish(&app, &[event("u", "meanwhile")]).await;
    publish(&app, &[event("t", "meanwhile")]).await;

    // Act
    let mut every_topic = open_with(&app, "", Some(&every_topic_start)).await;
    let mut topic_t = open_with(&app, "topic=t", Some(&topic_t_start)).await;

    // Assert
    assert_eq!(every_topic.start, every_topic_start);
    assert_eq!(topic_t.start, topic_t_start);
    assert_eq!(topic_t.next().await.key(), ("t".into(), "meanwhile".into()));
    let earlier = read_until(
        &mut every_topic,
        &pairs(&[("u", "meanwhile"), ("t", "meanwhile")]),
    )
    .await;
    // Should be empty (see the previous test).
    assert_only_old(&earlier);
}

/// Proves a tail of every topic receives events published by concurrent requests to several
/// topics exactly once, in increasing `all.<tx>.<seq>` positions, and that reconnecting with
/// `Last-Event-ID` set to an id in the middle (which wins over `cursor`) resumes with exactly
/// the rest: no gap, no repeat.
#[tokio::test]
async fn a_tail_of_every_topic_gets_concurrent_publishes_once_and_resumes_from_last_event_id() {
    // Arrange
    let app = spawn_app().await;
    let topics = ["alpha", "beta", "gamma", "delta"];
    let requests: Vec<Vec<Value>> = (0..8)
        .map(|r| {
            topics
                .iter()
                .flat_map(|topic| (0..2).map(move |i| event(topic, &format!("r{r}-{i}"))))
                .collect()
        })
        .collect();
    let published: HashSet<(String, String)> = requests.iter().flatten().map(key_of).collect();
    assert_eq!(published.len(), 64);
    let mut tail = open(&app, "").await;

    // Act: every request at once.
    futures::future::join_all(requests.iter().map(|events| publish(&app, events))).await;
    let received = tail.take(published.len()).await;

    // Assert: each event once, positions increasing.
    let keys: HashSet<(String, String)> = received.iter().map(Received::key).collect();
    assert_eq!(keys.len(), received.len(), "an event came twice");
    assert_eq!(keys, published);
    let positions: Vec<(i64, i64)> = received.iter().map(|r| all_position(&r.id)).collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "positions do not increase: {positions:?}"
    );
    for topic in topics {
        let seqs: Vec<i64> = received
            .iter()
            .filter(|r| r.data["topic"] == topic)
            .map(|r| r.data["seq"].as_i64().expect("seq is a number"))
            .collect();
        assert!(
            seqs.windows(2).all(|pair| pair[0] < pair[1]),
            "{topic} out of seq order: {seqs:?}"
        );
    }

    // Act: reconnect after the 30th event; the `cursor` parameter names another position.
    let middle = 29;
    let query = format!("cursor={}", received[4].id);
    let mut resumed = open_with(&app, &query, Some(&received[middle].id)).await;
    assert_eq!(resumed.start, received[middle].id);
    let rest = resumed.take(received.len() - middle - 1).await;

    // Assert: exactly the rest, then nothing but what is new.
    assert_eq!(rest, received[middle + 1..]);
    publish(&app, &[event("beta", "sentinel")]).await;
    let sentinel = ("beta".to_string(), "sentinel".to_string());
    assert_eq!(resumed.next().await.key(), sentinel);
    assert_eq!(tail.next().await.key(), sentinel);
}

/// Proves a topic's tail resumes with `cursor` set to one of its ids, or to a `next_cursor`
/// of `GET /events` for that topic, with exactly the events after it.
#[tokio::test]
async fn a_topic_tail_resumes_from_its_own_id_or_from_an_events_next_cursor() {
    // Arrange
    let app = spawn_app().await;
    for i in 0..6 {
        publish(
            &app,
            &[event("t", &format!("e{i}")), event("u", &format!("e{i}"))],
        )
        .await;
    }
    let mut first = open(&app, "topic=t&from=start").await;
    let seen = first.take(6).await;
    drop(first);
    let (status, page) = app.events("topic=t&limit=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let next_cursor = page["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();

    // Act
    let mut from_id = open(&app, &format!("topic=t&cursor={}", seen[2].id)).await;
    let mut from_listing = open(&app, &format!("topic=t&cursor={next_cursor}&from=end")).await;

    // Assert: each starts where it was told, gets exactly what follows, then only new events.
    assert_eq!(from_id.start, seen[2].id);
    assert_eq!(from_listing.start, next_cursor);
    assert_eq!(from_id.take(3).await, seen[3..]);
    assert_eq!(from_listing.take(4).await, seen[2..]);
    publish(&app, &[event("u", "later"), event("t", "sentinel")]).await;
    let sentinel = ("t".to_string(), "sentinel".to_string());
    assert_eq!(from_id.next().await.key(), sentinel);
    assert_eq!(from_listing.next().await.key(), sentinel);
}

/// Proves `source=` limits a tail, with or without a topic, to that source's events: the
/// stored ones (as `/events` lists them) and the new ones.
#[tokio::test]
async fn the_source_filter_limits_a_tail_to_that_source() {
    // Arrange
    let app = spawn_app().await;
    let mut batch = Vec::new();
    for (i, source) in ["billing", "auth", "billing", "auth", "billing", "billing"]
        .iter()
        .enumerate()
    {
        batch.push(event_from(&format!("t{}", i % 2), &format!("e{i}"), source));
    }
    publish(&app, &batch).await;

    // Act
    let mut every_topic = open(&app, "source=billing&from=start").await;
    let mut topic_t0 = open(&app, "topic=t0&source=billing&from=start").await;
    let stored_every_topic = every_topic.take(4).await;
    let stored_t0 = topic_t0.take(3).await;
    publish(&app, &[event_from("t0", "late-auth", "auth")]).await;
    publish(&app, &[event_from("t1", "late-auth", "auth")]).await;
    publish(&app, &[event_from("t0", "late-billing", "billing")]).await;

    // Assert
    let keys: HashSet<(String, String)> = stored_every_topic.iter().map(Received::key).collect();
    let listed: HashSet<(String, String)> = listing(&app, "source=billing")
        .await
        .iter()
        .filter(|event| {
            !event["event_id"]
                .as_str()
                .unwrap_or_default()
                .starts_with("late")
        })
        .map(key_of)
        .collect();
    assert_eq!(keys, listed);
    let data: Vec<Value> = stored_t0.into_iter().map(|r| r.data).collect();
    let listed_t0 = listing(&app, "topic=t0&source=billing").await;
    assert_eq!(data, listed_t0[..3]);
    let late = ("t0".to_string(), "late-billing".to_string());
    assert_eq!(every_topic.next().await.key(), late);
    assert_eq!(topic_t0.next().await.key(), late);
}

/// Proves every malformed parameter is a 400 whose details name exactly that parameter: a
/// cursor the server never handed out, a cursor of another topic, a topic's cursor without the
/// topic, a cursor of every topic with a topic, `from` other than `start`/`end`, a NUL in a
/// filter, and a `Last-Event-ID` that is not a cursor.
#[tokio::test]
async fn a_malformed_parameter_is_a_400_naming_it() {
    let app = spawn_app().await;
    let cursor_of_u = topic_cursor(3, "u");
    let cursor_of_t = topic_cursor(3, "t");
    let cases: Vec<(String, Option<HeaderValue>, &str)> = vec![
        ("cursor=garbage".into(), None, "cursor"),
        ("topic=t&cursor=garbage".into(), None, "cursor"),
        ("topic=t&cursor=12.zz".into(), None, "cursor"),
        ("cursor=all.1".into(), None, "cursor"),
        ("cursor=all.x.2".into(), None, "cursor"),
        (format!("topic=t&cursor={cursor_of_u}"), None, "cursor"),
        (format!("cursor={cursor_of_t}"), None, "cursor"),
        ("topic=t&cursor=all.1.2".into(), None, "cursor"),
        ("from=xyz".into(), None, "from"),
        ("topic=t&from=START".into(), None, "from"),
        ("topic=a%00b".into(), None, "topic"),
        ("source=%00".into(), None, "source"),
        (
            "".into(),
            Some(HeaderValue::from_static("garbage")),
            "Last-Event-ID",
        ),
        (
            "topic=t".into(),
            Some(HeaderValue::from_str(&cursor_of_u).expect("a header value")),
            "Last-Event-ID",
        ),
        (
            "cursor=all.1.2".into(),
            Some(HeaderValue::from_bytes(b"\xff\xfe").expect("a header value")),
            "Last-Event-ID",
        ),
    ];
    for (query, header, field) in cases {
        let (status, body) = refused(&app, &query, header.clone()).await;

        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{query} {header:?}: {body}"
        );
        let fields: Vec<&Value> = body["details"]
            .as_array()
            .unwrap_or_else(|| panic!("{query} {header:?}: no details in {body}"))
            .iter()
            .map(|issue| &issue["field"])
            .collect();
        assert_eq!(fields, [field], "{query} {header:?}: {body}");
    }
}
