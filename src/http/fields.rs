//! `GET /fields`: the payload fields the newest events of a search hold, with how many of them
//! hold each, so that a console can suggest names as a person types a query.
//!
//! A sample, not a census: the newest [`SAMPLE_EVENTS`] matching events of the range are read
//! (a search in time order, so the same limits apply), and every path through objects that
//! leads to a value is counted once per event, with the JSON types seen there. Paths a query
//! cannot name (a name with a space or a dot) are left out.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, ToSchema};

use super::counts::{parse_scope_params, RawScope, ScopeParams};
use super::error::{ApiError, ErrorResponse, IssueLog};
use super::events::{q_schema, since_schema, source_schema, topic_schema, until_schema};
use super::paging;
use super::params::Params;
use super::state::AppState;
use crate::auth::{Caller, Scope};
use crate::store::{EventQuery, ListingOrder, TimePosition};

/// Events read at most to list the fields.
pub const SAMPLE_EVENTS: usize = 10_000;
/// Events read per page of the sample.
const PAGE: u32 = 1_000;
/// Fields listed when `limit` is absent, and at most.
const DEFAULT_FIELDS: usize = 100;
const MAX_FIELDS: usize = 1_000;

/// Query parameters of `GET /fields`, still raw.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FieldsParams {
    /// A search query.
    #[param(schema_with = q_schema)]
    q: Option<String>,
    /// Only events of this topic.
    #[param(schema_with = topic_schema)]
    topic: Option<String>,
    /// Only events from this source.
    #[param(schema_with = source_schema)]
    source: Option<String>,
    /// Start of the range.
    #[param(schema_with = since_schema)]
    since: Option<String>,
    /// End of the range.
    #[param(schema_with = until_schema)]
    until: Option<String>,
    /// How many fields.
    #[param(schema_with = limit_schema)]
    limit: Option<String>,
}

fn limit_schema() -> Schema {
    paging::limit_schema(
        "How many fields, most frequent first: any whole number of at least 1; larger ones are \
         capped at 1000. Empty means 100.",
    )
}

/// The fields of the sampled events.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldsResponse {
    /// Events read (the newest matching ones, at most 10000).
    pub sampled: usize,
    /// Whether the sample is every matching event.
    pub complete: bool,
    /// The fields, most frequent first (ties by name).
    pub fields: Vec<FieldSeen>,
}

/// One payload field of the sample.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldSeen {
    /// Its path, as a query names it (`http.status`).
    pub field: String,
    /// Sampled events holding it.
    pub count: usize,
    /// The JSON types seen there (`string`, `number`, `boolean`, `null`, `array`, `object`).
    pub types: Vec<&'static str>,
}

/// The payload fields of the newest events a search matches.
///
/// Reads the newest 10000 matching events at most and counts, per path through objects, the
/// events holding a value there. For suggestions, not for counting: `/events/count` counts.
#[utoipa::path(
    get,
    path = "/fields",
    tag = "search",
    params(FieldsParams),
    responses(
        (status = 200, description = "The fields", body = FieldsResponse),
        (status = 400, description = "Invalid parameters (`details` names each; for `q`, the \
                                      position and token), or a search that ran past \
                                      `--query-timeout` (the message says how to narrow it)",
         body = ErrorResponse),
        (status = 429, description = "Too many requests, or searches, in progress; retry later",
         body = ErrorResponse, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Store unreachable or slow", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn list_fields(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    params: Result<Params<FieldsParams>, ApiError>,
) -> Result<Json<FieldsResponse>, ApiError> {
    caller.require(&[Scope::Read])?;
    let Params(params) = params?;
    let mut log = IssueLog::new(None);
    let scope = parse_scope_params(
        &mut log,
        RawScope {
            q: params.q,
            topic: params.topic,
            source: params.source,
            since: params.since,
            until: params.until,
        },
    );
    let limit = log.check(
        "limit",
        paging::parse_limit(params.limit.as_deref(), DEFAULT_FIELDS, MAX_FIELDS),
    );
    let (
        Some(ScopeParams {
            filter,
            topic,
            source,
            since,
            until,
        }),
        Some(limit),
    ) = (scope, limit)
    else {
        return Err(ApiError::InvalidQuery(log.into_issues()));
    };
    if let Some(topic) = &topic {
        caller.require_topic(topic)?;
    }
    let _search = state.reserve_search()?;
    let mut query = EventQuery {
        topic,
        topic_prefixes: caller.topics(),
        source,
        since,
        until,
        filter,
        order: ListingOrder::Newest,
        limit: PAGE,
        max_bytes: state.limits.max_page_bytes,
        ..EventQuery::default()
    };
    let mut tally = Tally::default();
    let mut complete = false;
    while tally.events < SAMPLE_EVENTS {
        let page = state.store.query(&query).await?;
        for event in &page.events {
            // A stored payload is valid JSON; were it not, it would hold no field.
            let payload: Value = serde_json::from_str(event.payload.get()).unwrap_or_default();
            tally.add(&payload);
        }
        match (page.next, page.events.last()) {
            (Some(_), Some(last)) => query.after_time = Some(TimePosition::of(last)),
            _ => {
                complete = true;
                break;
            }
        }
    }
    Ok(Json(tally.answer(limit, complete)))
}

/// Paths counted so far.
#[derive(Debug, Default)]
struct Tally {
    events: usize,
    fields: BTreeMap<String, (usize, BTreeSet<&'static str>)>,
}

impl Tally {
    /// Counts every nameable path of `payload` once.
    fn add(&mut self, payload: &Value) {
        self.events += 1;
        let mut seen = BTreeMap::new();
        walk(payload, &mut String::new(), &mut seen);
        for (path, kind) in seen {
            let (count, kinds) = self.fields.entry(path).or_default();
            *count += 1;
            kinds.insert(kind);
        }
    }

    fn answer(self, limit: usize, complete: bool) -> FieldsResponse {
        let mut fields: Vec<FieldSeen> = self
            .fields
            .into_iter()
            .map(|(field, (count, kinds))| FieldSeen {
                field,
                count,
                types: kinds.into_iter().collect(),
            })
            .collect();
        fields.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.field.cmp(&b.field)));
        fields.truncate(limit);
        FieldsResponse {
            sampled: self.events,
            complete,
            fields,
        }
    }
}

/// Records, under `prefix`, every path through the objects of `value` that a query can name.
fn walk(value: &Value, prefix: &mut String, seen: &mut BTreeMap<String, &'static str>) {
    let Value::Object(members) = value else {
        return;
    };
    for (name, member) in members {
        let nameable = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '@'));
        if !nameable {
            continue;
        }
        let before = prefix.len();
        if !prefix.is_empty() {
            prefix.push('.');
        }
        prefix.push_str(name);
        seen.insert(prefix.clone(), kind(member));
        walk(member, prefix, seen);
        prefix.truncate(before);
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_nameable_path_through_objects_is_counted_once_per_event() {
        let mut tally = Tally::default();
        tally.add(
            &json!({"level": "error", "http": {"status": 500}, "tags": [{"x": 1}],
                          "with space": 1, "a.b": 2}),
        );
        tally.add(&json!({"level": null, "http": {"status": "500"}}));
        let answer = tally.answer(10, true);
        let listed: Vec<(String, usize, Vec<&str>)> = answer
            .fields
            .into_iter()
            .map(|field| (field.field, field.count, field.types))
            .collect();
        assert_eq!(
            listed,
            [
                ("http".to_owned(), 2, vec!["object"]),
                ("http.status".to_owned(), 2, vec!["number", "string"]),
                ("level".to_owned(), 2, vec!["null", "string"]),
                ("tags".to_owned(), 1, vec!["array"]),
            ]
        );
        assert_eq!(answer.sampled, 2);
    }
}
