//! Event volume: how many events each topic stored per minute, by the payload's `level`, kept
//! by each store in the transaction that stores or deletes the events (a table,
//! `event_volume`, see the migrations). The questions a console asks most — the log volume of
//! a topic, split by level; how many errors in the last day — are then sums over about one row
//! per topic, level and minute instead of counts over every matching event.
//!
//! This module decides when that table can answer a count or a ranking exactly, lowers the
//! search to a condition on its columns, and adds the parts together. A search is answered
//! from the volume when:
//! - its only terms are on `topic` (equal, prefix, `*`) and on the payload's `level` (equal,
//!   prefix, `*`), combined with `AND`, `OR` and `NOT`, and no source is asked for;
//! - the counted field, if any, is `topic` or `level`, and the buckets are whole minutes;
//! - the time range holds at least one whole minute: the whole minutes are read from the
//!   volume, the seconds before and after them from the events, as any other search is.
//!
//! A `level` the table records exactly is a string of at most 64 bytes (kind
//! 1); kind 0 is "no `level`", kind 2 "anything else" (a number, an array, a long string…),
//! whose events an equality or a ranking of levels cannot place: when such rows lie in the
//! range, the store answers from the events instead.

use std::collections::BTreeMap;
use std::ops::Range as Span;

use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::queries::{CountRequest, Counts, SearchScope, ValueCount, ValueSeries, ValuesRequest};
use crate::query::{Condition, Field, FieldQuery, Query};

/// The payload field whose values the volume is kept by.
pub const LEVEL_FIELD: &str = "level";

/// Microseconds per minute, the volume's unit of time.
pub const MINUTE_MICROS: i64 = 60_000_000;

/// What of a search the volume answers, and what is left to the events.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumePlan {
    /// Minutes since the Unix epoch (`[start, end)`) read from the volume.
    pub minutes: Span<i64>,
    /// The condition on the volume's columns (see [`lower`]).
    pub condition: Query,
    /// The seconds of the range outside those minutes, each a scope for the events.
    pub edges: Vec<SearchScope>,
    /// Whether the answer depends on `level` values: then rows of kind 2 in the range leave
    /// the question to the events.
    pub reads_levels: bool,
}

/// Which column a counted field is in the volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeField {
    /// `topic`.
    Topic,
    /// `level` (kind 1 only).
    Level,
}

impl VolumeField {
    /// The volume's column for `field`, if it has one.
    pub fn of(field: &Field) -> Option<Self> {
        match field {
            Field::Topic => Some(Self::Topic),
            Field::Payload(path) if is_level(path) => Some(Self::Level),
            _ => None,
        }
    }
}

impl VolumeField {
    /// The field's column in the volume, and the condition under which it holds the value.
    pub fn column(self) -> (&'static str, &'static str) {
        match self {
            Self::Topic => ("topic", "1 = 1"),
            Self::Level => ("level", "level_kind = 1"),
        }
    }
}

fn is_level(path: &[String]) -> bool {
    matches!(path, [name] if name == LEVEL_FIELD)
}

/// The plan for `scope`, counted in buckets of `interval_micros` when given, split by `field`
/// when given; `None` when the volume cannot answer it.
pub fn plan(
    scope: &SearchScope,
    interval_micros: Option<i64>,
    field: Option<&Field>,
) -> Option<VolumePlan> {
    if scope.source.is_some() {
        return None;
    }
    if interval_micros.is_some_and(|interval| interval <= 0 || interval % MINUTE_MICROS != 0) {
        return None;
    }
    let field = match field {
        Some(field) => Some(VolumeField::of(field)?),
        None => None,
    };
    let mut terms = Vec::new();
    if let Some(filter) = &scope.filter {
        if !answerable(filter) {
            return None;
        }
        terms.push(filter.clone());
    }
    if let Some(topic) = &scope.topic {
        terms.push(topic_term(Condition::Equals(crate::query::Value {
            text: topic.clone(),
            number: None,
            instant: None,
        })));
    }
    if !scope.topic_prefixes.is_any() {
        let prefixes: Vec<Query> = scope
            .topic_prefixes
            .as_slice()
            .iter()
            .map(|prefix| topic_term(Condition::Prefix(prefix.clone())))
            .collect();
        terms.push(either(prefixes));
    }
    let first = ceil_minute(scope.since);
    let end = floor_minute(scope.until);
    if first >= end {
        return None;
    }
    let mut edges = Vec::new();
    let whole_from = minute_start(first)?;
    let whole_until = minute_start(end)?;
    if scope.since < whole_from {
        edges.push(SearchScope {
            until: whole_from,
            ..scope.clone()
        });
    }
    if whole_until < scope.until {
        edges.push(SearchScope {
            since: whole_until,
            ..scope.clone()
        });
    }
    let condition = match terms.len() {
        0 => Query::All,
        1 => terms.remove(0),
        _ => Query::And(terms),
    };
    let reads_levels = field == Some(VolumeField::Level) || reads_level_values(&condition);
    Some(VolumePlan {
        minutes: first..end,
        condition,
        edges,
        reads_levels,
    })
}

fn topic_term(condition: Condition) -> Query {
    Query::Field(FieldQuery {
        field: Field::Topic,
        condition,
    })
}

fn either(mut queries: Vec<Query>) -> Query {
    if queries.len() == 1 {
        queries.remove(0)
    } else {
        Query::Or(queries)
    }
}

/// Whether every term of `query` is one the volume's columns decide.
fn answerable(query: &Query) -> bool {
    match query {
        Query::All => true,
        Query::Text(_) => false,
        Query::Field(FieldQuery { field, condition }) => {
            let on_volume = matches!(field, Field::Topic)
                || matches!(field, Field::Payload(path) if is_level(path));
            on_volume && !matches!(condition, Condition::Range(_))
        }
        Query::And(children) | Query::Or(children) => children.iter().all(answerable),
        Query::Not(child) => answerable(child),
    }
}

/// Whether `query` compares `level` with a value (which kind 2 rows cannot answer).
fn reads_level_values(query: &Query) -> bool {
    match query {
        Query::Field(FieldQuery {
            field: Field::Payload(_),
            condition,
        }) => !matches!(condition, Condition::Exists),
        Query::And(children) | Query::Or(children) => children.iter().any(reads_level_values),
        Query::Not(child) => reads_level_values(child),
        Query::All | Query::Text(_) | Query::Field(_) => false,
    }
}

fn floor_minute(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_micros().div_euclid(MINUTE_MICROS)
}

fn ceil_minute(instant: DateTime<Utc>) -> i64 {
    let micros = instant.timestamp_micros();
    micros.div_euclid(MINUTE_MICROS) + i64::from(micros.rem_euclid(MINUTE_MICROS) != 0)
}

fn minute_start(minute: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(minute.checked_mul(MINUTE_MICROS)?)
}

/// How a store writes the volume's statements: its placeholders and its prefix test.
pub trait VolumeSql {
    /// Binds a text value; returns its placeholder.
    fn bind_text(&mut self, text: &str) -> String;
    /// Binds an integer; returns its placeholder.
    fn bind_integer(&mut self, value: i64) -> String;
    /// The test that `column` starts with the text bound at `placeholder`.
    fn starts_with(&self, column: &str, placeholder: &str) -> String;
}

/// The condition of `query` (a plan's, see [`plan`]) on the volume's columns `topic`,
/// `level_kind` and `level`. Never NULL, so `NOT` means what it means in the model.
pub fn lower(query: &Query, sql: &mut impl VolumeSql) -> String {
    match query {
        Query::All => "1 = 1".into(),
        Query::Field(FieldQuery {
            field: Field::Topic,
            condition,
        }) => match condition {
            Condition::Equals(value) => format!("topic = {}", sql.bind_text(&value.text)),
            Condition::Prefix(prefix) => {
                let placeholder = sql.bind_text(prefix);
                sql.starts_with("topic", &placeholder)
            }
            Condition::Exists => "1 = 1".into(),
            Condition::Range(_) => "1 = 0".into(),
        },
        // The plan holds no other field than `level` (see `answerable`).
        Query::Field(FieldQuery { condition, .. }) => match condition {
            Condition::Equals(value) => {
                format!(
                    "(level_kind = 1 AND level = {})",
                    sql.bind_text(&value.text)
                )
            }
            Condition::Prefix(prefix) => {
                let placeholder = sql.bind_text(prefix);
                format!(
                    "(level_kind = 1 AND {})",
                    sql.starts_with("level", &placeholder)
                )
            }
            Condition::Exists => "level_kind <> 0".into(),
            Condition::Range(_) => "1 = 0".into(),
        },
        Query::And(children) => junction(children, " AND ", sql),
        Query::Or(children) => junction(children, " OR ", sql),
        Query::Not(child) => format!("NOT ({})", lower(child, sql)),
        Query::Text(_) => "1 = 0".into(),
    }
}

fn junction(children: &[Query], separator: &str, sql: &mut impl VolumeSql) -> String {
    let parts: Vec<String> = children.iter().map(|child| lower(child, sql)).collect();
    format!("({})", parts.join(separator))
}

/// `WHERE …` of a plan's rows: its minutes and its condition.
fn rows(plan: &VolumePlan, sql: &mut impl VolumeSql) -> String {
    let from = sql.bind_integer(plan.minutes.start);
    let to = sql.bind_integer(plan.minutes.end);
    let condition = lower(&plan.condition, sql);
    format!("WHERE minute >= {from} AND minute < {to} AND {condition}")
}

/// The bucket of a minute (`column`) in buckets of `per` minutes (a placeholder): floor
/// division, also before 1970 (`/` and `%` truncate in both engines).
fn bucket_of_minute(column: &str, per: &str) -> String {
    format!("(({column} - ((({column} % {per}) + {per}) % {per})) / {per})")
}

// The statements below are the same text on both engines: `CAST(… AS BIGINT)` is PostgreSQL's
// bigint (its `sum` of bigints is numeric) and SQLite's integer.

/// `(bucket, events)` of a plan, in buckets of `minutes_per_bucket` minutes.
pub fn buckets_sql(plan: &VolumePlan, minutes_per_bucket: i64, sql: &mut impl VolumeSql) -> String {
    let per = sql.bind_integer(minutes_per_bucket);
    let rows = rows(plan, sql);
    format!(
        "SELECT {} AS bucket, CAST(sum(events) AS BIGINT) FROM event_volume {rows} \
         GROUP BY bucket ORDER BY bucket",
        bucket_of_minute("minute", &per)
    )
}

/// `(value, bucket, events)` of a plan, for every value of `field`.
pub fn value_buckets_sql(
    plan: &VolumePlan,
    field: VolumeField,
    minutes_per_bucket: i64,
    sql: &mut impl VolumeSql,
) -> String {
    let per = sql.bind_integer(minutes_per_bucket);
    let rows = rows(plan, sql);
    let (column, guard) = field.column();
    format!(
        "SELECT {column}, {} AS bucket, CAST(sum(events) AS BIGINT) FROM event_volume {rows} \
         AND {guard} GROUP BY 1, 2",
        bucket_of_minute("minute", &per)
    )
}

/// `(value, events)` of a plan, for every value of `field`.
pub fn values_sql(plan: &VolumePlan, field: VolumeField, sql: &mut impl VolumeSql) -> String {
    let rows = rows(plan, sql);
    let (column, guard) = field.column();
    format!(
        "SELECT {column}, CAST(sum(events) AS BIGINT) FROM event_volume {rows} AND {guard} \
         GROUP BY 1"
    )
}

/// Whether a row of a `level` the volume cannot place (kind 2) lies in a plan's minutes.
pub fn unplaceable_sql(plan: &VolumePlan, sql: &mut impl VolumeSql) -> String {
    let from = sql.bind_integer(plan.minutes.start);
    let to = sql.bind_integer(plan.minutes.end);
    format!(
        "SELECT EXISTS (SELECT 1 FROM event_volume WHERE minute >= {from} AND minute < {to} \
         AND level_kind = 2 AND events > 0)"
    )
}

impl VolumePlan {
    /// The counts of the plan's edges, from the events: every value of `by` kept (the parts are
    /// ranked together, see [`Tally`]).
    pub fn edge_counts<'a>(
        &'a self,
        request: &'a CountRequest,
    ) -> impl Iterator<Item = CountRequest> + 'a {
        self.edges.iter().map(move |edge| CountRequest {
            scope: edge.clone(),
            top: u32::MAX,
            ..request.clone()
        })
    }

    /// The rankings of the plan's edges, from the events: every value kept.
    pub fn edge_values<'a>(
        &'a self,
        request: &'a ValuesRequest,
    ) -> impl Iterator<Item = ValuesRequest> + 'a {
        self.edges.iter().map(move |edge| ValuesRequest {
            scope: edge.clone(),
            field: request.field.clone(),
            limit: u32::MAX,
        })
    }
}

/// A count or a ranking added up from its parts: the volume's whole minutes and the events'
/// edges. Every value is kept until the end, so a value ranked low in one part and high in
/// another is counted exactly.
#[derive(Debug, Default)]
pub struct Tally {
    buckets: BTreeMap<i64, u64>,
    values: BTreeMap<String, ValueTally>,
}

/// The events of one value: in all, and per bucket.
#[derive(Debug, Default)]
struct ValueTally {
    total: u64,
    buckets: BTreeMap<i64, u64>,
}

impl Tally {
    /// Adds events to a bucket of the total.
    pub fn add_bucket(&mut self, bucket: i64, events: u64) {
        *self.buckets.entry(bucket).or_default() += events;
    }

    /// Adds events of `value` in a bucket.
    pub fn add_value_bucket(&mut self, value: &str, bucket: i64, events: u64) {
        let tally = self.values.entry(value.to_owned()).or_default();
        tally.total += events;
        *tally.buckets.entry(bucket).or_default() += events;
    }

    /// Adds events of `value` (a ranking, without buckets).
    pub fn add_value(&mut self, value: &str, events: u64) {
        self.values.entry(value.to_owned()).or_default().total += events;
    }

    /// Adds `(bucket, events)` rows read from the volume.
    pub fn add_volume_buckets(&mut self, rows: Vec<(i64, i64)>) -> Result<(), StoreError> {
        for (bucket, events) in rows {
            self.add_bucket(bucket, StoreError::counter(events)?);
        }
        Ok(())
    }

    /// Adds `(value, bucket, events)` rows read from the volume.
    pub fn add_volume_value_buckets(
        &mut self,
        rows: Vec<(String, i64, i64)>,
    ) -> Result<(), StoreError> {
        for (value, bucket, events) in rows {
            self.add_value_bucket(&value, bucket, StoreError::counter(events)?);
        }
        Ok(())
    }

    /// Adds `(value, events)` rows read from the volume.
    pub fn add_volume_values(&mut self, rows: Vec<(String, i64)>) -> Result<(), StoreError> {
        for (value, events) in rows {
            self.add_value(&value, StoreError::counter(events)?);
        }
        Ok(())
    }

    /// Adds a part counted from the events, whose series hold every value.
    pub fn add_counts(&mut self, counts: Counts) {
        for (bucket, events) in counts.buckets {
            self.add_bucket(bucket, events);
        }
        for series in counts.series {
            for (bucket, events) in series.buckets {
                self.add_value_bucket(&series.value, bucket, events);
            }
        }
    }

    /// Adds a part ranked from the events, holding every value.
    pub fn add_values(&mut self, values: Vec<ValueCount>) {
        for value in values {
            self.add_value(&value.value, value.count);
        }
    }

    fn ranked(&mut self) -> Vec<(String, ValueTally)> {
        let mut ranked: Vec<_> = std::mem::take(&mut self.values).into_iter().collect();
        // Most frequent first, ties by value in byte order (as the stores rank).
        ranked.sort_by(|left, right| right.1.total.cmp(&left.1.total).then(left.0.cmp(&right.0)));
        ranked.retain(|(_, tally)| tally.total > 0);
        ranked
    }

    /// The counts, with a series for each of the `top` most frequent values when `by` was
    /// asked for.
    pub fn into_counts(mut self, by: bool, top: u32) -> Counts {
        let mut counts = Counts::default();
        for (bucket, events) in std::mem::take(&mut self.buckets) {
            if events > 0 {
                counts.add_bucket(bucket, events);
            }
        }
        if by {
            counts.series = self
                .ranked()
                .into_iter()
                .take(top as usize)
                .map(|(value, tally)| ValueSeries {
                    value,
                    total: tally.total,
                    buckets: tally.buckets.into_iter().filter(|(_, n)| *n > 0).collect(),
                })
                .collect();
        }
        counts
    }

    /// The `limit` most frequent values.
    pub fn into_values(mut self, limit: u32) -> Vec<ValueCount> {
        self.ranked()
            .into_iter()
            .take(limit as usize)
            .map(|(value, tally)| ValueCount {
                value,
                count: tally.total,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::query::parse;

    fn scope(query: &str, since: (u32, u32), until: (u32, u32)) -> SearchScope {
        let at = |(minute, second)| {
            Utc.with_ymd_and_hms(2026, 12, 1, 10, minute, second)
                .single()
                .expect("a valid instant")
        };
        SearchScope {
            filter: Some(parse(query).expect("a query")),
            topic: None,
            source: None,
            topic_prefixes: Default::default(),
            since: at(since),
            until: at(until),
        }
    }

    #[test]
    fn whole_minutes_come_from_the_volume_and_the_seconds_around_them_from_the_events() {
        let scope = scope("level:error", (0, 30), (10, 15));
        let plan = plan(&scope, Some(5 * MINUTE_MICROS), None).expect("a plan");
        assert_eq!(plan.minutes.end - plan.minutes.start, 9);
        assert_eq!(plan.edges.len(), 2);
        assert_eq!(plan.edges[0].until.timestamp() % 60, 0);
        assert_eq!(plan.edges[1].since.timestamp() % 60, 0);
        assert!(plan.reads_levels);
    }

    #[test]
    fn only_topic_and_level_terms_in_whole_minute_buckets_are_answered() {
        let ok = |query: &str, interval: i64, field: Option<Field>| {
            plan(
                &scope(query, (0, 0), (30, 0)),
                Some(interval),
                field.as_ref(),
            )
            .is_some()
        };
        assert!(ok(
            "topic:orders.* AND NOT level:debug",
            MINUTE_MICROS,
            None
        ));
        assert!(ok("", 5 * MINUTE_MICROS, Some(Field::Topic)));
        assert!(!ok("level:error timeout", MINUTE_MICROS, None));
        assert!(!ok("source:checkout", MINUTE_MICROS, None));
        assert!(!ok("level:error", 30_000_000, None));
        assert!(!ok("level:error", MINUTE_MICROS, Some(Field::Source)));
        assert!(plan(&scope("level:*", (0, 10), (0, 50)), None, None).is_none());
    }

    #[test]
    fn parts_add_up_and_rank_every_value_exactly() {
        let mut tally = Tally::default();
        tally.add_value_bucket("info", 1, 5);
        tally.add_value_bucket("error", 1, 4);
        tally.add_bucket(1, 9);
        tally.add_values(vec![ValueCount {
            value: "error".into(),
            count: 2,
        }]);
        let values = tally.into_values(1);
        assert_eq!(
            values,
            vec![ValueCount {
                value: "error".into(),
                count: 6
            }]
        );
    }
}
