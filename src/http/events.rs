//! `GET /events?topic=&source=&since=&until=&limit=&cursor=`: stored events, paginated.
//!
//! Events are listed in `(topic, seq)` order: within a topic, commit order (guarantee 8).
//! Pagination is keyset-based: `next_cursor` encodes the position of the last event returned,
//! so pages neither skip nor repeat events even while new ones arrive.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorResponse, FieldIssue, IssueLog};
use super::state::AppState;
use crate::event;
use crate::store::{EventQuery, PagePosition, StoredEvent};

/// Page size when `limit` is absent.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest page size; larger `limit`s are capped to it.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Query parameters, still raw, so that each can be reported on its own.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Only events of this topic (an empty value means any topic).
    topic: Option<String>,
    /// Only events from this source (an empty value means any source).
    source: Option<String>,
    /// Only events whose timestamp is at or after this instant (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Only events whose timestamp is before this instant (RFC 3339).
    #[param(format = DateTime)]
    until: Option<String>,
    /// Page size: any whole number of at least 1 (default 100); larger ones are capped at 1000.
    /// An empty value means the default.
    #[param(value_type = Option<u32>, minimum = 1)]
    limit: Option<String>,
    /// The previous page's `next_cursor` (opaque). An empty value means the first page.
    cursor: Option<String>,
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
        (status = 503, description = "Store unreachable or slow", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn list_events(
    State(state): State<AppState>,
    params: Result<Query<EventsParams>, QueryRejection>,
) -> Result<Json<EventsResponse>, ApiError> {
    let Query(params) = params.map_err(|rejection| {
        ApiError::InvalidQuery(vec![FieldIssue::request("query", rejection.body_text())])
    })?;
    let mut query = parse_params(params)?;
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
    let parse_time = |raw: Option<String>| raw.map(|raw| event::parse_timestamp(&raw)).transpose();
    let since = log.check("since", parse_time(params.since));
    let until = log.check("until", parse_time(params.until));
    let limit = log.check("limit", parse_limit(params.limit.as_deref()));
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
    match (since, until, limit, after) {
        (Some(since), Some(until), Some(limit), Some(after)) => Ok(EventQuery {
            topic: params.topic.filter(|topic| !topic.is_empty()),
            source: params.source.filter(|source| !source.is_empty()),
            since,
            until,
            after,
            limit,
            max_bytes: 0,
        }),
        _ => Err(ApiError::InvalidQuery(log.into_issues())),
    }
}

fn parse_limit(raw: Option<&str>) -> Result<u32, String> {
    let Some(raw) = raw.filter(|raw| !raw.is_empty()) else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    // Any whole number of at least 1 is accepted and capped, however many digits it has.
    let digits = raw.trim_start_matches('+');
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!(
            "must be a whole number of at least 1 (pages hold at most {MAX_PAGE_SIZE})"
        ));
    }
    match digits.trim_start_matches('0') {
        "" => Err(format!(
            "must be a whole number of at least 1 (pages hold at most {MAX_PAGE_SIZE})"
        )),
        significant => Ok(significant
            .parse::<u32>()
            .map_or(MAX_PAGE_SIZE, |limit| limit.min(MAX_PAGE_SIZE))),
    }
}

/// Cursors are opaque to clients: `<seq>.<hex of the topic's UTF-8 bytes>`.
fn encode_cursor(position: &PagePosition) -> String {
    let hex: String = position.topic.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{}.{hex}", position.seq)
}

fn decode_cursor(raw: &str) -> Result<PagePosition, String> {
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
        for raw in ["", "12", "x.61", "12.6", "12.zz", "12.ff"] {
            assert!(decode_cursor(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn limits_default_cap_and_reject_nonsense() {
        assert_eq!(parse_limit(None), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(parse_limit(Some("5")), Ok(5));
        assert_eq!(parse_limit(Some("1000000")), Ok(MAX_PAGE_SIZE));
        assert_eq!(parse_limit(Some("")), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(parse_limit(Some(&"9".repeat(40))), Ok(MAX_PAGE_SIZE));
        for raw in ["0", "-1", "ten", "00", "1e3"] {
            assert!(parse_limit(Some(raw)).is_err(), "{raw}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_cursor_round_trips_and_any_parameters_parse_or_are_refused(
            topic in ".{0,40}",
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
