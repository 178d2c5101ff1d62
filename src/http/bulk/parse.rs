//! Reading an Elasticsearch bulk body into items: action lines and their documents, and each
//! `index`/`create` document mapped to an [`Event`] (see the mapping in docs/shippers.md, "The
//! Elasticsearch bulk API").
//!
//! The body is NDJSON: an action line (`{"index": {...}}`, `{"create": {...}}`,
//! `{"delete": {...}}` or `{"update": {...}}`), then, except for `delete`, one document line.
//! An action line that is not a JSON object naming one known action, or an action without its
//! document, breaks the pairing of every line after it, so it fails the whole request (`400`),
//! as in Elasticsearch. Everything else is judged per item, since the pairing stays known: the
//! action's metadata (not an object, an `_index` or `_id` of the wrong type or holding what no
//! topic or id may hold: a lone surrogate escape, a control character, too many characters),
//! a document that is not JSON or not valid, a missing index or an unsupported action is that
//! item's `400` naming the field, and the request's other items are stored as if sent alone.
//! So the action line is read in two steps: its one key (which decides the pairing), then its
//! metadata, each field on its own, from the raw text.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{self, Event, FieldError};
use crate::http::body::{is_null, json_reason, non_blank_lines, payload_object, string_value};

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
/// tolerated and ignored), each field still raw so that it is judged on its own.
#[derive(Deserialize)]
struct RawActionMeta<'a> {
    #[serde(rename = "_index", borrow)]
    index: Option<&'a RawValue>,
    #[serde(rename = "_id", borrow)]
    id: Option<&'a RawValue>,
}

/// An action's metadata, read: what is valid of it, and the first problem found, which
/// refuses the item.
#[derive(Debug, Default)]
struct ActionMeta {
    index: Option<String>,
    /// `_index` was given but is not a valid string.
    index_refused: bool,
    id: Option<String>,
    problem: Option<String>,
}

impl ActionMeta {
    /// Reads the metadata of action `name`; a problem refuses the item, never the request.
    fn read(name: &str, raw: &RawValue) -> Self {
        let meta: RawActionMeta<'_> = match serde_json::from_str(raw.get()) {
            Ok(meta) => meta,
            Err(err) => {
                return Self {
                    problem: Some(format!(
                        "the {name} action's metadata must be an object such as \
                         {{\"_index\":\"logs\"}}: {}",
                        json_reason(&err)
                    )),
                    ..Self::default()
                }
            }
        };
        let mut read = Self::default();
        match meta.index.filter(|raw| !is_null(raw)).map(string_value) {
            None => {}
            Some(Ok(index)) => read.index = Some(index),
            Some(Err(err)) => {
                read.index_refused = true;
                read.problem = Some(format!("_index {err}"));
            }
        }
        match meta.id.filter(|raw| !is_null(raw)).map(id_value) {
            None => {}
            Some(Ok(id)) => read.id = Some(id),
            Some(Err(err)) => {
                read.problem.get_or_insert(format!("_id {err}"));
            }
        }
        read
    }
}

/// Elasticsearch takes a number as an id too.
fn id_value(raw: &RawValue) -> Result<String, FieldError> {
    match serde_json::from_str::<serde_json::Number>(raw.get()) {
        Ok(number) => Ok(number.to_string()),
        Err(_) => string_value(raw).map_err(|err| match err {
            FieldError::WrongType { .. } => FieldError::WrongType {
                expected: "a string or a number",
            },
            other => other,
        }),
    }
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
    /// syslog-ng's `elasticsearch-http()` template.
    #[serde(rename = "HOST", borrow)]
    upper_host: Option<&'a RawValue>,
    /// Elastic Agent, Filebeat: `agent.name`.
    #[serde(borrow)]
    agent: Option<&'a RawValue>,
    /// Fluent Bit's and Vector's Kubernetes metadata: `kubernetes.host`.
    #[serde(borrow)]
    kubernetes: Option<&'a RawValue>,
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
        let (action, raw_meta) = read_action(number, line)?;
        let meta = ActionMeta::read(&action, raw_meta);
        let document = if action == "delete" {
            None
        } else {
            let Some((_, document)) = lines.next() else {
                return Err(Unpaired(format!(
                    "line {number}: the {action} action has no document line after it"
                )));
            };
            Some(document)
        };
        // A refused `_index` is not replaced by the path's.
        let index = match meta.index_refused {
            true => None,
            false => meta.index.or_else(|| path_index.map(str::to_owned)),
        };
        let item = match (action.as_str(), meta.problem, document) {
            (_, Some(problem), _) => refused(action, index, meta.id, &problem),
            ("index" | "create", None, Some(document)) => document_item(
                action,
                index,
                meta.id,
                document,
                received_at,
                max_payload_depth,
            ),
            ("delete", None, _) => refused(action, index, meta.id, "delete is not supported"),
            (_, None, _) => refused(
                action,
                index,
                meta.id,
                "only index and create are supported",
            ),
        };
        items.push(item);
    }
    Ok(items)
}

/// Reads an action line as far as the pairing needs: a JSON object with exactly one key, a
/// known action. Its metadata is returned raw, to be judged as part of the item.
fn read_action(number: usize, line: &[u8]) -> Result<(String, &RawValue), Unpaired> {
    let unpaired = |reason: &str| Unpaired(format!("line {number}: {reason}"));
    let action: BTreeMap<String, &RawValue> = serde_json::from_slice(line).map_err(|err| {
        unpaired(&format!(
            "an action line must be a JSON object such as {{\"index\":{{}}}}: {}",
            json_reason(&err)
        ))
    })?;
    let mut entries = action.into_iter();
    let (Some((name, meta)), None) = (entries.next(), entries.next()) else {
        return Err(unpaired("an action line must hold exactly one action"));
    };
    if !matches!(name.as_str(), "index" | "create" | "delete" | "update") {
        return Err(unpaired(&format!(
            "unknown action {name:?} (index, create, delete or update)"
        )));
    }
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

/// The first host a shipper's default document names, in this order: `host.name`, `host` (a
/// string), `host.hostname` (ECS), `hostname`, `HOST` (syslog-ng), `agent.name` (Elastic
/// Agent, Filebeat), `kubernetes.host` (Fluent Bit, Vector); else `unknown`.
fn source_of(fields: &DocumentFields<'_>) -> String {
    #[derive(Deserialize)]
    struct Named {
        name: Option<String>,
        hostname: Option<String>,
        host: Option<String>,
    }
    let member = |raw: Option<&RawValue>, pick: fn(Named) -> Option<String>| {
        raw.and_then(|raw| serde_json::from_str::<Named>(raw.get()).ok())
            .and_then(pick)
    };
    let text = |raw: Option<&RawValue>| raw.and_then(string_of);
    let candidates = [
        member(fields.host, |host| host.name),
        text(fields.host),
        member(fields.host, |host| host.hostname),
        text(fields.hostname),
        text(fields.upper_host),
        member(fields.agent, |agent| agent.name),
        member(fields.kubernetes, |kubernetes| kubernetes.host),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|host| !host.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn string_of(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
