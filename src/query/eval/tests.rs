//! The in-memory evaluation, rule by rule (see the module documentation).

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::query::parse;
use crate::query::words::payload_words;

fn matches(query: &str, payload: &Json) -> bool {
    let words = payload_words(&payload.to_string());
    let event = EventView {
        topic: "orders.eu",
        event_id: "o-1",
        source: "checkout",
        timestamp: Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
        payload,
        words: &words,
    };
    parse(query).unwrap().matches(&event)
}

#[test]
fn words_and_phrases_are_found_in_string_values_only() {
    let payload = json!({"message": "Payment TIMEOUT after 30s", "user_id": "u-42",
                         "count": 7, "nested": [{"note": "retry later"}]});
    for query in [
        "timeout",
        "\"payment timeout\"",
        "u 42",
        "retry",
        "\"retry later\"",
        "30s",
    ] {
        assert!(matches(query, &payload), "{query}");
    }
    for query in [
        "time",
        "\"timeout payment\"",
        "7",
        "message",
        "\"later retry\"",
        "user",
    ] {
        assert!(!matches(query, &payload), "{query}");
    }
}

#[test]
fn event_fields_compare_as_text_and_prefixes() {
    let payload = json!({});
    for query in [
        "topic:orders.eu",
        "topic:orders.*",
        "source:checkout",
        "event_id:o-1",
        "topic:*",
    ] {
        assert!(matches(query, &payload), "{query}");
    }
    for query in [
        "topic:orders",
        "topic:ORDERS.*",
        "source:check",
        "event_id:o-2",
    ] {
        assert!(!matches(query, &payload), "{query}");
    }
}

#[test]
fn timestamps_compare_as_instants() {
    let payload = json!({});
    assert!(matches("timestamp:2026-12-01T13:00:00+01:00", &payload));
    assert!(matches("timestamp:>=2026-12-01T12:00:00Z", &payload));
    assert!(!matches("timestamp:>2026-12-01T12:00:00Z", &payload));
    assert!(matches(
        "timestamp:[2026-12-01T00:00:00Z TO 2026-12-02T00:00:00Z}",
        &payload
    ));
}

#[test]
fn payload_fields_walk_objects_and_compare_by_type() {
    let payload = json!({"level": "error", "http": {"status": 500, "ok": false},
                         "tags": ["a", 7, true], "list": [{"x": 1}], "none": null,
                         "ratio": 0.5, "code": "500"});
    for query in [
        "level:error",
        "http.status:500",
        "http.status:500.0",
        "payload.http.status:5e2",
        "http.ok:false",
        "tags:a",
        "tags:7",
        "tags:true",
        "none:*",
        "code:500",
        "http.status:>=500",
        "ratio:[0 TO 1]",
        "level:err*",
        "http:*",
    ] {
        assert!(matches(query, &payload), "{query}");
    }
    for query in [
        "level:ERROR",
        "http.status:501",
        "http.ok:0",
        "list.x:1",
        "tags:b",
        "code:>400",
        "ratio:>0.5",
        "missing:*",
        "level:>1",
        "http.status:5*",
        "none:null",
        "tags.0:a",
    ] {
        assert!(!matches(query, &payload), "{query}");
    }
}

#[test]
fn boolean_structure_and_negation() {
    let payload = json!({"level": "warn", "message": "disk almost full"});
    assert!(matches("level:warn disk", &payload));
    assert!(matches("level:error OR disk", &payload));
    assert!(matches("-level:error", &payload));
    assert!(!matches("level:warn -disk", &payload));
    assert!(matches("NOT (level:error OR missing:*)", &payload));
    assert!(matches("", &payload));
}
