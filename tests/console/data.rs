//! The events the console tests publish: a small mixed set ([`mixed_events`]: three topics,
//! four levels, a few users and messages, a nested `http.status`) and bulk arrays of one word
//! ([`bulk_events`]). Timestamps are in the recent past, so the console's "last hour" holds them
//! all whatever second the page asks at.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// The topics of [`mixed_events`]: two under `orders.` (what the limited key may read) and one
/// outside.
pub const TOPICS: [&str; 3] = ["orders.eu", "orders.us", "payments.eu"];

/// The levels of [`mixed_events`], every one used.
pub const LEVELS: [&str; 4] = ["info", "warn", "error", "debug"];

const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

const MESSAGES: [&str; 4] = [
    "order paid",
    "payment timeout",
    "checkout started",
    "stock reserved",
];

/// RFC 3339 in UTC to the millisecond, as the console's URL and the API's parameters take it.
pub fn iso(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One event of `topic` with `payload`, at `timestamp`.
pub fn event(topic: &str, event_id: &str, timestamp: DateTime<Utc>, payload: Value) -> Value {
    json!({
        "topic": topic,
        "event_id": event_id,
        "timestamp": iso(timestamp),
        "source": "console-test",
        "payload": payload,
    })
}

/// `count` events over [`TOPICS`], [`LEVELS`], users and messages, `e-000`, `e-001`, … one every
/// 29 seconds back from `now` (60 of them span 29 minutes). Topic, level and user cycle with
/// different periods, so each level occurs in each topic.
pub fn mixed_events(count: usize, now: DateTime<Utc>) -> Vec<Value> {
    (0..count)
        .map(|index| {
            let level = LEVELS[index % LEVELS.len()];
            let status = if level == "error" { 500 } else { 200 };
            let payload = json!({
                "level": level,
                "user": USERS[index % USERS.len()],
                "message": MESSAGES[(index / 2) % MESSAGES.len()],
                "http": {"status": status},
            });
            let age = chrono::Duration::seconds(29 * index as i64 + 5);
            event(
                TOPICS[index % TOPICS.len()],
                &format!("e-{index:03}"),
                now - age,
                payload,
            )
        })
        .collect()
}

/// `count` events of topic `bulk.perf` holding the word `perfrun`, `p-00000`, … spread evenly
/// over the 50 minutes before `now`, newest first.
pub fn bulk_events(count: usize, now: DateTime<Utc>) -> Vec<Value> {
    let span_ms = 50 * 60 * 1000;
    (0..count)
        .map(|index| {
            let age = chrono::Duration::milliseconds(1000 + (span_ms * index / count) as i64);
            let payload = json!({
                "level": LEVELS[index % LEVELS.len()],
                "message": format!("perfrun event {index}"),
            });
            event("bulk.perf", &format!("p-{index:05}"), now - age, payload)
        })
        .collect()
}
