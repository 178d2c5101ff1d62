//! Parsing a `POST /publish` body into validated [`Event`]s.
//!
//! Three JSON shapes are accepted: one event object, `{"events": [...]}`, and a bare array of
//! events; and NDJSON (`application/x-ndjson`), one event object per line, as the HTTP outputs
//! of Vector and Fluent Bit send it, with the same contract as a JSON array: blank lines are
//! skipped, a line that is not JSON makes the body malformed (400, naming the line), and an
//! event's problems are reported at its index among the events.
//! The JSON is parsed once into borrowed raw fragments; each field is then parsed on its own so
//! that a wrong type is reported as a field problem (422) rather than a malformed body (400),
//! and every problem of every event is reported at once. The payload is copied as the raw text
//! the client sent.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::{ApiError, FieldIssue, IssueLog};
use super::limits::Limits;
use crate::event::payload::check_payload;
use crate::event::{self, Event, FieldError};

/// The fields of one event, each still raw JSON. A top-level object with `events` is an
/// envelope instead (serde cannot flatten borrowed raw values, hence one struct for both).
#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow)]
    events: Option<&'a RawValue>,
    #[serde(borrow)]
    topic: Option<&'a RawValue>,
    #[serde(borrow)]
    event_id: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    source: Option<&'a RawValue>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// How a publish body is encoded (its `Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// One event, `{"events": [...]}` or a bare array.
    Json,
    /// One event object per line.
    Ndjson,
}

/// Parses and validates a JSON publish body within `limits` (events per request, payload
/// depth).
pub fn parse_publish_body(body: &[u8], limits: &Limits) -> Result<Vec<Event>, ApiError> {
    let raw: &RawValue =
        serde_json::from_slice(body).map_err(|err| ApiError::MalformedJson(err.to_string()))?;
    validate(split_events(raw)?, limits)
}

/// Parses and validates a publish body of either format.
pub fn parse_body(
    body: &[u8],
    format: BodyFormat,
    limits: &Limits,
) -> Result<Vec<Event>, ApiError> {
    match format {
        BodyFormat::Json => parse_publish_body(body, limits),
        BodyFormat::Ndjson => validate(split_lines(body)?, limits),
    }
}

/// The lines of an NDJSON body that hold something, with their numbers (from 1): `\n` or
/// `\r\n` line ends, blank lines skipped. Shared with the bulk API's reader.
pub(super) fn non_blank_lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    body.split(|&byte| byte == b'\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
}

/// The events of an NDJSON body, one per non-blank line.
fn split_lines(body: &[u8]) -> Result<Vec<WireItem<'_>>, ApiError> {
    let mut items = Vec::new();
    for (line_number, line) in non_blank_lines(body) {
        let raw: &RawValue = serde_json::from_slice(line).map_err(|err| {
            // serde_json places the error in the line alone: say which line of the body, and
            // keep its column.
            ApiError::MalformedJson(format!(
                "line {line_number}, column {}: {}",
                err.column(),
                json_reason(&err)
            ))
        })?;
        items.push(parse_wire_event(items.len(), raw));
    }
    Ok(items)
}

/// serde_json's reason without the position it gives ("at line 1 column 7"), which is the
/// position in one line of a body of many. Shared with the bulk API's reader.
pub(super) fn json_reason(err: &serde_json::Error) -> String {
    let text = err.to_string();
    text.split(" at line ")
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Checks the number of events, then every field of every event; every problem is reported.
fn validate(items: Vec<WireItem<'_>>, limits: &Limits) -> Result<Vec<Event>, ApiError> {
    let max_events = limits.max_events_per_request;
    if items.is_empty() {
        return Err(ApiError::Validation(vec![FieldIssue::request(
            "events",
            "must contain at least one event",
        )]));
    }
    if items.len() > max_events {
        return Err(ApiError::Validation(vec![FieldIssue::request(
            "events",
            format!(
                "at most {max_events} events per request (got {})",
                items.len()
            ),
        )]));
    }
    let mut events = Vec::with_capacity(items.len());
    let mut issues = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match item.and_then(|wire| parse_event(index, wire, limits.max_payload_depth)) {
            Ok(event) => events.push(event),
            Err(mut event_issues) => issues.append(&mut event_issues),
        }
    }
    if issues.is_empty() {
        Ok(events)
    } else {
        Err(ApiError::Validation(issues))
    }
}

type WireItem<'a> = Result<WireEvent<'a>, Vec<FieldIssue>>;

/// Finds the events in the body, whichever of the three shapes it has.
fn split_events(raw: &RawValue) -> Result<Vec<WireItem<'_>>, ApiError> {
    let text = raw.get().trim_start();
    if text.starts_with('[') {
        return parse_array(raw).map_err(|issue| ApiError::Validation(vec![issue]));
    }
    if !text.starts_with('{') {
        return Err(ApiError::Validation(vec![FieldIssue::request(
            "body",
            "must be an event object, an array of events, or {\"events\": [...]}",
        )]));
    }
    let object: WireEvent<'_> = serde_json::from_str(raw.get())
        .map_err(|err| ApiError::Validation(vec![FieldIssue::request("body", err.to_string())]))?;
    match object.events {
        Some(events) => parse_array(events).map_err(|issue| ApiError::Validation(vec![issue])),
        None => Ok(vec![Ok(object)]),
    }
}

fn parse_array(raw: &RawValue) -> Result<Vec<WireItem<'_>>, FieldIssue> {
    let elements: Vec<&RawValue> = serde_json::from_str(raw.get())
        .map_err(|_| FieldIssue::request("events", "must be an array of event objects"))?;
    Ok(elements
        .into_iter()
        .enumerate()
        .map(|(index, element)| parse_wire_event(index, element))
        .collect())
}

fn parse_wire_event(index: usize, element: &RawValue) -> WireItem<'_> {
    if !element.get().trim_start().starts_with('{') {
        return Err(vec![FieldIssue::at(
            index,
            "event",
            "must be a JSON object",
        )]);
    }
    serde_json::from_str(element.get())
        .map_err(|err| vec![FieldIssue::at(index, "event", err.to_string())])
}

fn parse_event(
    index: usize,
    wire: WireEvent<'_>,
    max_payload_depth: usize,
) -> Result<Event, Vec<FieldIssue>> {
    let mut log = IssueLog::new(Some(index));
    let topic = log.check(
        "topic",
        string_field(wire.topic).and_then(event::parse_key_part),
    );
    let event_id = log.check(
        "event_id",
        string_field(wire.event_id).and_then(event::parse_key_part),
    );
    let source = log.check(
        "source",
        string_field(wire.source).and_then(event::parse_source),
    );
    let timestamp = log.check(
        "timestamp",
        string_field(wire.timestamp).and_then(|raw| event::parse_timestamp(&raw)),
    );
    let payload = log.check("payload", payload_field(wire.payload, max_payload_depth));
    match (topic, event_id, source, timestamp, payload) {
        (Some(topic), Some(event_id), Some(source), Some(timestamp), Some(payload)) => Ok(Event {
            topic,
            event_id,
            timestamp,
            source,
            payload,
        }),
        _ => Err(log.into_issues()),
    }
}

/// Whether a raw value is JSON's `null`. Shared with the bulk API's reader.
pub(super) fn is_null(raw: &RawValue) -> bool {
    raw.get().trim() == "null"
}

fn string_field(raw: Option<&RawValue>) -> Result<String, FieldError> {
    let raw = raw.filter(|raw| !is_null(raw)).ok_or(FieldError::Missing)?;
    string_value(raw)
}

/// A raw value that must be a string, decoded; a string that does not decode (a lone
/// surrogate escape) is refused saying so. Shared with the bulk API's reader.
pub(super) fn string_value(raw: &RawValue) -> Result<String, FieldError> {
    serde_json::from_str(raw.get()).map_err(|_| {
        // A JSON string that does not decode holds a lone surrogate escape: say so.
        match check_payload(raw, usize::MAX) {
            Err(reason) if raw.get().trim_start().starts_with('"') => reason,
            _ => FieldError::WrongType {
                expected: "a string",
            },
        }
    })
}

/// The payload is optional (absent or `null` mean `{}`) and must otherwise be an object that
/// every store can hold (see [`payload_object`]).
fn payload_field(raw: Option<&RawValue>, max_depth: usize) -> Result<Box<RawValue>, FieldError> {
    match raw.filter(|raw| !is_null(raw)) {
        None => Ok(empty_object()),
        Some(raw) => payload_object(raw, max_depth),
    }
}

/// A payload: a JSON object that every store can hold (see [`check_payload`]). Shared with the
/// bulk API, whose documents are payloads.
pub(super) fn payload_object(
    raw: &RawValue,
    max_depth: usize,
) -> Result<Box<RawValue>, FieldError> {
    if !raw.get().trim_start().starts_with('{') {
        return Err(FieldError::WrongType {
            expected: "a JSON object",
        });
    }
    check_payload(raw, max_depth)?;
    Ok(raw.to_owned())
}

fn empty_object() -> Box<RawValue> {
    // cannot fail: "{}" is valid JSON
    RawValue::from_string("{}".into()).expect("an empty object is valid JSON")
}

mod schema;
pub use schema::{topic_schema, PayloadValue, PublishBody, PublishLines};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
