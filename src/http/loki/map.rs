//! Loki log lines as events. No I/O: `loki.rs` decodes the push and commits what this returns.
//!
//! - **topic**: the first of the `--loki-topic-label` labels the stream has (`service_name`,
//!   then `job`), else `--loki-default-topic`;
//! - **source**: the `host` label, else `instance`, else `unknown`;
//! - **event_id**: the SHA-256 of the stream's labels (sorted), the timestamp and the line —
//!   the identity Loki itself uses to drop a repeated push, so a client resending a push after
//!   a lost answer stores nothing twice;
//! - **timestamp**: the entry's, to the microsecond the store keeps;
//! - **payload**: the line's own fields when it is a JSON object, else `{"message": line}`;
//!   then `labels` and `structured_metadata` (under `_labels` / `_structured_metadata` when
//!   the line has fields of those names), and `level` from the `level`, `detected_level` or
//!   `severity` label or metadata when the line has none.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::push::{Entry, Stream};
use crate::event::payload::check_payload;
use crate::event::{self, lower_hex, Event, FieldError};

/// Where the labels and the metadata of a line sit in its payload.
const LABELS: &str = "labels";
const METADATA: &str = "structured_metadata";
/// Labels or metadata whose value is the line's level, in order.
const LEVEL_NAMES: [&str; 3] = ["level", "detected_level", "severity"];

/// How lines get their topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LokiMapping {
    /// `--loki-topic-label`: the labels tried, in order.
    pub topic_labels: Vec<String>,
    /// `--loki-default-topic`.
    pub default_topic: String,
}

impl Default for LokiMapping {
    fn default() -> Self {
        Self {
            topic_labels: vec!["service_name".into(), "job".into()],
            default_topic: "loki".into(),
        }
    }
}

/// Every line of `streams`, in order, as an event or the reason it cannot be one.
pub fn map_push(
    streams: &[Stream],
    mapping: &LokiMapping,
    max_payload_depth: usize,
) -> Vec<Result<Event, String>> {
    let mut events = Vec::new();
    for stream in streams {
        let topic = mapping
            .topic_labels
            .iter()
            .find_map(|name| {
                stream
                    .labels
                    .get(name)
                    .filter(|value| !value.trim().is_empty())
            })
            .cloned()
            .unwrap_or_else(|| mapping.default_topic.clone());
        let source = ["host", "instance"]
            .into_iter()
            .find_map(|name| {
                stream
                    .labels
                    .get(name)
                    .filter(|value| !value.trim().is_empty())
            })
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        let identity = labels_identity(&stream.labels);
        for entry in &stream.entries {
            events.push(map_entry(
                entry,
                &topic,
                &source,
                &identity,
                &stream.labels,
                max_payload_depth,
            ));
        }
    }
    events
}

fn map_entry(
    entry: &Entry,
    topic: &str,
    source: &str,
    identity: &[u8],
    labels: &BTreeMap<String, String>,
    max_payload_depth: usize,
) -> Result<Event, String> {
    let field = |name: &str, err: FieldError| format!("{name} {err}");
    let topic = event::parse_key_part(topic.to_owned()).map_err(|err| field("topic", err))?;
    let source = event::parse_source(source.to_owned()).map_err(|err| field("source", err))?;
    let nanos = entry.nanos.ok_or("the entry has no timestamp")?;
    let timestamp = i64::try_from(nanos)
        .ok()
        .filter(|&nanos| nanos >= 0)
        .map(DateTime::<Utc>::from_timestamp_nanos)
        .ok_or_else(|| format!("the time {nanos} is not nanoseconds between 1970 and 2262"))?;
    let mut hasher = Sha256::new();
    hasher.update(identity);
    hasher.update(nanos.to_be_bytes());
    hasher.update(entry.line.as_bytes());
    let event_id = lower_hex(&hasher.finalize());
    let payload = payload_of(entry, labels);
    let payload = RawValue::from_string(Value::Object(payload).to_string())
        .map_err(|err| format!("the line as JSON: {err}"))?;
    check_payload(&payload, max_payload_depth).map_err(|err| field("the line", err))?;
    Ok(Event {
        topic,
        event_id,
        timestamp,
        source,
        payload,
    })
}

/// The labels as `name=value` pairs, each length-prefixed: two label sets never give the same
/// bytes.
fn labels_identity(labels: &BTreeMap<String, String>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (name, value) in labels {
        for part in [name, value] {
            bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
            bytes.extend_from_slice(part.as_bytes());
        }
    }
    bytes
}

fn payload_of(entry: &Entry, labels: &BTreeMap<String, String>) -> Map<String, Value> {
    let mut payload = match serde_json::from_str::<Value>(&entry.line) {
        Ok(Value::Object(fields)) => fields,
        _ => {
            let mut fields = Map::new();
            fields.insert("message".into(), Value::String(entry.line.clone()));
            fields
        }
    };
    let level = LEVEL_NAMES
        .iter()
        .find_map(|name| labels.get(*name).or_else(|| entry.metadata.get(*name)))
        .cloned();
    let as_object = |pairs: &BTreeMap<String, String>| {
        Value::Object(
            pairs
                .iter()
                .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                .collect(),
        )
    };
    if !labels.is_empty() {
        insert_beside(&mut payload, LABELS, as_object(labels));
    }
    if !entry.metadata.is_empty() {
        insert_beside(&mut payload, METADATA, as_object(&entry.metadata));
    }
    if let Some(level) = level {
        payload.entry("level").or_insert(Value::String(level));
    }
    payload
}

/// Puts `value` under `name`, or under `_name` when the line has a field `name` of its own.
fn insert_beside(payload: &mut Map<String, Value>, name: &str, value: Value) {
    let key = if payload.contains_key(name) {
        format!("_{name}")
    } else {
        name.to_owned()
    };
    payload.insert(key, value);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stream(labels: &[(&str, &str)], lines: &[(i128, &str)]) -> Stream {
        Stream {
            labels: labels
                .iter()
                .map(|(name, value)| ((*name).into(), (*value).into()))
                .collect(),
            entries: lines
                .iter()
                .map(|(nanos, line)| Entry {
                    nanos: Some(*nanos),
                    line: (*line).into(),
                    metadata: BTreeMap::from([("trace_id".into(), "abc".into())]),
                })
                .collect(),
        }
    }

    fn mapped(streams: &[Stream]) -> Vec<Event> {
        map_push(streams, &LokiMapping::default(), 64)
            .into_iter()
            .map(|event| event.expect("mapped"))
            .collect()
    }

    fn payload(event: &Event) -> Value {
        serde_json::from_str(event.payload.get()).expect("JSON")
    }

    #[test]
    fn a_plain_line_keeps_its_text_labels_and_metadata() {
        let labels = [
            ("service_name", "checkout"),
            ("job", "j"),
            ("host", "vm-3"),
            ("level", "warn"),
        ];
        let events = mapped(&[stream(&labels, &[(1_796_644_800_000_001_000, "paid")])]);
        let event = &events[0];
        assert_eq!(event.topic, "checkout");
        assert_eq!(event.source, "vm-3");
        assert_eq!(
            event.timestamp.timestamp_nanos_opt(),
            Some(1_796_644_800_000_001_000)
        );
        assert_eq!(
            payload(event),
            json!({
                "message": "paid",
                "level": "warn",
                "labels": {"service_name": "checkout", "job": "j", "host": "vm-3", "level": "warn"},
                "structured_metadata": {"trace_id": "abc"},
            })
        );
    }

    #[test]
    fn a_json_line_gives_its_fields_and_keeps_its_own_labels() {
        let line = r#"{"level":"error","msg":"boom","labels":["mine"]}"#;
        let events = mapped(&[stream(&[("job", "api"), ("level", "info")], &[(5, line)])]);
        let event = &events[0];
        assert_eq!(event.topic, "api", "job when there is no service_name");
        assert_eq!(event.source, "unknown");
        let payload = payload(event);
        assert_eq!(payload["level"], "error", "the line's own level wins");
        assert_eq!(payload["labels"], json!(["mine"]));
        assert_eq!(payload["_labels"]["job"], "api");
    }

    #[test]
    fn identity_is_labels_time_and_line() {
        let a = mapped(&[stream(&[("job", "x")], &[(1, "a"), (1, "b"), (2, "a")])]);
        let again = mapped(&[stream(&[("job", "x")], &[(1, "a")])]);
        let other_stream = mapped(&[stream(&[("job", "x"), ("host", "h")], &[(1, "a")])]);
        assert_eq!(a[0].event_id, again[0].event_id);
        assert_ne!(a[0].event_id, a[1].event_id);
        assert_ne!(a[0].event_id, a[2].event_id);
        assert_ne!(a[0].event_id, other_stream[0].event_id);
    }

    #[test]
    fn without_topic_labels_the_default_topic_and_a_bad_time_is_refused_alone() {
        let mut lines = stream(
            &[("app", "x")],
            &[(1, "fine"), (-1, "before 1970"), (2, "no time")],
        );
        lines.entries[2].nanos = None;
        let results = map_push(&[lines], &LokiMapping::default(), 64);
        assert_eq!(results[0].as_ref().expect("mapped").topic, "loki");
        let reason = results[1].as_ref().expect_err("refused");
        assert!(reason.contains("time"), "{reason}");
        let reason = results[2].as_ref().expect_err("refused");
        assert!(reason.contains("no timestamp"), "{reason}");
    }

    #[test]
    fn a_blank_topic_label_gives_way_to_the_next() {
        let events = mapped(&[stream(
            &[("service_name", " "), ("job", "api")],
            &[(1, "a")],
        )]);
        assert_eq!(events[0].topic, "api");
    }
}
