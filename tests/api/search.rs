//! `GET /events?q=`: a search across topics returns exactly the matching events, a query that
//! cannot be read is a 400 naming its position and token, and a key limited to topic prefixes
//! finds nothing outside them.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::auth_support::{bearer, get_as, publish_ok_as, spawn_keyed_app, KeysFile};
use crate::helpers::{event, spawn_app, spawn_app_with, ApiApp};
use aggregator::auth::Scope;

/// An event of `topic` whose payload is `payload`.
fn event_with(topic: &str, id: &str, source: &str, payload: Value) -> Value {
    let mut event = event(topic, id);
    event["source"] = json!(source);
    event["payload"] = payload;
    event
}

fn ids(page: &Value) -> Vec<&str> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["event_id"].as_str().unwrap())
        .collect()
}

fn search(q: &str) -> String {
    format!("q={}", utf8_percent_encode(q, NON_ALPHANUMERIC))
}

/// Proves words, fields, ranges and boolean operators select across topics exactly the events
/// they describe (listed by topic, so that the order does not depend on commit order).
#[tokio::test]
async fn a_search_returns_exactly_the_matching_events_across_topics() {
    // Arrange
    let app = spawn_app().await;
    app.publish_ok(&json!([
        event_with(
            "checkout",
            "c1",
            "web",
            json!({"level": "error", "message": "Payment TIMEOUT", "latency_ms": 900})
        ),
        event_with(
            "checkout",
            "c2",
            "web",
            json!({"level": "info", "message": "order paid", "latency_ms": 120})
        ),
        event_with(
            "billing",
            "b1",
            "cron",
            json!({"level": "error", "message": "invoice failed", "http": {"status": 502}})
        ),
        event_with(
            "billing",
            "b2",
            "cron",
            json!({"level": "warn", "message": "retry timeout"})
        ),
    ]))
    .await;

    for (q, expected) in [
        ("level:error", vec!["b1", "c1"]),
        ("timeout", vec!["b2", "c1"]),
        ("\"payment timeout\"", vec!["c1"]),
        ("level:error AND source:web", vec!["c1"]),
        (
            "latency_ms:>500 OR http.status:[500 TO 599]",
            vec!["b1", "c1"],
        ),
        ("-level:error topic:check*", vec!["c2"]),
        ("NOT (timeout OR paid)", vec!["b1"]),
    ] {
        // Act
        let (status, page) = app.events(&format!("{}&order=topic", search(q))).await;

        // Assert
        assert_eq!(status, StatusCode::OK, "{q}: {page}");
        assert_eq!(ids(&page), expected, "{q}");
    }
}

/// Proves a query that cannot be read is a 400 whose details name `q`, the position and the
/// token.
#[tokio::test]
async fn a_query_that_cannot_be_read_is_a_400_naming_its_position_and_token() {
    let app = spawn_app().await;
    for (q, position, token) in [
        ("level:error OR", "position 15", "\"\""),
        ("(level:error", "position 1", "\"(\""),
        ("status:[1 TO x]", "position 14", "\"x]\""),
    ] {
        let (status, body) = app.events(&search(q)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert_eq!(body["details"][0]["field"], "q", "{q}: {body}");
        let reason = body["details"][0]["reason"].as_str().unwrap();
        assert!(
            reason.contains(position) && reason.contains(token),
            "{q}: {reason}"
        );
    }
}

/// Proves a key limited to `orders.` finds only `orders.*` events, whatever it searches for.
#[tokio::test]
async fn a_key_limited_to_a_prefix_searches_only_its_topics() {
    // Arrange
    let file = KeysFile::new();
    let publisher = bearer(&file.add("publisher", &[Scope::Publish], &[], None));
    let reader = bearer(&file.add("orders-reader", &[Scope::Read], &["orders."], None));
    let app = spawn_keyed_app(&file).await;
    let stored = [
        event_with("orders.eu", "o1", "web", json!({"level": "error"})),
        event_with("payments", "p1", "web", json!({"level": "error"})),
    ];
    publish_ok_as(&app, &publisher, &stored).await;

    for q in [
        "level:error",
        "topic:payments",
        "topic:*",
        "-topic:orders.*",
    ] {
        // Act
        let (status, page) = get_as(&app, &format!("/events?{}", search(q)), &reader).await;

        // Assert
        assert_eq!(status, StatusCode::OK, "{q}: {page}");
        assert!(
            ids(&page).iter().all(|id| id.starts_with('o')),
            "{q}: {page}"
        );
    }
}

/// Proves a search past `--max-concurrent-queries` is a 429 with `Retry-After`, while a plain
/// listing is still served.
#[tokio::test]
async fn a_search_past_the_concurrent_limit_is_a_429_and_listings_go_on() {
    // Arrange: no search may run at all.
    let app = spawn_app_with(|config| config.limits.max_concurrent_queries = 0).await;
    app.publish_ok(&json!([event("t", "1")])).await;

    // Act
    let searched = app
        .client
        .get(app.url(&format!("/events?{}", search("t"))))
        .send()
        .await
        .unwrap();
    let (listed_status, listed) = app.events("topic=t").await;

    // Assert
    assert_eq!(searched.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(searched.headers().contains_key("retry-after"));
    assert_eq!(listed_status, StatusCode::OK);
    assert_eq!(listed["count"], 1);
}

/// Proves a live tail with `q` sends exactly the matching events, in commit order, and that a
/// query it cannot read is a 400 naming `q`.
#[tokio::test]
async fn a_live_tail_with_a_query_sends_only_matching_events() {
    // Arrange
    let app = spawn_app().await;
    let mut tail = crate::stream_support::open(&app, &search("level:error OR timeout")).await;
    let published = [
        event_with("a", "1", "web", json!({"level": "info", "message": "fine"})),
        event_with("a", "2", "web", json!({"level": "error"})),
        event_with(
            "b",
            "3",
            "web",
            json!({"level": "info", "message": "disk timeout"}),
        ),
        event_with("a", "4", "web", json!({"level": "warn"})),
        event_with("b", "5", "web", json!({"level": "error"})),
    ];

    // Act
    for event in &published {
        app.publish_ok(&json!([event])).await;
    }
    let received = tail.take(3).await;
    let refused = app
        .client
        .get(app.url(&format!("/events/stream?{}", search("a OR"))))
        .send()
        .await
        .unwrap();

    // Assert
    let ids: Vec<String> = received.iter().map(|r| r.key().1).collect();
    assert_eq!(ids, ["2", "3", "5"]);
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["details"][0]["field"], "q", "{body}");
}

/// Every page of `/events?<query>`, 2 events a page, following `next_cursor`.
async fn every_page(app: &crate::helpers::TestApp, query: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app
            .events(&format!("{query}&limit=2&cursor={cursor}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        found.extend(ids(&page).into_iter().map(str::to_owned));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return found,
        }
    }
}

/// Proves a search across topics lists newest first by default, `order=oldest` and
/// `order=topic` list as they say, pages follow their cursors without skip or repeat, and a
/// cursor of another order is a 400 naming `cursor`.
#[tokio::test]
async fn a_search_lists_newest_first_by_default_and_in_the_order_asked() {
    // Arrange: timestamps out of publishing and topic order; one request each, so that commit
    // order (which breaks ties in time) is publishing order.
    let app = spawn_app().await;
    let at = |minute: u32| format!("2026-12-07T10:{minute:02}:00Z");
    for (topic, id, minute) in [
        ("b", "b1", 5),
        ("a", "a1", 1),
        ("b", "b2", 3),
        ("a", "a2", 9),
        ("c", "c1", 3),
    ] {
        let mut event = event_with(topic, id, "web", json!({"level": "error"}));
        event["timestamp"] = json!(at(minute));
        app.publish_ok(&json!([event])).await;
    }
    let q = search("level:error");

    // Act
    let newest = every_page(&app, &q).await;
    let oldest = every_page(&app, &format!("{q}&order=oldest")).await;
    let by_topic = every_page(&app, &format!("{q}&order=topic")).await;
    let one_topic = every_page(&app, &format!("{q}&topic=b")).await;
    let (_, first) = app.events(&format!("{q}&limit=2")).await;
    let newest_cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (wrong_order, body) = app
        .events(&format!("{q}&order=oldest&cursor={newest_cursor}"))
        .await;
    let (wrong_kind, _) = app
        .events(&format!("{q}&order=topic&cursor={newest_cursor}"))
        .await;

    // Assert: ties in time (b2, c1 at :03) are broken by commit order, newest last committed first.
    assert_eq!(newest, ["a2", "b1", "c1", "b2", "a1"]);
    assert_eq!(oldest, ["a1", "b2", "c1", "b1", "a2"]);
    assert_eq!(by_topic, ["a1", "a2", "b1", "b2", "c1"]);
    assert_eq!(one_topic, ["b1", "b2"]);
    assert_eq!(wrong_order, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["field"], "cursor", "{body}");
    assert_eq!(wrong_kind, StatusCode::BAD_REQUEST);
}

/// Proves `/events/count` lists every bucket of the range (zeros included) with the series of
/// the most frequent values of `by`, `/events/values` ranks a field's values, a key limited to
/// a prefix counts only its topics, and bad parameters are 400s naming them.
#[tokio::test]
async fn counts_over_time_and_top_values_answer_what_the_events_hold() {
    // Arrange
    let file = KeysFile::new();
    let publisher = bearer(&file.add("publisher", &[Scope::Publish], &[], None));
    let reader = bearer(&file.add("reader", &[Scope::Read], &[], None));
    let orders_reader = bearer(&file.add("orders-reader", &[Scope::Read], &["orders."], None));
    let app = spawn_keyed_app(&file).await;
    let mut stored = Vec::new();
    for (n, (topic, level, minute)) in [
        ("orders.eu", "error", 0),
        ("orders.eu", "info", 0),
        ("orders.eu", "error", 2),
        ("payments", "error", 2),
        ("payments", "warn", 4),
    ]
    .into_iter()
    .enumerate()
    {
        let mut event = event_with(topic, &format!("e{n}"), "web", json!({"level": level}));
        event["timestamp"] = json!(format!("2026-12-07T10:{minute:02}:30Z"));
        stored.push(event);
    }
    publish_ok_as(&app, &publisher, &stored).await;
    let range = "since=2026-12-07T10:00:00Z&until=2026-12-07T10:05:00Z";

    // Act
    let (status, counts) = get_as(
        &app,
        &format!("/events/count?{range}&interval=1m&by=level&top=2"),
        &reader,
    )
    .await;
    let (_, limited) = get_as(
        &app,
        &format!("/events/count?{range}&interval=1m"),
        &orders_reader,
    )
    .await;
    let (_, values) = get_as(
        &app,
        &format!("/events/values?{range}&field=level"),
        &reader,
    )
    .await;
    let (_, searched) = get_as(
        &app,
        &format!(
            "/events/values?{range}&field=topic&{}",
            search("level:error")
        ),
        &reader,
    )
    .await;
    let (bad_status, bad) = get_as(
        &app,
        &format!(
            "/events/count?{range}&interval=5x&by=timestamp&{}",
            search("a OR")
        ),
        &reader,
    )
    .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(counts["total"], 5);
    assert_eq!(counts["interval_seconds"], 60.0);
    let per_minute: Vec<u64> = counts["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bucket| bucket["count"].as_u64().unwrap())
        .collect();
    assert_eq!(per_minute, [2, 0, 2, 0, 1]);
    assert_eq!(counts["series"][0]["value"], "error");
    assert_eq!(counts["series"][0]["total"], 3);
    assert_eq!(counts["series"][0]["buckets"][2]["count"], 2);
    assert_eq!(counts["series"][1]["value"], "info");
    assert_eq!(counts["series"].as_array().unwrap().len(), 2);
    assert_eq!(limited["total"], 3, "{limited}");
    assert_eq!(
        values["values"],
        json!([{"value": "error", "count": 3}, {"value": "info", "count": 1}, {"value": "warn", "count": 1}])
    );
    assert_eq!(
        searched["values"],
        json!([{"value": "orders.eu", "count": 2}, {"value": "payments", "count": 1}])
    );
    assert_eq!(bad_status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = bad["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| issue["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["q", "interval", "by"], "{bad}");
}

/// Proves `aggregator search` prints the matching events as `tail` does, `--count` prints
/// their number, and a query the server refuses fails the command with the server's words.
#[tokio::test]
async fn the_search_command_prints_matches_their_count_and_refusals() {
    // Arrange
    let app = spawn_app().await;
    let now = chrono::Utc::now().to_rfc3339();
    let mut stored = Vec::new();
    for (id, level) in [("1", "error"), ("2", "info"), ("3", "error")] {
        let mut event = event_with("cli", id, "web", json!({"level": level}));
        event["timestamp"] = json!(now);
        stored.push(event);
    }
    app.publish_ok(&json!(stored)).await;
    let run = |args: &[&str]| {
        let mut command = crate::common::process::aggregator_command();
        command
            .arg("search")
            .args(args)
            .arg("--url")
            .arg(app.url(""));
        async move {
            tokio::process::Command::from(command)
                .output()
                .await
                .unwrap()
        }
    };

    // Act
    let listed = run(&["level:error", "--order", "oldest"]).await;
    let counted = run(&["level:error", "--count", "--since", "1h"]).await;
    let refused = run(&["level:error OR"]).await;

    // Assert
    let lines: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines
        .iter()
        .all(|line| line.contains(" cli [web] ") && line.contains("error")));
    assert_eq!(String::from_utf8(counted.stdout).unwrap().trim(), "2");
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(stderr.contains("expected a term"), "{stderr}");
}

/// Proves `/fields` lists the payload fields of the events a search matches, most frequent
/// first, and that a key limited to a prefix never sees another topic's field names.
#[tokio::test]
async fn fields_list_what_the_matching_events_hold_and_only_the_keys_topics() {
    // Arrange
    let file = KeysFile::new();
    let publisher = bearer(&file.add("publisher", &[Scope::Publish], &[], None));
    let reader = bearer(&file.add("reader", &[Scope::Read], &[], None));
    let orders_reader = bearer(&file.add("orders-reader", &[Scope::Read], &["orders."], None));
    let app = spawn_keyed_app(&file).await;
    publish_ok_as(
        &app,
        &publisher,
        &[
            event_with(
                "orders.eu",
                "1",
                "web",
                json!({"level": "error", "http": {"status": 500}}),
            ),
            event_with("orders.eu", "2", "web", json!({"level": "info"})),
            event_with(
                "payments",
                "3",
                "web",
                json!({"level": "error", "card_secret": "x"}),
            ),
        ],
    )
    .await;

    // Act
    let (status, all) = get_as(&app, "/fields", &reader).await;
    let (_, errors) = get_as(&app, &format!("/fields?{}", search("level:error")), &reader).await;
    let (_, limited) = get_as(&app, "/fields", &orders_reader).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{all}");
    let names = |answer: &Value| -> Vec<(String, u64)> {
        answer["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|field| {
                (
                    field["field"].as_str().unwrap().to_owned(),
                    field["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        names(&all),
        [
            ("level".to_owned(), 3),
            ("card_secret".to_owned(), 1),
            ("http".to_owned(), 1),
            ("http.status".to_owned(), 1)
        ]
    );
    assert_eq!(all["sampled"], 3);
    assert_eq!(all["complete"], true);
    assert_eq!(names(&errors).first(), Some(&("level".to_owned(), 2)));
    assert!(
        names(&limited)
            .iter()
            .all(|(name, _)| name != "card_secret"),
        "{limited}"
    );
}
