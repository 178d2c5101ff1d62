//! OpenTelemetry log records as events: which topic, id, time and source each record gets, and
//! the payload that keeps all of it. No I/O: `otlp.rs` decodes the request and commits what
//! this returns.
//!
//! - **topic**: the `--otlp-topic` template over the resource's attributes (`{service.name}` by
//!   default); a record whose resource lacks an attribute the template names gets
//!   `--otlp-default-topic`.
//! - **event_id**: the record's `log.record.uid` attribute (the semantic convention for a
//!   record's unique id), else the SHA-256 of the resource, the scope and the record as
//!   protobuf: an exporter retrying a batch sends the same bytes, so the same ids, and a JSON
//!   request decodes to the same messages, so the same ids as its protobuf twin.
//! - **timestamp**: `time_unix_nano`, else `observed_time_unix_nano`, else the time received.
//! - **source**: the resource's `service.instance.id`, else `host.name`, else `unknown`.
//! - **payload**: `body` (a string, or structured), `level` (the severity text in lower case,
//!   or the severity number's name), `severity_text`, `severity_number`, `attributes`,
//!   `trace_id` and `span_id` in hex, `event_name`, `resource` (its attributes) and `scope`
//!   (name, version, attributes); empty ones are left out.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::event::payload::check_payload;
use crate::event::{self, lower_hex, Event, FieldError};

/// The attribute holding a record's unique id (OpenTelemetry semantic conventions).
const RECORD_UID: &str = "log.record.uid";

/// How records become events: the topic template and the topic when it cannot be filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpMapping {
    /// `--otlp-topic`.
    pub topic: TopicTemplate,
    /// `--otlp-default-topic`.
    pub default_topic: String,
}

impl Default for OtlpMapping {
    fn default() -> Self {
        Self {
            topic: TopicTemplate::service_name(),
            default_topic: "otlp".into(),
        }
    }
}

/// A topic made of text and `{attribute}` names, filled from a resource's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicTemplate {
    parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplatePart {
    Text(String),
    Attribute(String),
}

impl TopicTemplate {
    /// `{service.name}`.
    pub fn service_name() -> Self {
        Self {
            parts: vec![TemplatePart::Attribute("service.name".into())],
        }
    }

    /// The topic for `resource`, or `None` when an attribute it names is missing or empty.
    fn fill(&self, resource: &[KeyValue]) -> Option<String> {
        let mut topic = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(text) => topic.push_str(text),
                TemplatePart::Attribute(name) => {
                    let value = attribute(resource, name).and_then(scalar_text)?;
                    if value.is_empty() {
                        return None;
                    }
                    topic.push_str(&value);
                }
            }
        }
        Some(topic)
    }
}

impl FromStr for TopicTemplate {
    type Err = String;

    /// `{name}` is an attribute; `{{` and `}}` are literal braces.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    if name.trim().is_empty() || name.contains('{') {
                        return Err(format!(
                            "{text:?}: `{{` must be followed by an attribute name and `}}`"
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(TemplatePart::Attribute(name.trim().to_owned()));
                }
                '}' => return Err(format!("{text:?}: a lone `}}` (write `}}}}` for a brace)")),
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(TemplatePart::Text(literal));
        }
        if parts.is_empty() {
            return Err("the topic template is empty".into());
        }
        Ok(Self { parts })
    }
}

impl fmt::Display for TopicTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                TemplatePart::Text(text) => {
                    write!(f, "{}", text.replace('{', "{{").replace('}', "}}"))?
                }
                TemplatePart::Attribute(name) => write!(f, "{{{name}}}")?,
            }
        }
        Ok(())
    }
}

/// Every record of `request`, in order, as an event or the reason it cannot be one.
pub fn map_request(
    request: &ExportLogsServiceRequest,
    mapping: &OtlpMapping,
    received_at: DateTime<Utc>,
    max_payload_depth: usize,
) -> Vec<Result<Event, String>> {
    let (no_resource, no_scope) = (Resource::default(), InstrumentationScope::default());
    let mut events = Vec::new();
    for resource_logs in &request.resource_logs {
        let resource = resource_logs.resource.as_ref().unwrap_or(&no_resource);
        let topic = mapping
            .topic
            .fill(&resource.attributes)
            .unwrap_or_else(|| mapping.default_topic.clone());
        let source = ["service.instance.id", "host.name"]
            .into_iter()
            .find_map(|name| {
                attribute(&resource.attributes, name)
                    .and_then(scalar_text)
                    .filter(|text| !text.trim().is_empty())
            })
            .unwrap_or_else(|| "unknown".into());
        let resource_bytes = resource.encode_to_vec();
        let resource_json = attributes_json(&resource.attributes);
        for scope_logs in &resource_logs.scope_logs {
            let scope = scope_logs.scope.as_ref().unwrap_or(&no_scope);
            let scope_bytes = scope.encode_to_vec();
            let scope_json = scope_json(scope);
            for record in &scope_logs.log_records {
                let event_id = attribute(&record.attributes, RECORD_UID)
                    .and_then(scalar_text)
                    .unwrap_or_else(|| record_digest(&resource_bytes, &scope_bytes, record));
                let context = RecordContext {
                    topic: &topic,
                    source: &source,
                    resource: &resource_json,
                    scope: &scope_json,
                };
                events.push(map_record(
                    record,
                    event_id,
                    &context,
                    received_at,
                    max_payload_depth,
                ));
            }
        }
    }
    events
}

/// What the records of one resource and scope share.
struct RecordContext<'a> {
    topic: &'a str,
    source: &'a str,
    resource: &'a Map<String, Value>,
    scope: &'a Map<String, Value>,
}

fn map_record(
    record: &LogRecord,
    event_id: String,
    context: &RecordContext<'_>,
    received_at: DateTime<Utc>,
    max_payload_depth: usize,
) -> Result<Event, String> {
    let field = |name: &str, err: FieldError| format!("{name} {err}");
    let topic =
        event::parse_key_part(context.topic.to_owned()).map_err(|err| field("topic", err))?;
    let event_id = event::parse_key_part(event_id).map_err(|err| field(RECORD_UID, err))?;
    let source =
        event::parse_source(context.source.to_owned()).map_err(|err| field("source", err))?;
    let nanos = [record.time_unix_nano, record.observed_time_unix_nano]
        .into_iter()
        .find(|&nanos| nanos > 0);
    let timestamp = match nanos {
        Some(nanos) => DateTime::from_timestamp_nanos(
            i64::try_from(nanos)
                .map_err(|_| format!("time_unix_nano {nanos} is past the year 2262"))?,
        ),
        None => received_at,
    };
    let payload = payload_of(record, context);
    let payload = RawValue::from_string(payload.to_string())
        .map_err(|err| format!("the record as JSON: {err}"))?;
    check_payload(&payload, max_payload_depth).map_err(|err| field("the record", err))?;
    Ok(Event {
        topic,
        event_id,
        timestamp,
        source,
        payload,
    })
}

fn payload_of(record: &LogRecord, context: &RecordContext<'_>) -> Value {
    let mut payload = Map::new();
    if let Some(body) = record.body.as_ref().and_then(any_value_json) {
        payload.insert("body".into(), body);
    }
    if let Some(level) = level_of(record) {
        payload.insert("level".into(), Value::String(level));
    }
    if !record.severity_text.is_empty() {
        payload.insert("severity_text".into(), json!(record.severity_text));
    }
    if record.severity_number != 0 {
        payload.insert("severity_number".into(), json!(record.severity_number));
    }
    let attributes = attributes_json(&record.attributes);
    if !attributes.is_empty() {
        payload.insert("attributes".into(), Value::Object(attributes));
    }
    if !record.trace_id.is_empty() {
        payload.insert("trace_id".into(), json!(lower_hex(&record.trace_id)));
    }
    if !record.span_id.is_empty() {
        payload.insert("span_id".into(), json!(lower_hex(&record.span_id)));
    }
    if !record.event_name.is_empty() {
        payload.insert("event_name".into(), json!(record.event_name));
    }
    if !context.resource.is_empty() {
        payload.insert("resource".into(), Value::Object(context.resource.clone()));
    }
    if !context.scope.is_empty() {
        payload.insert("scope".into(), Value::Object(context.scope.clone()));
    }
    Value::Object(payload)
}

/// The severity text in lower case, else the name of the severity number's range.
fn level_of(record: &LogRecord) -> Option<String> {
    if !record.severity_text.trim().is_empty() {
        return Some(record.severity_text.trim().to_lowercase());
    }
    let name = match record.severity_number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => return None,
    };
    Some(name.into())
}

/// The SHA-256 of the resource, the scope and the record as protobuf, each length-prefixed so
/// that no two different triples give the same bytes.
fn record_digest(resource: &[u8], scope: &[u8], record: &LogRecord) -> String {
    let mut hasher = Sha256::new();
    for part in [resource, scope, &record.encode_to_vec()] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    lower_hex(&hasher.finalize())
}

fn scope_json(scope: &InstrumentationScope) -> Map<String, Value> {
    let mut json = Map::new();
    if !scope.name.is_empty() {
        json.insert("name".into(), json!(scope.name));
    }
    if !scope.version.is_empty() {
        json.insert("version".into(), json!(scope.version));
    }
    let attributes = attributes_json(&scope.attributes);
    if !attributes.is_empty() {
        json.insert("attributes".into(), Value::Object(attributes));
    }
    json
}

fn attribute<'a>(attributes: &'a [KeyValue], name: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|pair| pair.key == name)
        .and_then(|pair| pair.value.as_ref())
}

/// A string, number or boolean attribute as text; anything else has none.
fn scalar_text(value: &AnyValue) -> Option<String> {
    match value.value.as_ref()? {
        AnyValueKind::StringValue(text) => Some(text.clone()),
        AnyValueKind::IntValue(number) => Some(number.to_string()),
        AnyValueKind::DoubleValue(number) => Some(number.to_string()),
        AnyValueKind::BoolValue(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn attributes_json(attributes: &[KeyValue]) -> Map<String, Value> {
    attributes
        .iter()
        .filter_map(|pair| {
            let value = pair.value.as_ref().and_then(any_value_json)?;
            Some((pair.key.clone(), value))
        })
        .collect()
}

/// An OpenTelemetry value as JSON: bytes in base64 (as the OTLP JSON encoding writes them), a
/// double that JSON cannot hold (NaN, infinities) as its name.
fn any_value_json(value: &AnyValue) -> Option<Value> {
    Some(match value.value.as_ref()? {
        AnyValueKind::StringValue(text) => Value::String(text.clone()),
        AnyValueKind::BoolValue(flag) => Value::Bool(*flag),
        AnyValueKind::IntValue(number) => json!(number),
        AnyValueKind::DoubleValue(number) => serde_json::Number::from_f64(*number)
            .map_or_else(|| Value::String(number.to_string()), Value::Number),
        AnyValueKind::ArrayValue(array) => {
            Value::Array(array.values.iter().filter_map(any_value_json).collect())
        }
        AnyValueKind::KvlistValue(list) => Value::Object(attributes_json(&list.values)),
        AnyValueKind::BytesValue(bytes) => Value::String(BASE64.encode(bytes)),
        // An index into a profile's string table: logs have no such table.
        AnyValueKind::StringValueStrindex(_) => return None,
    })
}

#[cfg(test)]
mod tests;
