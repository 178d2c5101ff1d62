//! The query port: counts over time and top values of a search, beside the [`super::Store`]
//! that ingest, listing and the live tail use. A port of its own, so that reads which may scan
//! much of the store are one concern in one place, with their own connections and time limit
//! (see each backend), and `Store` does not grow with every question a console asks.
//!
//! Both backends implement it with the same semantics; the in-memory evaluation of a search
//! (`StoredEvent::matches`) is the model their answers are tested against.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::model::EventQuery;
use crate::event::TopicPrefixes;
use crate::query::{Field, Query};

/// Which events a count or a ranking covers: a search within a time range.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchScope {
    /// Only events matching this search; every event when `None`.
    pub filter: Option<Query>,
    /// Only this topic.
    pub topic: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Only topics inside these prefixes (a key's; every topic when empty).
    pub topic_prefixes: TopicPrefixes,
    /// Only events at or after this instant.
    pub since: DateTime<Utc>,
    /// Only events before this instant.
    pub until: DateTime<Utc>,
}

/// Counts of a search per time bucket, optionally split by the values of a field.
#[derive(Debug, Clone, PartialEq)]
pub struct CountRequest {
    /// The events counted.
    pub scope: SearchScope,
    /// Bucket width in microseconds; bucket `n` holds timestamps in
    /// `[n × interval, (n + 1) × interval)` since the Unix epoch.
    pub interval_micros: i64,
    /// Also count separately for the most frequent values of this field.
    pub by: Option<Field>,
    /// How many values of `by` get a series of their own.
    pub top: u32,
}

impl CountRequest {
    /// The ranking a count split by `by` starts from: the `top` most frequent values of `by`
    /// in the same scope (`None` without `by`).
    pub fn by_ranking(&self) -> Option<ValuesRequest> {
        Some(ValuesRequest {
            scope: self.scope.clone(),
            field: self.by.clone()?,
            limit: self.top,
        })
    }
}

/// The answer to a [`CountRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events in the scope.
    pub total: u64,
    /// `(bucket number, events)`, in bucket order, empty buckets left out.
    pub buckets: Vec<(i64, u64)>,
    /// The most frequent values of `by`, most frequent first (ties by value, byte order).
    pub series: Vec<ValueSeries>,
}

impl Counts {
    /// Adds the events of one bucket of the total (buckets come in order).
    pub fn add_bucket(&mut self, bucket: i64, events: u64) {
        self.buckets.push((bucket, events));
        self.total += events;
    }

    /// One empty series per value of `top`, in its order, with its total.
    pub fn start_series(&mut self, top: Vec<ValueCount>) {
        self.series = top
            .into_iter()
            .map(|top| ValueSeries {
                value: top.value,
                total: top.count,
                buckets: Vec::new(),
            })
            .collect();
    }

    /// Adds the events of one bucket of `value`'s series (buckets come in order); a value
    /// without a series is left out.
    pub fn add_series_bucket(&mut self, value: &str, bucket: i64, events: u64) {
        if let Some(series) = self.series.iter_mut().find(|series| series.value == value) {
            series.buckets.push((bucket, events));
        }
    }
}

/// The counts of one value of a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueSeries {
    /// The value, as text (a string as is, a number or boolean as JSON writes it).
    pub value: String,
    /// Events with this value in the scope.
    pub total: u64,
    /// `(bucket number, events)`, in bucket order, empty buckets left out.
    pub buckets: Vec<(i64, u64)>,
}

/// The most frequent values of a field.
#[derive(Debug, Clone, PartialEq)]
pub struct ValuesRequest {
    /// The events looked at.
    pub scope: SearchScope,
    /// The field; a payload field counts only when it holds a string, a number or a boolean.
    pub field: Field,
    /// How many values.
    pub limit: u32,
}

/// One value of a field and how many events hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueCount {
    /// The value, as text.
    pub value: String,
    /// Events holding it.
    pub count: u64,
}

/// Counts and rankings of searches (see the module documentation).
#[async_trait]
pub trait Queries: Send + Sync + 'static {
    /// Counts per bucket, and per value of `by` for its most frequent values.
    async fn count(&self, request: &CountRequest) -> Result<Counts, StoreError>;

    /// The most frequent values of a field, with exact counts, most frequent first (ties by
    /// value, byte order).
    async fn top_values(&self, request: &ValuesRequest) -> Result<Vec<ValueCount>, StoreError>;

    /// The plan the database chooses for `search`, as its `EXPLAIN` prints it: which indexes a
    /// search uses, for an operator asking why one is slow and for the tests that hold the
    /// stores to using them.
    async fn explain(&self, search: &SearchStatement) -> Result<String, StoreError>;
}

/// A search whose plan [`Queries::explain`] shows.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchStatement {
    /// A page of `GET /events`.
    Listing(EventQuery),
    /// The buckets of a count (without its `by` series).
    Count(CountRequest),
}

/// The query port shared by the HTTP layer.
pub type SharedQueries = Arc<dyn Queries>;

/// The bucket of an instant: floor division of its microseconds since the epoch.
pub fn bucket_of(instant: DateTime<Utc>, interval_micros: i64) -> i64 {
    instant.timestamp_micros().div_euclid(interval_micros)
}
