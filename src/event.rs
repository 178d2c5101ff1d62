//! The domain: what an event is, what identifies it, and what happened to it.
//!
//! Events arrive as JSON from `http::publish`, are parsed here into [`Event`] values that are
//! valid by construction ("parse, don't validate"), travel through the actors and are written by
//! a [`crate::store::Store`]. The payload is kept as the raw JSON text the client sent, so it is
//! stored and returned byte for byte and never re-serialised on the hot path.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

mod digest;
pub mod payload;
mod prefixes;

pub use digest::{content_id, lower_hex};
pub use prefixes::TopicPrefixes;

/// Longest topic or event id accepted, in characters.
pub const MAX_KEY_CHARS: usize = 255;
/// Longest source accepted, in characters.
pub const MAX_SOURCE_CHARS: usize = 255;

/// One log event, validated.
#[derive(Debug, Clone)]
pub struct Event {
    /// Stream the event belongs to; half of its identity.
    pub topic: String,
    /// Publisher-chosen id, unique within the topic; the other half of its identity.
    pub event_id: String,
    /// When the event happened, according to the publisher.
    pub timestamp: DateTime<Utc>,
    /// Which service produced it.
    pub source: String,
    /// A JSON object, exactly as sent (whitespace and key order included).
    pub payload: Box<RawValue>,
}

impl Event {
    /// The identity the aggregator deduplicates on.
    pub fn key(&self) -> EventKey<'_> {
        EventKey {
            topic: &self.topic,
            event_id: &self.event_id,
        }
    }
}

/// `(topic, event_id)`: the identity of an event. Borrowed, so building a key never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey<'a> {
    /// The event's topic.
    pub topic: &'a str,
    /// The event's id within the topic.
    pub event_id: &'a str,
}

/// What the aggregator did with one published event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// First time this key was seen: it is now stored.
    New,
    /// The key was already stored (or appeared earlier in the same commit): dropped.
    Duplicate,
}

/// Why a field of a published event was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The field is absent (or `null` where a value is required).
    #[error("is required")]
    Missing,
    /// The field has the wrong JSON type.
    #[error("must be {expected}")]
    WrongType {
        /// What the field should have been, e.g. "a string".
        expected: &'static str,
    },
    /// The string is empty.
    #[error("must not be empty")]
    Empty,
    /// The string is longer than [`MAX_KEY_CHARS`].
    #[error("must be at most {max} characters (got {actual})")]
    TooLong {
        /// The limit.
        max: usize,
        /// The length received.
        actual: usize,
    },
    /// The string contains a control character.
    #[error("must not contain control characters")]
    ControlCharacter,
    /// The string contains an invisible formatting character (zero-width, bidirectional
    /// override, byte-order mark) or a line or paragraph separator.
    #[error("must not contain invisible or bidirectional formatting characters (found {found})")]
    InvisibleCharacter {
        /// The character, as `U+XXXX`.
        found: String,
    },
    /// JSON nested deeper than the limit.
    #[error("must not nest objects and arrays more than {max} levels deep")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// A `\u0000` escape: no store can hold a NUL character in text.
    #[error("must not contain the NUL character (\\u0000)")]
    NulCharacter,
    /// A UTF-16 surrogate escape without its pair: not a character, and not valid Unicode text.
    #[error("must not contain a lone UTF-16 surrogate escape (found \\u{found})")]
    LoneSurrogate {
        /// The escape's four hex digits.
        found: String,
    },
    /// The timestamp is not RFC 3339 / ISO 8601.
    #[error("must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z")]
    BadTimestamp,
}

/// Parses a topic or event id: not blank, at most [`MAX_KEY_CHARS`] characters, no control
/// characters (they break logs, terminals and URLs, and are never intended in an identifier),
/// and no invisible or bidirectional formatting characters (two ids that look the same must be
/// the same id; `U+202E` can make a topic read backwards in a terminal).
pub fn parse_key_part(raw: String) -> Result<String, FieldError> {
    if raw.trim().is_empty() {
        return Err(FieldError::Empty);
    }
    let chars = raw.chars().count();
    if chars > MAX_KEY_CHARS {
        return Err(FieldError::TooLong {
            max: MAX_KEY_CHARS,
            actual: chars,
        });
    }
    if raw.chars().any(char::is_control) {
        return Err(FieldError::ControlCharacter);
    }
    if let Some(invisible) = raw.chars().find(|&c| is_invisible_format(c)) {
        return Err(FieldError::InvisibleCharacter {
            found: format!("U+{:04X}", u32::from(invisible)),
        });
    }
    Ok(raw)
}

/// Parses a source name: not blank, at most [`MAX_SOURCE_CHARS`] characters, no control
/// characters (a NUL cannot even be stored in a PostgreSQL text column, so letting one through
/// turned a client mistake into a 503).
pub fn parse_source(raw: String) -> Result<String, FieldError> {
    if raw.trim().is_empty() {
        return Err(FieldError::Empty);
    }
    let chars = raw.chars().count();
    if chars > MAX_SOURCE_CHARS {
        return Err(FieldError::TooLong {
            max: MAX_SOURCE_CHARS,
            actual: chars,
        });
    }
    if raw.chars().any(char::is_control) {
        return Err(FieldError::ControlCharacter);
    }
    Ok(raw)
}

/// Unicode's format characters (general category `Cf`: zero-width spaces and joiners,
/// bidirectional marks, embeddings, overrides and isolates, the byte-order mark, ...) and the
/// line and paragraph separators. Listed by hand from Unicode 15 because `std` has no category
/// lookup and the set is small and stable.
fn is_invisible_format(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Parses an RFC 3339 timestamp; an ISO 8601 date-time without an offset is taken as UTC,
/// because that is what publishers that omit it almost always mean. Only the four-digit years of
/// RFC 3339 are accepted (in UTC): chrono reads signed years of any length, and some of those lie
/// outside what a store can hold, which made the commit fail with a 503.
pub fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, FieldError> {
    const NAIVE_FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"];
    let parsed = match DateTime::parse_from_rfc3339(raw) {
        Ok(with_offset) => with_offset.with_timezone(&Utc),
        Err(_) => NAIVE_FORMATS
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
            .map(|naive| naive.and_utc())
            .ok_or(FieldError::BadTimestamp)?,
    };
    if !(0..=9999).contains(&parsed.year()) {
        return Err(FieldError::BadTimestamp);
    }
    // chrono reads second 60 on any date as a leap second and stores it as the next second's
    // instant, so two different texts would name one instant; no publisher means that.
    if parsed.timestamp_subsec_nanos() >= 1_000_000_000 {
        return Err(FieldError::BadTimestamp);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_part_of_exactly_the_limit_is_accepted_and_one_more_is_not() {
        assert!(parse_key_part("é".repeat(MAX_KEY_CHARS)).is_ok());
        assert_eq!(
            parse_key_part("a".repeat(MAX_KEY_CHARS + 1)),
            Err(FieldError::TooLong {
                max: MAX_KEY_CHARS,
                actual: MAX_KEY_CHARS + 1
            })
        );
    }

    #[test]
    fn key_parts_reject_empty_and_control_characters_but_accept_unicode() {
        assert_eq!(parse_key_part(String::new()), Err(FieldError::Empty));
        assert_eq!(
            parse_key_part("a\nb".into()),
            Err(FieldError::ControlCharacter)
        );
        assert_eq!(parse_key_part("订单/ü 1".into()).as_deref(), Ok("订单/ü 1"));
    }

    #[test]
    fn key_parts_reject_blank_values_and_invisible_or_bidi_characters() {
        assert_eq!(parse_key_part(" \t ".into()), Err(FieldError::Empty));
        for (raw, code) in [
            ("a\u{202E}b", "U+202E"),
            ("a\u{2028}b", "U+2028"),
            ("a\u{200B}b", "U+200B"),
            ("\u{FEFF}a", "U+FEFF"),
        ] {
            assert_eq!(
                parse_key_part(raw.into()),
                Err(FieldError::InvisibleCharacter { found: code.into() }),
                "{code}"
            );
        }
        assert!(parse_key_part("emoji 🦀 and accents é".into()).is_ok());
    }

    #[test]
    fn a_source_of_exactly_the_limit_is_accepted_and_one_more_is_not() {
        assert!(parse_source("s".repeat(MAX_SOURCE_CHARS)).is_ok());
        assert!(matches!(
            parse_source("s".repeat(MAX_SOURCE_CHARS + 1)),
            Err(FieldError::TooLong { .. })
        ));
    }

    #[test]
    fn timestamps_with_offsets_are_normalised_to_utc() {
        let parsed = parse_timestamp("2024-05-01T14:00:00+02:00").unwrap();
        assert_eq!(parsed.to_rfc3339(), "2024-05-01T12:00:00+00:00");
    }

    #[test]
    fn timestamps_without_an_offset_are_taken_as_utc() {
        let parsed = parse_timestamp("2024-05-01T12:00:00.250").unwrap();
        assert_eq!(parsed.to_rfc3339(), "2024-05-01T12:00:00.250+00:00");
    }

    #[test]
    fn timestamps_beyond_four_digit_years_are_rejected() {
        for raw in [
            "-262000-01-01T00:00:00",
            "+262000-01-01T00:00:00",
            "10000-01-01T00:00:00",
        ] {
            assert_eq!(parse_timestamp(raw), Err(FieldError::BadTimestamp), "{raw}");
        }
        assert!(parse_timestamp("0000-01-01T00:00:00Z").is_ok());
        assert!(parse_timestamp("9999-12-31T23:59:59Z").is_ok());
    }

    #[test]
    fn sources_reject_blank_and_control_characters() {
        assert_eq!(parse_source("  ".into()), Err(FieldError::Empty));
        assert_eq!(
            parse_source("a\u{0}b".into()),
            Err(FieldError::ControlCharacter)
        );
        assert_eq!(
            parse_source("billing api/ü".into()).as_deref(),
            Ok("billing api/ü")
        );
    }

    #[test]
    fn garbage_timestamps_are_rejected() {
        for raw in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "1714564800",
            "2024-05-01T12:00:60Z",
            "2016-12-31T23:59:60Z",
        ] {
            assert_eq!(parse_timestamp(raw), Err(FieldError::BadTimestamp), "{raw}");
        }
    }
}
