//! A query evaluated in memory against one event: how the live tail filters what it follows,
//! and the model every store's SQL is tested against (the stores' results for random events
//! and random queries must equal this, event for event).
//!
//! The rules, which docs/http-api.md ("Searching") states for users:
//! - words and phrases: found in the event's searchable text (`words.rs`);
//! - `topic`, `source`, `event_id`: equal to the value, or starting with the prefix, as text;
//! - `timestamp`: equal to the instant, or within the range;
//! - a payload path walks objects only (a name never indexes into an array); the field
//!   equals a value when the value there is that string, that number (compared as a 64-bit
//!   float) or that boolean, or when the value there is an array with such an element; a
//!   prefix applies to a string there; a range to a number there; `*` to any value, `null`
//!   included.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::ast::{Bound, Condition, Field, FieldQuery, Query, Range, RangeValue, Value};
use super::words::phrase_needle;

/// What a query reads of an event.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The event id.
    pub event_id: &'a str,
    /// The source.
    pub source: &'a str,
    /// The timestamp.
    pub timestamp: DateTime<Utc>,
    /// The payload, parsed.
    pub payload: &'a Json,
    /// The payload's searchable text (`words::payload_words`).
    pub words: &'a str,
}

impl Query {
    /// Whether `event` matches.
    pub fn matches(&self, event: &EventView<'_>) -> bool {
        match self {
            Self::All => true,
            Self::Text(phrase) => event.words.contains(&phrase_needle(&phrase.words)),
            Self::Field(field) => field.matches(event),
            Self::And(children) => children.iter().all(|child| child.matches(event)),
            Self::Or(children) => children.iter().any(|child| child.matches(event)),
            Self::Not(child) => !child.matches(event),
        }
    }
}

impl FieldQuery {
    fn matches(&self, event: &EventView<'_>) -> bool {
        let text = |text: &str| match &self.condition {
            Condition::Equals(value) => text == value.text,
            Condition::Prefix(prefix) => text.starts_with(prefix.as_str()),
            Condition::Exists => true,
            Condition::Range(_) => false,
        };
        match &self.field {
            Field::Topic => text(event.topic),
            Field::Source => text(event.source),
            Field::EventId => text(event.event_id),
            Field::Timestamp => match &self.condition {
                Condition::Equals(value) => value.instant == Some(event.timestamp),
                Condition::Range(range) => range.contains(&RangeValue::Instant(event.timestamp)),
                Condition::Exists => true,
                Condition::Prefix(_) => false,
            },
            Field::Payload(path) => match at_path(event.payload, path) {
                None => false,
                Some(found) => payload_matches(found, &self.condition),
            },
        }
    }
}

/// The value at `path`, through objects only.
pub fn at_path<'a>(payload: &'a Json, path: &[String]) -> Option<&'a Json> {
    let mut here = payload;
    for name in path {
        here = here.as_object()?.get(name)?;
    }
    Some(here)
}

fn payload_matches(found: &Json, condition: &Condition) -> bool {
    match condition {
        Condition::Exists => true,
        Condition::Equals(value) => match found {
            Json::Array(items) => items.iter().any(|item| scalar_equals(item, value)),
            scalar => scalar_equals(scalar, value),
        },
        Condition::Prefix(prefix) => found
            .as_str()
            .is_some_and(|text| text.starts_with(prefix.as_str())),
        Condition::Range(range) => found
            .as_f64()
            .filter(|_| found.is_number())
            .is_some_and(|number| range.contains(&RangeValue::Number(number))),
    }
}

fn scalar_equals(found: &Json, value: &Value) -> bool {
    match found {
        Json::String(text) => *text == value.text,
        Json::Number(number) => value.number.is_some() && number.as_f64() == value.number,
        Json::Bool(flag) => value.text == if *flag { "true" } else { "false" },
        _ => false,
    }
}

impl Range {
    /// Whether `value` lies within the range (bounds of another kind never contain it).
    pub fn contains(&self, value: &RangeValue) -> bool {
        let above_lower = match &self.lower {
            Bound::Unbounded => true,
            Bound::At {
                value: bound,
                inclusive,
            } => compare(value, bound)
                .is_some_and(|order| order.is_gt() || (*inclusive && order.is_eq())),
        };
        let below_upper = match &self.upper {
            Bound::Unbounded => true,
            Bound::At {
                value: bound,
                inclusive,
            } => compare(value, bound)
                .is_some_and(|order| order.is_lt() || (*inclusive && order.is_eq())),
        };
        above_lower && below_upper
    }
}

fn compare(value: &RangeValue, bound: &RangeValue) -> Option<std::cmp::Ordering> {
    match (value, bound) {
        (RangeValue::Number(value), RangeValue::Number(bound)) => value.partial_cmp(bound),
        (RangeValue::Instant(value), RangeValue::Instant(bound)) => Some(value.cmp(bound)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
