//! The shapes of a `POST /publish` body as the OpenAPI document states them. The parser in
//! `body.rs` never deserialises into these types; they exist so that the document says exactly
//! what the parser accepts: the three body shapes (which exclude each other), the item bounds,
//! the character rules of the fields, and the payload's rules.

use serde::Serialize;
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// The default of `--max-events-per-request`, stated as `maxItems` in the document.
const MAX_EVENTS_DOCUMENTED: usize = 10_000;

/// Characters a topic or event id never holds: Unicode `Cc` (controls), `Cf` (invisible and
/// bidirectional formatting characters, listed as in `event::is_invisible_format`), U+2028 and
/// U+2029. Code points above U+FFFF are written `\x{...}`: ECMA-262 without its `u` flag has no
/// escape for them, and `\x{...}` is the one that both the validators in Rust and Python (and
/// PCRE, Java) and schemathesis read.
const KEY_EXCLUDED: &str = concat!(
    r"\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2",
    r"\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb",
    r"\x{110bd}\x{110cd}\x{13430}-\x{1343f}\x{1bca0}-\x{1bca3}\x{1d173}-\x{1d17a}",
    r"\x{e0001}\x{e0020}-\x{e007f}",
);
/// Characters a source never holds: Unicode `Cc`.
const SOURCE_EXCLUDED: &str = r"\u0000-\u001f\u007f-\u009f";
/// White space as `str::trim` sees it, less the controls (excluded anyway): a value made only
/// of these is blank.
const WHITE_SPACE: &str = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// A string of 1 to 255 characters, none in `excluded`, at least one that is not white space.
fn text_schema(excluded: &str, example: &str, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(255))
        .pattern(Some(format!(
            "^[^{excluded}]*[^{excluded}{WHITE_SPACE}][^{excluded}]*$"
        )))
        .examples([example])
        .description(Some(description))
        .into()
}

/// The schema of a topic (also the path parameter of `DELETE /topics/{topic}`).
pub fn topic_schema() -> Schema {
    text_schema(
        KEY_EXCLUDED,
        "orders",
        "Not blank, at most 255 characters; no control characters, no invisible or \
         bidirectional formatting characters (Unicode `Cf`: U+200B, U+202E, U+FEFF, ...), no \
         line or paragraph separators (U+2028, U+2029).",
    )
}

fn event_id_schema() -> Schema {
    text_schema(
        KEY_EXCLUDED,
        "o-1",
        "Same rules as `topic`; `(topic, event_id)` is the event's identity.",
    )
}

fn source_schema() -> Schema {
    text_schema(
        SOURCE_EXCLUDED,
        "checkout",
        "The producing service; not blank, at most 255 characters, no control characters.",
    )
}

/// One published event, as documented in the OpenAPI document. The handler does not
/// deserialise into it: it parses `WireEvent` (body.rs) so that it can report every problem
/// at once. The descriptions of the fields with a schema function are in that function
/// (utoipa would drop the doc comment).
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishEvent {
    /// The event's stream.
    #[schema(schema_with = topic_schema)]
    pub topic: String,
    /// The event's id within its topic.
    #[schema(schema_with = event_id_schema)]
    pub event_id: String,
    /// RFC 3339 (second 60 is refused; the instant must fall in the years 0000..9999 UTC); an
    /// ISO 8601 time without offset is taken as UTC.
    #[schema(value_type = String, format = DateTime, example = "2024-05-01T12:00:00Z")]
    pub timestamp: String,
    /// The producing service.
    #[schema(schema_with = source_schema)]
    pub source: String,
    /// Any JSON object, stored and returned exactly as sent; absent or `null` means `{}`. At
    /// most `--max-payload-depth` (default 64) levels of nesting; no `\u0000` and no lone
    /// UTF-16 surrogate escapes anywhere in it.
    #[schema(schema_with = payload_schema)]
    pub payload: Option<serde_json::Value>,
}

/// A string (or object key) of a payload: no NUL, which PostgreSQL cannot store in `jsonb`;
/// refused on every store so that both behave the same.
const NO_NUL_PATTERN: &str = r"^[^\u0000]*$";

/// An object whose keys have no NUL and whose values are [`PayloadValue`]s.
fn payload_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .additional_properties(Some(Ref::from_schema_name(PayloadValue::name())))
        .property_names(Some(no_nul_string()))
}

fn no_nul_string() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(NO_NUL_PATTERN))
}

fn payload_schema() -> Schema {
    payload_object()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(
            "Any JSON object, stored and returned exactly as sent; absent or `null` means `{}`. \
             At most `--max-payload-depth` (default 64) levels of nesting; no `\\u0000` and no \
             lone UTF-16 surrogate escapes anywhere in it.",
        ))
        .into()
}

/// Any JSON value inside a payload, with the payload's rules: the document states them
/// recursively, so that a generated payload is one the server accepts. (The depth limit cannot
/// be stated in JSON Schema; it is in the payload's description.)
#[derive(Debug)]
pub struct PayloadValue;

impl PartialSchema for PayloadValue {
    fn schema() -> RefOr<Schema> {
        let itself = || Ref::from_schema_name(PayloadValue::name());
        AnyOfBuilder::new()
            .item(no_nul_string())
            .item(ObjectBuilder::new().schema_type(SchemaType::from_iter([
                Type::Number,
                Type::Boolean,
                Type::Null,
            ])))
            .item(ArrayBuilder::new().items(itself()))
            .item(payload_object().schema_type(Type::Object))
            .description(Some(
                "A JSON value with no NUL character in any string or key",
            ))
            .into()
    }
}

impl ToSchema for PayloadValue {}

/// `{"events": [...]}`: a batch of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishBatch {
    /// At least one and at most `--max-events-per-request` (default 10000) events.
    #[schema(min_items = 1, max_items = 10_000)]
    pub events: Vec<PublishEvent>,
}

/// The three accepted shapes of a `POST /publish` body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PublishBody {
    /// One event object.
    One(PublishOne),
    /// `{"events": [...]}`.
    Batch(PublishBatch),
    /// A bare array of events.
    Array(PublishArray),
}

/// One event object, as a whole body: an event whose `events` key is absent or `null`, because
/// an object with an `events` array is read as the envelope (its event fields are ignored).
/// Stated so that the three shapes exclude each other, as `oneOf` requires.
#[derive(Debug, Serialize)]
pub struct PublishOne(pub PublishEvent);

impl PartialSchema for PublishOne {
    fn schema() -> RefOr<Schema> {
        AllOfBuilder::new()
            .item(Ref::from_schema_name(PublishEvent::name()))
            .item(
                ObjectBuilder::new().property(
                    "events",
                    ObjectBuilder::new()
                        .schema_type(Type::Null)
                        .description(Some(
                            "Absent or `null`: an `events` array makes the envelope",
                        )),
                ),
            )
            .description(Some("One event object"))
            .into()
    }
}

impl ToSchema for PublishOne {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((PublishEvent::name().into_owned(), PublishEvent::schema()));
        PublishEvent::schemas(schemas);
    }
}

/// A bare array of events: at least one and at most `--max-events-per-request` (default 10000).
/// Its schema is written by hand: utoipa's derive takes no item bounds on an unnamed field.
#[derive(Debug, Serialize)]
pub struct PublishArray(pub Vec<PublishEvent>);

impl PartialSchema for PublishArray {
    fn schema() -> RefOr<Schema> {
        events_array(
            "A bare array of events: at least one and at most `--max-events-per-request` \
             (default 10000)",
        )
    }
}

impl ToSchema for PublishArray {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((PublishEvent::name().into_owned(), PublishEvent::schema()));
        PublishEvent::schemas(schemas);
    }
}

/// An NDJSON body (`application/x-ndjson`): one event object per line. OpenAPI has no way to
/// say "lines", so the document states the events the lines hold, as an array with the bounds
/// of [`PublishArray`]; a client writes each item as one line.
#[derive(Debug, Serialize)]
pub struct PublishLines(pub Vec<PublishEvent>);

impl PartialSchema for PublishLines {
    fn schema() -> RefOr<Schema> {
        events_array(
            "NDJSON: one event object per line (each item here is one line); at least one and \
             at most `--max-events-per-request` (default 10000); blank lines are skipped",
        )
    }
}

impl ToSchema for PublishLines {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        PublishArray::schemas(schemas);
    }
}

fn events_array(description: &str) -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(Ref::from_schema_name(PublishEvent::name()))
        .min_items(Some(1))
        .max_items(Some(MAX_EVENTS_DOCUMENTED))
        .description(Some(description))
        .into()
}
