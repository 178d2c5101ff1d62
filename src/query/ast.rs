//! The query tree: what a parsed query means, independent of how it was typed (`parse.rs`),
//! printed (`print.rs`), evaluated in memory (`eval.rs`) or lowered to a store's SQL (in each
//! store).

use chrono::{DateTime, Utc};

/// A parsed query. `And`/`Or` hold at least two children; an empty query is [`Query::All`].
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Every event (the empty query).
    All,
    /// Words in the event's text, adjacent and in order (one word is a phrase of one).
    Text(Phrase),
    /// A condition on one field.
    Field(FieldQuery),
    /// Every child matches.
    And(Vec<Query>),
    /// At least one child matches.
    Or(Vec<Query>),
    /// The child does not match.
    Not(Box<Query>),
}

/// Words to find next to each other, in order, within one string value of the payload: the
/// query's term or quoted phrase split into words as the event's text is
/// (see [`super::words`]). Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    /// The words, lowercase.
    pub words: Vec<String>,
}

/// `field:condition`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldQuery {
    /// Which field.
    pub field: Field,
    /// What it must satisfy.
    pub condition: Condition,
}

/// A field of an event: one of its own, or a path into its payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// The event's topic.
    Topic,
    /// The event's source.
    Source,
    /// The event's id.
    EventId,
    /// The event's timestamp.
    Timestamp,
    /// A path into the payload through objects: `http.status` is `["http", "status"]`.
    Payload(Vec<String>),
}

impl Field {
    /// The field's name as a query writes it (payload paths without a `payload.` prefix).
    pub fn name(&self) -> String {
        match self {
            Self::Topic => "topic".into(),
            Self::Source => "source".into(),
            Self::EventId => "event_id".into(),
            Self::Timestamp => "timestamp".into(),
            Self::Payload(path) => path.join("."),
        }
    }
}

/// What a field must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Equal to a value (see [`Value`] for how a payload field compares).
    Equals(Value),
    /// A string starting with this text (`orders.*`).
    Prefix(String),
    /// Present (`field:*`); for a payload path, any value, `null` included.
    Exists,
    /// Within bounds: numbers for a payload path, instants for `timestamp`.
    Range(Range),
}

/// A term as typed after `field:`. A payload field equals it when the field's value (or an
/// element of the array at the field) is the string `text`, or the number `number` when the
/// term reads as one, or the boolean when the term is `true` or `false`. An event field
/// compares as text, `timestamp` as an instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The term exactly as typed (unquoted).
    pub text: String,
    /// The term read as a number, when it is one.
    pub number: Option<f64>,
    /// The term read as an instant, when it is one (only meaningful for `timestamp`).
    pub instant: Option<DateTime<Utc>>,
}

/// Bounds of a range; at least one is bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// The lower bound.
    pub lower: Bound,
    /// The upper bound.
    pub upper: Bound,
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// No bound (`*`).
    Unbounded,
    /// Bounded, the value itself included or not.
    At {
        /// The bound.
        value: RangeValue,
        /// Whether the bound itself is in the range.
        inclusive: bool,
    },
}

/// A range bound: a number for a payload path, an instant for `timestamp`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeValue {
    /// A number, compared as a 64-bit float.
    Number(f64),
    /// An instant.
    Instant(DateTime<Utc>),
}
