//! `GET /events/count` and `GET /events/values`: how many events a search matches over time
//! (a log-volume histogram, optionally split by the values of a field), and the most frequent
//! values of a field. Both read the query port (`store::Queries`), like a search: at most
//! `--max-concurrent-queries` at once, each within `--query-timeout`.
//!
//! The range is `since` (default: a day before `until`) to `until` (default: now). Buckets are
//! aligned on multiples of the interval since the Unix epoch, so the same interval always cuts
//! time the same way; every bucket of the range is listed, empty ones with 0. `interval=auto`
//! (the default) picks the shortest of a ladder of round intervals that makes at most
//! [`AUTO_BUCKETS`] buckets; an explicit interval is kept unless it would make more than
//! [`MAX_BUCKETS`], when the next round interval that fits is used (the answer says which).

use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Duration as Span, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorResponse, IssueLog};
use super::events::{
    parse_filter, parse_search, parse_time_filter, q_schema, source_schema, topic_schema,
};
use super::paging;
use super::params::Params;
use super::state::AppState;
use crate::auth::{Caller, Scope};
use crate::query::parse::parse_field;
use crate::query::{Field, Query};
use crate::store::queries::bucket_of;
use crate::store::{CountRequest, SearchScope, ValuesRequest};

/// Buckets `interval=auto` aims at, at most.
pub const AUTO_BUCKETS: i64 = 200;
/// Most buckets in one answer.
pub const MAX_BUCKETS: i64 = 10_000;
/// Values split out with `by` when `top` is absent, and at most.
const DEFAULT_TOP: u32 = 5;
const MAX_TOP: u32 = 20;
/// Values listed by `/events/values` when `limit` is absent, and at most.
const DEFAULT_VALUES: usize = 10;
const MAX_VALUES: usize = 100;

/// Round intervals, in seconds, shortest first: what `auto` and a widened interval pick from.
const LADDER: [i64; 20] = [
    1,
    5,
    10,
    30,
    60,
    300,
    600,
    900,
    1_800,
    3_600,
    10_800,
    21_600,
    43_200,
    86_400,
    604_800,
    2_592_000,
    7_776_000,
    31_536_000,
    315_360_000,
    3_153_600_000,
];

/// Every text an `interval` may be: empty or `auto`, or a whole number of at least 1 and a
/// unit.
const INTERVAL_PATTERN: &str = r"^(auto|[1-9][0-9]{0,5}(ms|s|m|h|d))?$";
/// Every text `by` may be: empty, or names of letters, digits, `_`, `-`, `@`, dots between.
const BY_PATTERN: &str = r"^([\w@-]+(\.[\w@-]+){0,15})?$";

/// Query parameters of `GET /events/count`, still raw.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountParams {
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
    /// Bucket width.
    #[param(schema_with = interval_schema)]
    interval: Option<String>,
    /// A field whose most frequent values get series of their own.
    #[param(schema_with = by_schema)]
    by: Option<String>,
    /// How many values of `by`.
    #[param(schema_with = top_schema)]
    top: Option<String>,
}

/// Query parameters of `GET /events/values`, still raw.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ValuesParams {
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
    /// The field: `topic`, `source`, `event_id` or a payload path (`level`, `http.status`); a
    /// payload field counts when it holds a string, a number or a boolean.
    #[param(pattern = r"^[\w@-]+(\.[\w@-]+){0,15}$")]
    field: String,
    /// How many values.
    #[param(schema_with = values_limit_schema)]
    limit: Option<String>,
}

fn since_schema() -> Schema {
    paging::time_filter_schema(
        "Start of the range, inclusive (RFC 3339). Empty means a day before `until`.",
    )
}

fn until_schema() -> Schema {
    paging::time_filter_schema("End of the range, exclusive (RFC 3339). Empty means now.")
}

fn interval_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(INTERVAL_PATTERN))
        .description(Some(
            "Bucket width: `auto` (the default: at most 200 buckets) or a number and a unit \
             (`ms`, `s`, `m`, `h`, `d`), e.g. `5m`. One that would make more than 10000 \
             buckets is widened; the answer gives the interval used.",
        ))
        .into()
}

fn by_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(BY_PATTERN))
        .description(Some(
            "Split the counts by the most frequent values of this field: `topic`, `source`, \
             `event_id` or a payload path (`level`, `http.status`). Empty means no split.",
        ))
        .into()
}

fn top_schema() -> Schema {
    paging::limit_schema(
        "How many values of `by` get a series: any whole number of at least 1; larger ones \
         are capped at 20. Empty means 5.",
    )
}

fn values_limit_schema() -> Schema {
    paging::limit_schema(
        "How many values: any whole number of at least 1; larger ones are capped at 100. \
         Empty means 10.",
    )
}

/// The counts of a search over time.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountResponse {
    /// Events in the range matching the search.
    pub total: u64,
    /// Start of the range.
    pub since: DateTime<Utc>,
    /// End of the range.
    pub until: DateTime<Utc>,
    /// The bucket width used, in seconds (fractions for milliseconds).
    pub interval_seconds: f64,
    /// Every bucket of the range, in time order.
    pub buckets: Vec<Bucket>,
    /// With `by`: the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// With `by`: one series per most frequent value, most frequent first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<Series>>,
}

/// Events in one bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct Bucket {
    /// When the bucket starts (aligned on multiples of the interval since the Unix epoch; the
    /// first one shown from `since` when it starts earlier).
    pub start: DateTime<Utc>,
    /// Events in it.
    pub count: u64,
}

/// The counts of one value of the `by` field.
#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    /// The value, as text.
    pub value: String,
    /// Events with this value in the range.
    pub total: u64,
    /// Every bucket of the range, as in `buckets`.
    pub buckets: Vec<Bucket>,
}

/// The most frequent values of a field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValuesResponse {
    /// The field.
    pub field: String,
    /// Start of the range.
    pub since: DateTime<Utc>,
    /// End of the range.
    pub until: DateTime<Utc>,
    /// The values, most frequent first (ties by value).
    pub values: Vec<ValueCountBody>,
}

/// One value and its events.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValueCountBody {
    /// The value, as text (a string as is, a number or boolean as JSON writes it).
    pub value: String,
    /// Events holding it in the range.
    pub count: u64,
}

/// Count the events a search matches, per time bucket.
///
/// Exact counts over `since`..`until`, with every bucket of the range listed; `by` adds one
/// series per most frequent value of a field (a log-volume histogram stacked by level).
#[utoipa::path(
    get,
    path = "/events/count",
    tag = "search",
    params(CountParams),
    responses(
        (status = 200, description = "The counts", body = CountResponse),
        (status = 400, description = "Invalid parameters (`details` names each; for `q`, the \
                                      position and token), or a count that ran past \
                                      `--query-timeout` (the message says how to narrow it)",
         body = ErrorResponse),
        (status = 429, description = "Too many requests, or searches, in progress; retry later",
         body = ErrorResponse, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Store unreachable or slow", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn count_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    params: Result<Params<CountParams>, ApiError>,
) -> Result<Json<CountResponse>, ApiError> {
    caller.require(&[Scope::Read])?;
    let Params(params) = params?;
    let mut log = IssueLog::new(None);
    let scope = parse_scope(
        &mut log,
        RawScope {
            q: params.q,
            topic: params.topic,
            source: params.source,
            since: params.since,
            until: params.until,
        },
    );
    let interval = log.check("interval", parse_interval(params.interval.as_deref()));
    let by = log.check(
        "by",
        params
            .by
            .filter(|by| !by.is_empty())
            .map(|by| countable_field(&by))
            .transpose(),
    );
    let top = log.check(
        "top",
        paging::parse_limit(
            params.top.as_deref(),
            DEFAULT_TOP as usize,
            MAX_TOP as usize,
        ),
    );
    let (Some(mut scope), Some(interval), Some(by), Some(top)) = (scope, interval, by, top) else {
        return Err(ApiError::InvalidQuery(log.into_issues()));
    };
    authorize(&caller, &mut scope)?;
    let interval_micros = bucket_width(&scope, interval);
    let _search = state.reserve_search()?;
    let request = CountRequest {
        scope,
        interval_micros,
        by: by.clone(),
        top: u32::try_from(top).unwrap_or(MAX_TOP),
    };
    let counts = state.queries.count(&request).await?;
    let scope = &request.scope;
    Ok(Json(CountResponse {
        total: counts.total,
        since: scope.since,
        until: scope.until,
        interval_seconds: interval_micros as f64 / 1e6,
        buckets: every_bucket(scope, interval_micros, &counts.buckets),
        by: by.as_ref().map(Field::name),
        series: by.map(|_| {
            counts
                .series
                .iter()
                .map(|series| Series {
                    value: series.value.clone(),
                    total: series.total,
                    buckets: every_bucket(scope, interval_micros, &series.buckets),
                })
                .collect()
        }),
    }))
}

/// The most frequent values of a field among the events a search matches.
///
/// Exact counts over `since`..`until`, most frequent first. A payload field counts when it
/// holds a string, a number or a boolean.
#[utoipa::path(
    get,
    path = "/events/values",
    tag = "search",
    params(ValuesParams),
    responses(
        (status = 200, description = "The values", body = ValuesResponse),
        (status = 400, description = "Invalid parameters (`details` names each; for `q`, the \
                                      position and token), or a ranking that ran past \
                                      `--query-timeout` (the message says how to narrow it)",
         body = ErrorResponse),
        (status = 429, description = "Too many requests, or searches, in progress; retry later",
         body = ErrorResponse, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Store unreachable or slow", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn field_values(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    params: Result<Params<ValuesParams>, ApiError>,
) -> Result<Json<ValuesResponse>, ApiError> {
    caller.require(&[Scope::Read])?;
    let Params(params) = params?;
    let mut log = IssueLog::new(None);
    let scope = parse_scope(
        &mut log,
        RawScope {
            q: params.q,
            topic: params.topic,
            source: params.source,
            since: params.since,
            until: params.until,
        },
    );
    let field = log.check(
        "field",
        match params.field.as_str() {
            "" => Err("is required: the field whose values are counted".to_owned()),
            field => countable_field(field),
        },
    );
    let limit = log.check(
        "limit",
        paging::parse_limit(params.limit.as_deref(), DEFAULT_VALUES, MAX_VALUES),
    );
    let (Some(mut scope), Some(field), Some(limit)) = (scope, field, limit) else {
        return Err(ApiError::InvalidQuery(log.into_issues()));
    };
    authorize(&caller, &mut scope)?;
    let _search = state.reserve_search()?;
    let request = ValuesRequest {
        scope,
        field,
        limit: u32::try_from(limit).unwrap_or(MAX_VALUES as u32),
    };
    let values = state.queries.top_values(&request).await?;
    Ok(Json(ValuesResponse {
        field: request.field.name(),
        since: request.scope.since,
        until: request.scope.until,
        values: values
            .into_iter()
            .map(|value| ValueCountBody {
                value: value.value,
                count: value.count,
            })
            .collect(),
    }))
}

/// The parameters of the search routes that say which events they read (`/events/count`,
/// `/events/values`, `/fields`), still raw.
pub(super) struct RawScope {
    pub(super) q: Option<String>,
    pub(super) topic: Option<String>,
    pub(super) source: Option<String>,
    pub(super) since: Option<String>,
    pub(super) until: Option<String>,
}

/// [`RawScope`] read, each problem recorded in `log`; the time bounds as given.
pub(super) struct ScopeParams {
    pub(super) filter: Option<Query>,
    pub(super) topic: Option<String>,
    pub(super) source: Option<String>,
    pub(super) since: Option<DateTime<Utc>>,
    pub(super) until: Option<DateTime<Utc>>,
}

/// Reads `raw`, each problem recorded in `log` (`None` when there was one).
pub(super) fn parse_scope_params(log: &mut IssueLog, raw: RawScope) -> Option<ScopeParams> {
    let filter = log.check("q", parse_search(raw.q.as_deref()));
    let topic = log.check("topic", parse_filter(raw.topic));
    let source = log.check("source", parse_filter(raw.source));
    let since = log.check("since", parse_time_filter(raw.since));
    let until = log.check("until", parse_time_filter(raw.until));
    Some(ScopeParams {
        filter: filter?,
        topic: topic?,
        source: source?,
        since: since?,
        until: until?,
    })
}

/// The scope of a count or a ranking, each problem recorded in `log`. A range that ends before
/// it starts is empty (nothing matches), as in `/events`.
fn parse_scope(log: &mut IssueLog, raw: RawScope) -> Option<SearchScope> {
    let ScopeParams {
        filter,
        topic,
        source,
        since,
        until,
    } = parse_scope_params(log, raw)?;
    // Now, to the microsecond: the precision stored timestamps have.
    let until = until.unwrap_or_else(|| {
        let now = Utc::now();
        DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
    });
    let since = since.unwrap_or_else(|| until - Span::days(1));
    Some(SearchScope {
        filter,
        topic,
        source,
        topic_prefixes: Default::default(),
        since,
        until: until.max(since),
    })
}

/// A key sees only the topics inside its prefixes; a `topic` outside them is `403`.
fn authorize(caller: &Caller, scope: &mut SearchScope) -> Result<(), ApiError> {
    if let Some(topic) = &scope.topic {
        caller.require_topic(topic)?;
    }
    scope.topic_prefixes = caller.topics();
    Ok(())
}

/// A field whose values can be counted.
fn countable_field(name: &str) -> Result<Field, String> {
    match parse_field(name)? {
        Field::Timestamp => Err("timestamp has no values to count: use /events/count".into()),
        field => Ok(field),
    }
}

/// `None` for `auto`, else the interval in microseconds.
fn parse_interval(raw: Option<&str>) -> Result<Option<i64>, String> {
    let refused = || {
        "must be auto, or a whole number of at least 1 and a unit (ms, s, m, h, d), \
                      such as 5m"
            .to_owned()
    };
    let raw = match raw {
        None | Some("") | Some("auto") => return Ok(None),
        Some(raw) => raw,
    };
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(refused)?;
    let (digits, unit) = raw.split_at(split);
    let micros_per_unit: i64 = match unit {
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return Err(refused()),
    };
    let count: i64 = digits.parse().map_err(|_| refused())?;
    if count == 0 || digits.len() > 6 {
        return Err(refused());
    }
    Ok(Some(count * micros_per_unit))
}

/// The bucket width: the interval asked, or (for `auto`, or one making more than
/// [`MAX_BUCKETS`] buckets) the shortest round interval within the bucket budget.
fn bucket_width(scope: &SearchScope, asked: Option<i64>) -> i64 {
    let buckets = |width: i64| bucket_of(scope.until, width) - bucket_of(scope.since, width) + 1;
    let budget = match asked {
        Some(width) if buckets(width) <= MAX_BUCKETS => return width,
        Some(_) => MAX_BUCKETS,
        None => AUTO_BUCKETS,
    };
    let floor = asked.unwrap_or(0);
    LADDER
        .iter()
        .map(|seconds| seconds * 1_000_000)
        .filter(|width| *width >= floor)
        .find(|width| buckets(*width) <= budget)
        .unwrap_or(LADDER[LADDER.len() - 1] * 1_000_000)
}

/// Every bucket from the one holding `since` to the one holding the last instant before
/// `until`, with the counts of `counted` (`(bucket number, events)`) and 0 elsewhere.
fn every_bucket(scope: &SearchScope, width: i64, counted: &[(i64, u64)]) -> Vec<Bucket> {
    let first = bucket_of(scope.since, width);
    let last = if scope.until > scope.since {
        bucket_of(scope.until - Span::microseconds(1), width)
    } else {
        first - 1
    };
    let mut counted = counted.iter().peekable();
    (first..=last)
        .map(|bucket| {
            let mut count = 0;
            while let Some((at, events)) = counted.peek() {
                if *at > bucket {
                    break;
                }
                if *at == bucket {
                    count = *events;
                }
                counted.next();
            }
            // The first bucket may start before the range (buckets are aligned on the epoch):
            // it is shown from where the range starts.
            let aligned = DateTime::from_timestamp_micros(bucket * width).unwrap_or(scope.since);
            Bucket {
                start: aligned.max(scope.since),
                count,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(since: &str, until: &str) -> SearchScope {
        SearchScope {
            filter: None,
            topic: None,
            source: None,
            topic_prefixes: Default::default(),
            since: crate::event::parse_timestamp(since).unwrap(),
            until: crate::event::parse_timestamp(until).unwrap(),
        }
    }

    #[test]
    fn intervals_are_a_number_and_a_unit_or_auto() {
        assert_eq!(parse_interval(None), Ok(None));
        assert_eq!(parse_interval(Some("auto")), Ok(None));
        assert_eq!(parse_interval(Some("5m")), Ok(Some(300_000_000)));
        assert_eq!(parse_interval(Some("250ms")), Ok(Some(250_000)));
        assert_eq!(
            parse_interval(Some("999999d")),
            Ok(Some(999_999 * 86_400_000_000))
        );
        for raw in ["0s", "5", "m", "5 m", "1w", "-1s", "1000000d", "1.5h"] {
            assert!(parse_interval(Some(raw)).is_err(), "{raw}");
        }
    }

    #[test]
    fn auto_picks_the_shortest_round_interval_within_two_hundred_buckets() {
        let day = scope("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z");
        assert_eq!(bucket_width(&day, None), 600 * 1_000_000);
        let hour = scope("2026-12-01T00:00:00Z", "2026-12-01T01:00:00Z");
        assert_eq!(bucket_width(&hour, None), 30 * 1_000_000);
        assert_eq!(bucket_width(&hour, Some(60_000_000)), 60_000_000);
        let ages = scope("0001-01-01T00:00:00Z", "9999-01-01T00:00:00Z");
        assert!(bucket_width(&ages, Some(1_000)) >= 315_360_000 * 1_000_000);
    }

    #[test]
    fn every_bucket_of_the_range_is_listed_with_zeros() {
        let range = scope("2026-12-01T00:02:30Z", "2026-12-01T00:10:00Z");
        let width = 300_000_000;
        let first = bucket_of(range.since, width);
        let buckets = every_bucket(&range, width, &[(first + 1, 7)]);
        let listed: Vec<(String, u64)> = buckets
            .iter()
            .map(|bucket| (bucket.start.to_rfc3339(), bucket.count))
            .collect();
        assert_eq!(
            listed,
            [
                ("2026-12-01T00:02:30+00:00".to_owned(), 0),
                ("2026-12-01T00:05:00+00:00".to_owned(), 7)
            ]
        );
        let empty = scope("2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z");
        assert!(every_bucket(&empty, width, &[]).is_empty());
    }
}
