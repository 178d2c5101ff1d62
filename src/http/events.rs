//! `GET /events?topic=&source=&since=&until=&q=&limit=&cursor=`: stored events, paginated.
//!
//! Events are listed in `(topic, seq)` order: within a topic, commit order (guarantee 8).
//! Pagination is keyset-based: `next_cursor` encodes the position of the last event returned,
//! so pages neither skip nor repeat events even while new ones arrive.
//!
//! `q` is a search query (`crate::query`), lowered by the store to its own SQL. A search may
//! read much of the store, so at most `--max-concurrent-queries` run at once (past it, `429`)
//! and each within `--query-timeout` (past it, a `400` saying how to narrow it).
//!
//! With API keys in force the key needs the `read` scope; a listing shows only the topics
//! inside the key's prefixes, and a `topic` outside them is `403`.

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use super::cursor::{
    decode_time_cursor, decode_topic_cursor, encode_time_cursor, encode_topic_cursor,
    LISTING_CURSOR_PATTERN,
};
use super::error::{ApiError, ErrorResponse, IssueLog};
use super::paging;
use super::params::Params;
use super::state::AppState;
use crate::auth::{Caller, Scope};
use crate::event;
use crate::query::parse::DEFAULT_MAX_QUERY_CHARS;
use crate::query::{self, ParseError, Query};
use crate::store::{EventQuery, ListingOrder, StoredEvent, TimePosition};

/// Page size when `limit` is absent.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest page size; larger `limit`s are capped to it.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Query parameters, still raw, so that each can be reported on its own. An empty value means
/// the parameter was not given, for every one of them. The descriptions of the parameters with
/// a schema function are in that function (utoipa would drop the doc comment).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Only events of this topic.
    #[param(schema_with = topic_schema)]
    topic: Option<String>,
    /// Only events from this source.
    #[param(schema_with = source_schema)]
    source: Option<String>,
    /// Lower bound on the timestamp, inclusive.
    #[param(schema_with = since_schema)]
    since: Option<String>,
    /// Upper bound on the timestamp, exclusive.
    #[param(schema_with = until_schema)]
    until: Option<String>,
    /// Page size.
    #[param(schema_with = limit_schema)]
    limit: Option<String>,
    /// Where the previous page ended.
    #[param(schema_with = cursor_schema)]
    cursor: Option<String>,
    /// A search query.
    #[param(schema_with = q_schema)]
    q: Option<String>,
    /// The order of the events.
    #[param(schema_with = order_schema)]
    order: Option<String>,
}

fn order_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["", "newest", "oldest", "topic"]))
        .description(Some(
            "`newest` or `oldest` first by timestamp, or `topic` (by topic, then commit order). \
             Empty means `newest` for a search (`q`) without `topic`, else `topic`. A cursor \
             continues only the order it came from.",
        ))
        .into()
}

pub(super) fn q_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(DEFAULT_MAX_QUERY_CHARS))
        .pattern(Some(r"^[^\u0000]*$"))
        .description(Some(
            "Only events matching this search query (docs/http-api.md, \"Searching\"): words and \
             \"phrases\", field:value, field:prefix*, field:*, ranges, AND, OR, NOT, \
             parentheses. A query that cannot be read is refused with 400 naming its position \
             and token. Empty means every event.",
        ))
        .into()
}

pub(super) fn topic_schema() -> Schema {
    filter_schema("Only events of this topic. Empty means any topic.")
}

pub(super) fn source_schema() -> Schema {
    filter_schema("Only events from this source. Empty means any source.")
}

/// No stored topic or source holds a NUL, and PostgreSQL cannot even compare a text with one.
pub(super) fn filter_schema(description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^[^\u0000]*$"))
        .description(Some(description))
        .into()
}

pub(super) fn since_schema() -> Schema {
    paging::time_filter_schema(
        "Only events whose timestamp is at or after this instant (RFC 3339). Empty means no bound.",
    )
}

pub(super) fn until_schema() -> Schema {
    paging::time_filter_schema(
        "Only events whose timestamp is before this instant (RFC 3339). Empty means no bound.",
    )
}

fn limit_schema() -> Schema {
    paging::limit_schema(
        "Page size: any whole number of at least 1, however many digits; larger ones are capped \
         at 1000, not refused. Empty means the default, 100.",
    )
}

/// One page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsResponse {
    /// Events on this page.
    pub count: usize,
    /// The events.
    pub events: Vec<StoredEvent>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// List stored events, by topic and, within a topic, in commit order; paginated.
///
/// A page holds at most `limit` events and ends early, with a `next_cursor`, before the event
/// that would take its payloads past `--max-page-bytes` (it always holds at least one event).
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(EventsParams),
    responses(
        (status = 200, description = "One page of events", body = EventsResponse),
        (status = 400, description = "Invalid parameters (`details` names each; for `q`, the \
                                      position and token), or a search that ran past \
                                      `--query-timeout` (the message says how to narrow it)",
         body = ErrorResponse),
        (status = 429, description = "Too many requests, or more than `--max-concurrent-queries` \
                                      searches, in progress; retry later", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Store unreachable or slow", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn list_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    params: Result<Params<EventsParams>, ApiError>,
) -> Result<Json<EventsResponse>, ApiError> {
    caller.require(&[Scope::Read])?;
    let Params(params) = params?;
    let mut query = parse_params(params)?;
    if let Some(topic) = &query.topic {
        caller.require_topic(topic)?;
    }
    query.topic_prefixes = caller.topics();
    query.max_bytes = state.limits.max_page_bytes;
    // A search may read much of the store: a few at a time, the others told to come back.
    let _search = match query.filter {
        None => None,
        Some(_) => Some(state.reserve_search()?),
    };
    let page = state.store.query(&query).await?;
    let next_cursor = match (query.order, &page.next) {
        (_, None) => None,
        (ListingOrder::ByTopic, Some(next)) => Some(encode_topic_cursor(next)),
        (order, Some(_)) => page
            .events
            .last()
            .and_then(|last| encode_time_cursor(order, TimePosition::of(last))),
    };
    Ok(Json(EventsResponse {
        count: page.events.len(),
        events: page.events,
        next_cursor,
    }))
}

fn parse_params(params: EventsParams) -> Result<EventQuery, ApiError> {
    let mut log = IssueLog::new(None);
    let since = log.check("since", parse_time_filter(params.since));
    let until = log.check("until", parse_time_filter(params.until));
    let limit = log.check("limit", parse_limit(params.limit.as_deref()));
    let topic = log.check("topic", parse_filter(params.topic));
    let filter = log.check("q", parse_search(params.q.as_deref()));
    let source = log.check("source", parse_filter(params.source));
    let topic_filter = topic.as_ref().and_then(Option::as_deref);
    let searching = matches!(filter, Some(Some(_)));
    let order = log.check(
        "order",
        match params.order.as_deref() {
            None | Some("") if searching && topic_filter.is_none() => Ok(ListingOrder::Newest),
            None | Some("") | Some("topic") => Ok(ListingOrder::ByTopic),
            Some("newest") => Ok(ListingOrder::Newest),
            Some("oldest") => Ok(ListingOrder::Oldest),
            Some(_) => Err("must be newest, oldest or topic"),
        },
    );
    // An empty parameter means "not given", for `cursor` as for the filters.
    let cursor = params.cursor.as_deref().filter(|cursor| !cursor.is_empty());
    let (after, after_time) = match (cursor, order) {
        (None, _) => (Some(None), Some(None)),
        (Some(cursor), Some(ListingOrder::ByTopic)) => (
            log.check(
                "cursor",
                decode_topic_cursor(cursor, topic_filter).map(Some),
            ),
            Some(None),
        ),
        (Some(cursor), Some(order)) => (
            Some(None),
            log.check("cursor", decode_time_cursor(cursor, order).map(Some)),
        ),
        // The order is refused: the cursor cannot be read against it.
        (Some(_), None) => (Some(None), Some(None)),
    };
    match (
        (since, until, limit),
        (after, after_time, order),
        (topic, source, filter),
    ) {
        (
            (Some(since), Some(until), Some(limit)),
            (Some(after), Some(after_time), Some(order)),
            (Some(topic), Some(source), Some(filter)),
        ) => Ok(EventQuery {
            topic,
            topic_prefixes: Default::default(),
            source,
            since,
            until,
            filter,
            order,
            after_time,
            after,
            limit,
            max_bytes: 0,
        }),
        _ => Err(ApiError::InvalidQuery(log.into_issues())),
    }
}

/// A time bound: an empty one means none.
pub(super) fn parse_time_filter(
    raw: Option<String>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, event::FieldError> {
    raw.filter(|raw| !raw.is_empty())
        .map(|raw| event::parse_timestamp(&raw))
        .transpose()
}

/// An empty filter means none. A NUL is refused on every store alike: no stored value holds
/// one, and PostgreSQL refuses to compare a text with one (so that store answered 400 with its
/// own message while the embedded store answered an empty page).
pub(super) fn parse_filter(raw: Option<String>) -> Result<Option<String>, String> {
    match raw.filter(|raw| !raw.is_empty()) {
        Some(raw) if raw.contains('\0') => Err("must not contain the NUL character".into()),
        filter => Ok(filter),
    }
}

/// A search query: `None` for an empty one (every event), which keeps the plain listing.
pub(super) fn parse_search(raw: Option<&str>) -> Result<Option<Query>, ParseError> {
    match query::parse(raw.unwrap_or_default())? {
        Query::All => Ok(None),
        search => Ok(Some(search)),
    }
}

fn parse_limit(raw: Option<&str>) -> Result<u32, String> {
    let limit = paging::parse_limit(raw, DEFAULT_PAGE_SIZE as usize, MAX_PAGE_SIZE as usize)?;
    // A capped limit is at most MAX_PAGE_SIZE, so it always fits.
    Ok(u32::try_from(limit).unwrap_or(MAX_PAGE_SIZE))
}

fn cursor_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "The previous page's `next_cursor`, with the same `topic`, `q` and `order`. \
             Opaque: pass it back unchanged; any other value, a cursor of another topic or of \
             another order, is refused with 400. Empty means the first page.",
        ))
        .pattern(Some(LISTING_CURSOR_PATTERN))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_params(topic: &str, cursor: &str) -> EventsParams {
        EventsParams {
            topic: Some(topic.into()),
            source: None,
            since: None,
            until: None,
            limit: None,
            cursor: Some(cursor.into()),
            q: None,
            order: None,
        }
    }

    #[test]
    fn a_cursor_is_taken_only_with_the_topic_it_came_from() {
        let cursor = encode_topic_cursor(&crate::store::PagePosition {
            topic: "u".into(),
            seq: 5,
        });
        assert!(parse_params(events_params("u", &cursor)).is_ok());
        assert!(parse_params(events_params("", &cursor)).is_ok());
        for topic in ["t", "v"] {
            match parse_params(events_params(topic, &cursor)) {
                Err(ApiError::InvalidQuery(issues)) => assert_eq!(issues[0].field, "cursor"),
                other => panic!("{topic}: expected a refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn limits_default_and_cap_at_the_page_maximum() {
        assert_eq!(parse_limit(None), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(parse_limit(Some("")), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(parse_limit(Some(&"9".repeat(40))), Ok(MAX_PAGE_SIZE));
        assert!(parse_limit(Some("0")).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_parameters_parse_or_are_refused(
            raw in proptest::collection::vec(proptest::option::of(".{0,30}"), 8),
        ) {
            let params = EventsParams {
                topic: raw[0].clone(),
                source: raw[1].clone(),
                since: raw[2].clone(),
                until: raw[3].clone(),
                limit: raw[4].clone(),
                cursor: raw[5].clone(),
                q: raw[6].clone(),
                order: raw[7].clone(),
            };
            match parse_params(params) {
                Ok(query) => proptest::prop_assert!((1..=MAX_PAGE_SIZE).contains(&query.limit)),
                Err(ApiError::InvalidQuery(issues)) => proptest::prop_assert!(!issues.is_empty()),
                Err(other) => proptest::prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
