//! `GET /events?topic=&source=&since=&until=&limit=&cursor=`: stored events, paginated.
//!
//! Events are listed in `(topic, seq)` order: within a topic, commit order (guarantee 8).
//! Pagination is keyset-based: `next_cursor` encodes the position of the last event returned,
//! so pages neither skip nor repeat events even while new ones arrive.
//!
//! With API keys in force the key needs the `read` scope; a listing shows only the topics
//! inside the key's prefixes, and a `topic` outside them is `403`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorResponse, FieldIssue, IssueLog};
use super::paging;
use super::state::AppState;
use crate::auth::{Caller, Scope};
use crate::event;
use crate::store::{EventQuery, PagePosition, StoredEvent};

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
}

fn topic_schema() -> Schema {
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

fn since_schema() -> Schema {
    paging::time_filter_schema(
        "Only events whose timestamp is at or after this instant (RFC 3339). Empty means no bound.",
    )
}

fn until_schema() -> Schema {
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
        (status = 400, description = "Invalid parameters; `details` names each", body = ErrorResponse),
        (status = 429, description = "Too many requests in progress; retry later", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Store unreachable or slow", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn list_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<EventsParams>, QueryRejection>,
) -> Result<Json<EventsResponse>, ApiError> {
    caller.require(&[Scope::Read])?;
    let Query(params) = params.map_err(|rejection| {
        ApiError::InvalidQuery(vec![FieldIssue::request("query", rejection.body_text())])
    })?;
    let mut query = parse_params(params)?;
    if let Some(topic) = &query.topic {
        caller.require_topic(topic)?;
    }
    query.topic_prefixes = caller.topics();
    query.max_bytes = state.limits.max_page_bytes;
    let page = state.store.query(&query).await?;
    Ok(Json(EventsResponse {
        count: page.events.len(),
        events: page.events,
        next_cursor: page.next.as_ref().map(encode_cursor),
    }))
}

fn parse_params(params: EventsParams) -> Result<EventQuery, ApiError> {
    let mut log = IssueLog::new(None);
    let parse_time = |raw: Option<String>| {
        raw.filter(|raw| !raw.is_empty())
            .map(|raw| event::parse_timestamp(&raw))
            .transpose()
    };
    let since = log.check("since", parse_time(params.since));
    let until = log.check("until", parse_time(params.until));
    let limit = log.check("limit", parse_limit(params.limit.as_deref()));
    let topic = log.check("topic", parse_filter(params.topic));
    let source = log.check("source", parse_filter(params.source));
    // An empty parameter means "not given", for `cursor` as for the filters.
    let after = log.check(
        "cursor",
        params
            .cursor
            .as_deref()
            .filter(|cursor| !cursor.is_empty())
            .map(decode_cursor)
            .transpose(),
    );
    match (since, until, limit, after, topic, source) {
        (Some(since), Some(until), Some(limit), Some(after), Some(topic), Some(source)) => {
            Ok(EventQuery {
                topic,
                topic_prefixes: Default::default(),
                source,
                since,
                until,
                after,
                limit,
                max_bytes: 0,
            })
        }
        _ => Err(ApiError::InvalidQuery(log.into_issues())),
    }
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

fn parse_limit(raw: Option<&str>) -> Result<u32, String> {
    let limit = paging::parse_limit(raw, DEFAULT_PAGE_SIZE as usize, MAX_PAGE_SIZE as usize)?;
    // A capped limit is at most MAX_PAGE_SIZE, so it always fits.
    Ok(u32::try_from(limit).unwrap_or(MAX_PAGE_SIZE))
}

/// Every text [`decode_cursor`] accepts, as far as a regular expression can say it: a sequence
/// number (18 digits reach far beyond any real one), a dot, and the topic's bytes in lowercase
/// hex, which must be well-formed UTF-8 without NUL; or empty, for the first page. Stated so that a client
/// can tell a damaged cursor from the document; a cursor is still only meant to be passed back.
const CURSOR_PATTERN: &str = concat!(
    r"^([0-9]{1,18}\.(?:",
    r"0[1-9a-f]|[1-7][0-9a-f]",                // U+0001..U+007F (no NUL)
    r"|(?:c[2-9a-f]|d[0-9a-f])[89ab][0-9a-f]", // U+0080..U+07FF
    r"|e0[ab][0-9a-f][89ab][0-9a-f]",          // U+0800..U+0FFF
    r"|(?:e[1-9a-c]|e[ef])(?:[89ab][0-9a-f]){2}", // U+1000..U+CFFF, U+E000..U+FFFF
    r"|ed[89][0-9a-f][89ab][0-9a-f]",          // U+D000..U+D7FF (no surrogates)
    r"|f0(?:9[0-9a-f]|[ab][0-9a-f])(?:[89ab][0-9a-f]){2}", // U+10000..U+3FFFF
    r"|f[1-3](?:[89ab][0-9a-f]){3}",           // U+40000..U+FFFFF
    r"|f48[0-9a-f](?:[89ab][0-9a-f]){2}",      // U+100000..U+10FFFF
    r")*)?$",
);

fn cursor_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "The previous page's `next_cursor`. Opaque: pass it back unchanged; any other value \
             is refused with 400. Empty means the first page.",
        ))
        .pattern(Some(CURSOR_PATTERN))
        .into()
}

/// Cursors are opaque to clients: `<seq>.<hex of the topic's UTF-8 bytes>`.
pub(super) fn encode_cursor(position: &PagePosition) -> String {
    let hex: String = position.topic.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{}.{hex}", position.seq)
}

pub(super) fn decode_cursor(raw: &str) -> Result<PagePosition, String> {
    let invalid = || "is not a cursor returned by this server".to_string();
    let (seq, hex) = raw.split_once('.').ok_or_else(invalid)?;
    let seq: i64 = seq.parse().map_err(|_| invalid())?;
    if hex.len() % 2 != 0 {
        return Err(invalid());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| invalid())?;
    let topic = String::from_utf8(bytes).map_err(|_| invalid())?;
    // No topic holds a NUL (and PostgreSQL could not compare one).
    if topic.contains('\0') {
        return Err(invalid());
    }
    Ok(PagePosition { topic, seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_any_unicode_topic() {
        let position = PagePosition {
            topic: "订单.ü/1 x".into(),
            seq: 42,
        };
        assert_eq!(decode_cursor(&encode_cursor(&position)), Ok(position));
    }

    #[test]
    fn forged_cursors_are_rejected() {
        for raw in ["", "12", "x.61", "12.6", "12.zz", "12.ff", "12.6100"] {
            assert!(decode_cursor(raw).is_err(), "{raw}");
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
        fn any_cursor_round_trips_and_any_parameters_parse_or_are_refused(
            topic in "[^\0]{0,40}",
            seq in proptest::num::i64::ANY,
            raw in proptest::collection::vec(proptest::option::of(".{0,30}"), 6),
        ) {
            let position = PagePosition { topic, seq };
            proptest::prop_assert_eq!(decode_cursor(&encode_cursor(&position)), Ok(position));
            let params = EventsParams {
                topic: raw[0].clone(),
                source: raw[1].clone(),
                since: raw[2].clone(),
                until: raw[3].clone(),
                limit: raw[4].clone(),
                cursor: raw[5].clone(),
            };
            match parse_params(params) {
                Ok(query) => proptest::prop_assert!((1..=MAX_PAGE_SIZE).contains(&query.limit)),
                Err(ApiError::InvalidQuery(issues)) => proptest::prop_assert!(!issues.is_empty()),
                Err(other) => proptest::prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
