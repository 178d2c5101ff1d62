//! Reading an Elasticsearch bulk body into items: action lines and their documents, and each
//! `index`/`create` document mapped to an [`Event`] (see the mapping in README, "Shipping logs
//! from rsyslog, Fluent Bit, Vector").
//!
//! The body is NDJSON: an action line (`{"index": {...}}`, `{"create": {...}}`,
//! `{"delete": {...}}` or `{"update": {...}}`), then, except for `delete`, one document line.
//! An action line that is not a JSON object naming one known action, or an action without its
//! document, breaks the pairing of every line after it, so it fails the whole request (`400`),
//! as in Elasticsearch. Everything else is judged per item: a document that is not JSON or not
//! valid, a missing index or an unsupported action is that item's `400`, and the request's
//! other items are stored.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{self, Event, FieldError};
use crate::http::body::{non_blank_lines, payload_object};

/// One item of a bulk request, in request order.
#[derive(Debug)]
pub struct BulkItem {
    /// The action's name as sent (`index`, `create`, `delete`, `update`): the key of the item's
    /// answer.
    pub action: String,
    /// The index the item names (its topic), when it names one.
    pub index: Option<String>,
    /// The document's id: `_id`, or the digest that stands for it.
    pub id: Option<String>,
    /// The event to store, or why this item is refused.
    pub event: Result<Event, String>,
}

/// The part of an action's metadata the aggregator reads (`_type`, `routing` and the like are
/// tolerated and ignored).
#[derive(Deserialize)]
struct ActionMeta {
    #[serde(rename = "_index")]
    index: Option<String>,
    #[serde(rename = "_id")]
    id: Option<IdValue>,
}

/// Elasticsearch takes a number as an id too.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdValue {
    Text(String),
    Number(serde_json::Number),
}

/// The document fields the mapping reads; every other field is only payload.
#[derive(Deserialize)]
struct DocumentFields<'a> {
    #[serde(rename = "@timestamp", borrow)]
    at_timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    time: Option<&'a RawValue>,
    #[serde(borrow)]
    host: Option<&'a RawValue>,
    #[serde(borrow)]
    hostname: Option<&'a RawValue>,
}

/// A bulk body that cannot be read as action/document pairs.
#[derive(Debug, PartialEq, Eq)]
pub struct Unpaired(pub String);

/// Reads `body` into items; `path_index` is the index of `POST /{index}/_bulk`, the default of
/// actions without `_index`; `received_at` stands in for a document without a time.
pub fn parse_bulk(
    body: &[u8],
    path_index: Option<&str>,
    received_at: chrono::DateTime<chrono::Utc>,
    max_payload_depth: usize,
) -> Result<Vec<BulkItem>, Unpaired> {
    let mut lines = non_blank_lines(body);
    let mut items = Vec::new();
    while let Some((number, line)) = lines.next() {
        let (action, meta) = read_action(number, line)?;
        let id = meta.id.map(|id| match id {
            IdValue::Text(text) => text,
            IdValue::Number(number) => number.to_string(),
        });
        let index = meta.index.or_else(|| path_index.map(str::to_owned));
        if action == "delete" {
            items.push(refused(action, index, id, "delete is not supported"));
            continue;
        }
        let Some((_, document)) = lines.next() else {
            return Err(Unpaired(format!(
                "line {number}: the {action} action has no document line after it"
            )));
        };
        let item = match action.as_str() {
            "index" | "create" => {
                document_item(action, index, id, document, received_at, max_payload_depth)
            }
            _ => refused(action, index, id, "only index and create are supported"),
        };
        items.push(item);
    }
    Ok(items)
}

fn read_action(number: usize, line: &[u8]) -> Result<(String, ActionMeta), Unpaired> {
    let unpaired = |reason: &str| Unpaired(format!("line {number}: {reason}"));
    let action: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line)
        .map_err(|_| unpaired("an action line must be a JSON object such as {\"index\":{}}"))?;
    let mut entries = action.into_iter();
    let (Some((name, meta)), None) = (entries.next(), entries.next()) else {
        return Err(unpaired("an action line must hold exactly one action"));
    };
    if !matches!(name.as_str(), "index" | "create" | "delete" | "update") {
        return Err(unpaired(&format!(
            "unknown action {name:?} (index, create, delete or update)"
        )));
    }
    let meta: ActionMeta = serde_json::from_value(meta)
        .map_err(|err| unpaired(&format!("the {name} action's metadata: {err}")))?;
    Ok((name, meta))
}

fn refused(action: String, index: Option<String>, id: Option<String>, reason: &str) -> BulkItem {
    BulkItem {
        action,
        index,
        id,
        event: Err(reason.to_owned()),
    }
}

fn document_item(
    action: String,
    index: Option<String>,
    id: Option<String>,
    document: &[u8],
    received_at: chrono::DateTime<chrono::Utc>,
    max_payload_depth: usize,
) -> BulkItem {
    let Some(topic) = index.clone() else {
        return refused(
            action,
            None,
            id,
            "no index: give _index, or POST /{index}/_bulk",
        );
    };
    // A document without an id gets the digest of its topic and bytes: the same line re-sent
    // (a shipper's retry) is the same event.
    let id = id.unwrap_or_else(|| event::content_id(&topic, document));
    let event = map_document(topic, id.clone(), document, received_at, max_payload_depth);
    BulkItem {
        action,
        index,
        id: Some(id),
        event,
    }
}

fn map_document(
    topic: String,
    event_id: String,
    document: &[u8],
    received_at: chrono::DateTime<chrono::Utc>,
    max_payload_depth: usize,
) -> Result<Event, String> {
    let field = |name: &str, err: FieldError| format!("{name} {err}");
    let topic = event::parse_key_part(topic).map_err(|err| field("_index", err))?;
    let event_id = event::parse_key_part(event_id).map_err(|err| field("_id", err))?;
    let raw: &RawValue = serde_json::from_slice(document)
        .map_err(|err| format!("the document is not JSON: {err}"))?;
    let payload =
        payload_object(raw, max_payload_depth).map_err(|err| field("the document", err))?;
    let fields: DocumentFields<'_> = serde_json::from_str(payload.get())
        .map_err(|err| format!("the document's fields: {err}"))?;
    let timestamp = match time_field(&fields) {
        Some((name, raw)) => string_of(raw)
            .ok_or(FieldError::BadTimestamp)
            .and_then(|text| event::parse_timestamp(&text))
            .map_err(|err| field(name, err))?,
        None => received_at,
    };
    let source = event::parse_source(source_of(&fields)).map_err(|err| field("host", err))?;
    Ok(Event {
        topic,
        event_id,
        timestamp,
        source,
        payload,
    })
}

/// The first time field present: `@timestamp`, `timestamp`, `time`.
fn time_field<'a>(fields: &DocumentFields<'a>) -> Option<(&'static str, &'a RawValue)> {
    [
        ("@timestamp", fields.at_timestamp),
        ("timestamp", fields.timestamp),
        ("time", fields.time),
    ]
    .into_iter()
    .find_map(|(name, raw)| raw.map(|raw| (name, raw)))
}

/// `host.name`, `host`, `hostname`, or `unknown`.
fn source_of(fields: &DocumentFields<'_>) -> String {
    #[derive(Deserialize)]
    struct HostObject {
        name: Option<String>,
    }
    let host = fields.host.and_then(|raw| {
        string_of(raw).or_else(|| serde_json::from_str::<HostObject>(raw.get()).ok()?.name)
    });
    host.or_else(|| fields.hostname.and_then(string_of))
        .unwrap_or_else(|| "unknown".into())
}

fn string_of(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

#[cfg(test)]
mod tests;
