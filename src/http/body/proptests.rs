//! Property tests of the publish-body parser: whatever bytes arrive, it never panics, and
//! whatever it accepts, every store can hold (the rules of `event.rs` and `event/payload.rs`).

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::event::MAX_KEY_CHARS;

fn limits() -> Limits {
    Limits {
        max_events_per_request: 50,
        max_payload_depth: 8,
        ..Limits::default()
    }
}

/// A JSON value of bounded size and depth, with arbitrary strings (any Unicode scalar).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(12, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// An event-shaped object whose fields are arbitrary JSON or arbitrary strings.
fn event_like() -> impl Strategy<Value = Value> {
    let field = prop_oneof![".{0,20}".prop_map(Value::String), json_value()];
    (
        field.clone(),
        field.clone(),
        field.clone(),
        field,
        json_value(),
    )
        .prop_map(|(topic, event_id, timestamp, source, payload)| {
            json!({"topic": topic, "event_id": event_id, "timestamp": timestamp,
                   "source": source, "payload": payload})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_publish_body(&body, &limits());
    }

    #[test]
    fn accepted_events_are_storable_and_refusals_name_their_fields(
        events in prop::collection::vec(event_like(), 1..6),
    ) {
        let body = serde_json::to_vec(&json!({ "events": events })).unwrap();
        match parse_publish_body(&body, &limits()) {
            Ok(parsed) => {
                prop_assert_eq!(parsed.len(), events.len());
                for event in &parsed {
                    for key in [&event.topic, &event.event_id] {
                        prop_assert!(!key.trim().is_empty());
                        prop_assert!(key.chars().count() <= MAX_KEY_CHARS);
                        prop_assert!(!key.chars().any(char::is_control));
                    }
                    prop_assert!(!event.source.chars().any(char::is_control));
                    prop_assert!(check_payload(&event.payload, 8).is_ok());
                }
            }
            Err(ApiError::Validation(issues)) => {
                prop_assert!(!issues.is_empty());
                for issue in issues {
                    prop_assert!(issue.index.is_some_and(|index| index < events.len()));
                }
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn a_payload_escaping_nul_or_a_lone_surrogate_is_never_accepted(
        prefix in ".{0,8}",
        escape in prop_oneof![Just("\\u0000"), Just("\\ud800"), Just("\\udfff")],
    ) {
        let text = format!(
            r#"{{"topic":"t","event_id":"e","timestamp":"2024-05-01T12:00:00Z","source":"s",
               "payload":{{"m":{}}}}}"#,
            // The prefix as a JSON string without its closing quote, then the escape.
            serde_json::to_string(&prefix).unwrap().strip_suffix('"').unwrap().to_owned()
                + escape + "\""
        );
        let parsed = parse_publish_body(text.as_bytes(), &limits());
        prop_assert!(parsed.is_err(), "accepted {}", text);
    }
}
