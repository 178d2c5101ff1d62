//! A search query ([`Query`]) lowered to an SQLite condition on `events`, every value bound
//! as a parameter (never written into the SQL). The condition is never NULL, so `NOT` means
//! what it means in the in-memory evaluation (`query/eval.rs`), which is the model this
//! lowering is tested against, rule by rule:
//! - words and phrases: the rows whose full-text index entry (`events_fts`, see migration
//!   0004) holds every word of the phrase, then `instr(words, ' w1 w2 ')` in the searchable
//!   text the commit wrote;
//! - event fields: `=` and a byte-wise prefix test, `ts` in microseconds;
//! - a payload path: SQLite's JSON functions with a path of quoted names (`$."a"."b"`), which
//!   walks objects only, as the model does; a value equals a term by its JSON type (`text`,
//!   `integer`/`real`, `true`/`false`), or an array holds such an element. An equality first
//!   narrows to the rows whose index entry holds one of the value's field tokens
//!   (`query/fields.rs`).

use std::time::{Duration, Instant};

use rusqlite::types::Value as Sql;
use rusqlite::Connection;

use super::prefix_filter;
use crate::store::error::StoreError;
use crate::store::queries::SearchScope;

use crate::query::fields::equality_tokens;
use crate::query::words::phrase_needle;
use crate::query::{Condition, Field, FieldQuery, Query, RangeValue, Value};
use crate::store::search::{junction, range_condition};

/// How much longer than a search's limit its caller waits for SQLite's interruption.
pub(super) const GRACE: Duration = Duration::from_secs(1);

/// SQLite virtual machine steps between two looks at the clock (about a millisecond).
const STEPS_BETWEEN_CHECKS: i32 = 10_000;

/// Runs `search` on `conn`, interrupted once it has run for `limit`: then it is refused as too
/// costly ([`StoreError::too_costly`]).
pub(super) fn within<T>(
    conn: &Connection,
    limit: Duration,
    search: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let deadline = Instant::now() + limit;
    conn.progress_handler(
        STEPS_BETWEEN_CHECKS,
        Some(move || Instant::now() >= deadline),
    );
    let result = search(conn);
    // The connection goes back to the pool: its next user must not be interrupted.
    conn.progress_handler(0, None::<fn() -> bool>);
    match result {
        Err(err) if err.cause().code.as_deref() == Some("OperationInterrupted") => {
            Err(StoreError::too_costly(limit))
        }
        other => other,
    }
}

/// Rows a full-text lookup may find for a listing to be driven by it: past this many, a walk
/// in listing order finds a page of matches sooner than reading them all and sorting.
pub(super) const LISTING_CANDIDATES: i64 = 10_000;

/// Rows a count's time range is counted up to (see [`rows_in_range`]).
const RANGE_ROWS_COUNTED: i64 = 500_000;

/// Whether the full-text query `expression` finds at most `at_most` rows. SQLite cannot tell
/// how many rows an FTS5 lookup returns, and would start from it even when it holds most of the
/// table: a search uses the lookup only when it is selective, and otherwise checks the word or
/// value on the rows its other terms (a time range, a source) reach. The lookup counts no
/// further than the bound, so asking costs little. When asking fails the search goes without
/// the lookup, which is always correct; the search itself then reports what is wrong with the
/// database.
pub(super) fn few_candidates(conn: &Connection, expression: &str, at_most: i64) -> bool {
    let counted = conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT rowid FROM events_fts WHERE events_fts MATCH ?1 \
             LIMIT ?2)",
        )
        .and_then(|mut statement| {
            statement.query_row(rusqlite::params![expression, at_most + 1], |row| {
                row.get::<_, i64>(0)
            })
        });
    counted.is_ok_and(|rows| rows <= at_most)
}

/// The rows of `scope`'s time range, counted up to [`RANGE_ROWS_COUNTED`] on the time index: a
/// count or a ranking reads them all, so a full-text lookup that finds fewer is the cheaper
/// start (0 when counting fails: then no lookup is used).
pub(super) fn rows_in_range(conn: &Connection, scope: &SearchScope) -> i64 {
    conn.prepare_cached(
        "SELECT count(*) FROM (SELECT 1 FROM events WHERE ts >= ?1 AND ts < ?2 LIMIT ?3)",
    )
    .and_then(|mut statement| {
        statement.query_row(
            rusqlite::params![
                scope.since.timestamp_micros(),
                scope.until.timestamp_micros(),
                RANGE_ROWS_COUNTED
            ],
            |row| row.get::<_, i64>(0),
        )
    })
    .unwrap_or(0)
}

/// The condition for `query`; `bind` binds a value and returns its placeholder, `narrow` tells
/// whether a full-text lookup is selective enough to drive the search ([`few_candidates`]).
pub(super) fn condition(
    query: &Query,
    bind: &mut impl FnMut(Sql) -> String,
    narrow: &mut impl FnMut(&str) -> bool,
) -> String {
    match query {
        Query::All => "1".into(),
        Query::Text(phrase) => {
            let needle = bind(Sql::Text(phrase_needle(&phrase.words)));
            let exact = format!("coalesce(instr(words, {needle}) > 0, 0)");
            looked_up(&match_expression(&phrase.words), exact, bind, narrow)
        }
        Query::Field(field) => field_condition(field, bind, narrow),
        Query::And(children) => junction(children, " AND ", |child| condition(child, bind, narrow)),
        Query::Or(children) => junction(children, " OR ", |child| condition(child, bind, narrow)),
        Query::Not(child) => format!("NOT ({})", condition(child, bind, narrow)),
    }
}

/// `exact`, first narrowed to the rows the full-text query `expression` finds when it finds
/// few: the lookup stays outside any function, where the planner sees it.
fn looked_up(
    expression: &str,
    exact: String,
    bind: &mut impl FnMut(Sql) -> String,
    narrow: &mut impl FnMut(&str) -> bool,
) -> String {
    if !narrow(expression) {
        return exact;
    }
    let expression = bind(Sql::Text(expression.to_owned()));
    format!(
        "(seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH {expression}) AND {exact})"
    )
}

fn field_condition(
    query: &FieldQuery,
    bind: &mut impl FnMut(Sql) -> String,
    narrow: &mut impl FnMut(&str) -> bool,
) -> String {
    let column = match &query.field {
        Field::Topic => "topic",
        Field::Source => "source",
        Field::EventId => "event_id",
        Field::Timestamp => return timestamp_condition(&query.condition, bind),
        Field::Payload(path) => return payload_condition(path, &query.condition, bind, narrow),
    };
    match &query.condition {
        Condition::Equals(value) => format!("{column} = {}", bind(Sql::Text(value.text.clone()))),
        Condition::Prefix(prefix) => starts_with(column, prefix, bind),
        Condition::Exists => "1".into(),
        Condition::Range(_) => "0".into(),
    }
}

/// Byte-wise, as Rust's `str::starts_with`: on blobs SQLite's `substr` and `length` count bytes
/// (see `prefix_filter.rs`).
fn starts_with(expression: &str, prefix: &str, bind: &mut impl FnMut(Sql) -> String) -> String {
    let prefix = bind(Sql::Blob(prefix.as_bytes().to_vec()));
    format!("substr(CAST({expression} AS BLOB), 1, length({prefix})) = {prefix}")
}

fn timestamp_condition(condition: &Condition, bind: &mut impl FnMut(Sql) -> String) -> String {
    match condition {
        Condition::Equals(Value {
            instant: Some(instant),
            ..
        }) => format!("ts = {}", bind(Sql::Integer(instant.timestamp_micros()))),
        Condition::Range(range) => range_condition(range, "ts", |value| match value {
            RangeValue::Instant(at) => Some(bind(Sql::Integer(at.timestamp_micros()))),
            RangeValue::Number(_) => None,
        }),
        Condition::Exists => "1".into(),
        Condition::Equals(_) | Condition::Prefix(_) => "0".into(),
    }
}

/// Never NULL; an equality's index lookup stays outside any function, where the planner
/// sees it.
fn payload_condition(
    path: &[String],
    condition: &Condition,
    bind: &mut impl FnMut(Sql) -> String,
    narrow: &mut impl FnMut(&str) -> bool,
) -> String {
    let at = bind(Sql::Text(json_path(path)));
    let kind = format!("json_type(payload, {at})");
    let found = format!("json_extract(payload, {at})");
    let exact = match condition {
        Condition::Exists => format!("{kind} IS NOT NULL"),
        Condition::Equals(value) => {
            let text = bind(Sql::Text(value.text.clone()));
            let number = bind(value.number.map_or(Sql::Null, Sql::Real));
            let element = |kind: &str, found: &str| {
                format!(
                    "({kind} = 'text' AND {found} = {text}) \
                     OR ({kind} IN ('integer', 'real') AND {found} = {number}) \
                     OR ({kind} = 'true' AND {text} = 'true') \
                     OR ({kind} = 'false' AND {text} = 'false')"
                )
            };
            let exact = format!(
                "({}) OR ({kind} = 'array' AND EXISTS (SELECT 1 FROM json_each(payload, {at}) \
                 AS element WHERE {}))",
                element(&kind, &found),
                element("element.type", "element.value"),
            );
            let exact = format!("coalesce(({exact}), 0)");
            return looked_up(&any_of(&equality_tokens(path, value)), exact, bind, narrow);
        }
        Condition::Prefix(prefix) => {
            format!("{kind} = 'text' AND {}", starts_with(&found, prefix, bind))
        }
        Condition::Range(range) => {
            let bounds = range_condition(range, &found, |value| match value {
                RangeValue::Number(number) => Some(bind(Sql::Real(*number))),
                RangeValue::Instant(_) => None,
            });
            format!("{kind} IN ('integer', 'real') AND {bounds}")
        }
    };
    format!("coalesce(({exact}), 0)")
}

/// The condition of a count's or ranking's scope: the search, the event filters, a key's topic
/// prefixes and the time range.
pub(super) fn scope_condition(
    scope: &SearchScope,
    bind: &mut impl FnMut(Sql) -> String,
    narrow: &mut impl FnMut(&str) -> bool,
) -> String {
    let mut sql = String::from("1");
    if let Some(filter) = &scope.filter {
        sql.push_str(&format!(" AND ({})", condition(filter, bind, narrow)));
    }
    if let Some(topic) = &scope.topic {
        sql.push_str(&format!(" AND topic = {}", bind(Sql::Text(topic.clone()))));
    }
    sql.push_str(&prefix_filter::topic_prefixes(&scope.topic_prefixes, bind));
    if let Some(source) = &scope.source {
        sql.push_str(&format!(
            " AND source = {}",
            bind(Sql::Text(source.clone()))
        ));
    }
    let since = bind(Sql::Integer(scope.since.timestamp_micros()));
    let until = bind(Sql::Integer(scope.until.timestamp_micros()));
    sql.push_str(&format!(" AND ts >= {since} AND ts < {until}"));
    sql
}

/// The text of `field` in a row, for counting its values: an event field as is, a payload
/// field when it holds a string, a number or a boolean (NULL otherwise). `None` for a field
/// without values to count (`timestamp`).
pub(super) fn value_expression(
    field: &Field,
    bind: &mut impl FnMut(Sql) -> String,
) -> Option<String> {
    let path = match field {
        Field::Topic => return Some("topic".into()),
        Field::Source => return Some("source".into()),
        Field::EventId => return Some("event_id".into()),
        Field::Timestamp => return None,
        Field::Payload(path) => path,
    };
    let at = bind(Sql::Text(json_path(path)));
    Some(format!(
        "CASE json_type(payload, {at}) WHEN 'text' THEN json_extract(payload, {at}) \
         WHEN 'integer' THEN CAST(json_extract(payload, {at}) AS TEXT) \
         WHEN 'real' THEN CAST(json_extract(payload, {at}) AS TEXT) \
         WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END"
    ))
}

/// The FTS5 query matching rows that hold every one of `words`: each quoted (a word or a
/// token is letters and digits only, so it never holds a quote), joined by `AND`.
fn match_expression(words: &[String]) -> String {
    quoted(words).join(" AND ")
}

/// The FTS5 query matching rows that hold any of `tokens`.
fn any_of(tokens: &[String]) -> String {
    quoted(tokens).join(" OR ")
}

fn quoted(words: &[String]) -> Vec<String> {
    words.iter().map(|word| format!("\"{word}\"")).collect()
}

/// SQLite's JSON path of a payload path: each name quoted, so that it never indexes an array.
fn json_path(path: &[String]) -> String {
    std::iter::once("$".to_owned())
        .chain(path.iter().map(|name| format!(".\"{name}\"")))
        .collect()
}
