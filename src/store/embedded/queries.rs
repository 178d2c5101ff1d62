//! The query port ([`Queries`]) on the embedded store: counts per time bucket and top values,
//! each one statement over the rows of the search's scope (see `search.rs`), run like every
//! search on a read connection, off the async executor, within `--query-timeout`.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

use super::listing::listing_statement;
use super::search::{self, few_candidates, rows_in_range, scope_condition, value_expression};
use super::volume as volume_sql;
use super::EmbeddedStore;
use crate::store::contract::bounded;
use crate::store::error::StoreError;
use crate::store::queries::{
    CountRequest, Counts, Queries, SearchScope, SearchStatement, ValueCount, ValuesRequest,
};
use crate::store::volume::{self, Tally, VolumeField, VolumePlan, MINUTE_MICROS};

/// The bucket number of `ts` (microseconds): floor division, also for instants before 1970
/// (SQLite's `/` and `%` truncate toward zero).
fn bucket_expression(interval: &str) -> String {
    format!("((ts - (((ts % {interval}) + {interval}) % {interval})) / {interval})")
}

/// Which full-text lookups drive a count or a ranking over one scope: a lookup does when it
/// finds fewer rows than the time range holds. Each answer decides once per lookup, the range
/// counted once: a count split by a field lowers the same search three times (buckets, top
/// values, series), and each decision costs a bounded count of its own.
struct Narrowing<'c> {
    conn: &'c Connection,
    scope: &'c SearchScope,
    in_range: Option<i64>,
    decided: HashMap<String, bool>,
}

impl<'c> Narrowing<'c> {
    fn new(conn: &'c Connection, scope: &'c SearchScope) -> Self {
        Self {
            conn,
            scope,
            in_range: None,
            decided: HashMap::new(),
        }
    }

    /// Whether the full-text query `expression` should drive the search.
    fn decide(&mut self, expression: &str) -> bool {
        if let Some(decided) = self.decided.get(expression) {
            return *decided;
        }
        let (conn, scope) = (self.conn, self.scope);
        let in_range = *self
            .in_range
            .get_or_insert_with(|| rows_in_range(conn, scope));
        let decided = few_candidates(conn, expression, in_range);
        self.decided.insert(expression.to_owned(), decided);
        decided
    }
}

/// The statement of a count's buckets and its parameters.
fn count_statement(request: &CountRequest, narrowing: &mut Narrowing<'_>) -> (String, Vec<Sql>) {
    let mut params: Vec<Sql> = Vec::new();
    let mut bind = |value: Sql| {
        params.push(value);
        format!("?{}", params.len())
    };
    let interval = bind(Sql::Integer(request.interval_micros));
    let scope = scope_condition(&request.scope, &mut bind, &mut |expression| {
        narrowing.decide(expression)
    });
    let sql = format!(
        "SELECT {} AS bucket, count(*) FROM events WHERE {scope} GROUP BY bucket \
         ORDER BY bucket",
        bucket_expression(&interval)
    );
    (sql, params)
}

/// A count, from the event volume when it can answer (see `store/volume.rs`), in one read
/// transaction (one snapshot for the volume and the events around its minutes).
fn count(conn: &Connection, request: &CountRequest) -> Result<Counts, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let plan = volume::plan(
        &request.scope,
        Some(request.interval_micros),
        request.by.as_ref(),
    );
    match plan {
        Some(plan) if volume_sql::ready(&tx, &plan)? => count_from_volume(&tx, &plan, request),
        _ => count_from_events(&tx, request),
    }
}

/// A count from the event volume's whole minutes and the events of the seconds around them.
fn count_from_volume(
    conn: &Connection,
    plan: &VolumePlan,
    request: &CountRequest,
) -> Result<Counts, StoreError> {
    let per = request.interval_micros / MINUTE_MICROS;
    let mut tally = Tally::default();
    tally.add_volume_buckets(volume_sql::buckets(conn, plan, per)?)?;
    if let Some(field) = request.by.as_ref().and_then(VolumeField::of) {
        tally.add_volume_value_buckets(volume_sql::value_buckets(conn, plan, field, per)?)?;
    }
    for edge in plan.edge_counts(request) {
        tally.add_counts(count_from_events(conn, &edge)?);
    }
    Ok(tally.into_counts(request.by.is_some(), request.top))
}

/// A count from the events themselves.
fn count_from_events(conn: &Connection, request: &CountRequest) -> Result<Counts, StoreError> {
    let mut narrowing = Narrowing::new(conn, &request.scope);
    let (sql, params) = count_statement(request, &mut narrowing);
    let mut counts = Counts::default();
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query(params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        counts.add_bucket(row.get(0)?, StoreError::counter(row.get(1)?)?);
    }
    let Some(values) = request.by_ranking() else {
        return Ok(counts);
    };
    let by = &values.field;
    let top = top_values_narrowed(conn, &values, &mut narrowing)?;
    let mut params: Vec<Sql> = Vec::new();
    let mut bind = |value: Sql| {
        params.push(value);
        format!("?{}", params.len())
    };
    let interval = bind(Sql::Integer(request.interval_micros));
    let Some(value) = value_expression(by, &mut bind) else {
        return Ok(counts);
    };
    if top.is_empty() {
        return Ok(counts);
    }
    let wanted: Vec<String> = top
        .iter()
        .map(|value| bind(Sql::Text(value.value.clone())))
        .collect();
    let scope = scope_condition(&request.scope, &mut bind, &mut |expression| {
        narrowing.decide(expression)
    });
    let sql = format!(
        "SELECT value, bucket, count(*) FROM (SELECT {value} AS value, {} AS bucket \
         FROM events WHERE {scope}) WHERE value IN ({}) GROUP BY value, bucket \
         ORDER BY bucket",
        bucket_expression(&interval),
        wanted.join(", ")
    );
    counts.start_series(top);
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query(params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let value: String = row.get(0)?;
        counts.add_series_bucket(&value, row.get(1)?, StoreError::counter(row.get(2)?)?);
    }
    Ok(counts)
}

/// The most frequent values, from the event volume when it can answer.
fn top_values(conn: &Connection, request: &ValuesRequest) -> Result<Vec<ValueCount>, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let plan = volume::plan(&request.scope, None, Some(&request.field));
    let (Some(plan), Some(field)) = (plan, VolumeField::of(&request.field)) else {
        return top_values_from_events(&tx, request);
    };
    if !volume_sql::ready(&tx, &plan)? {
        return top_values_from_events(&tx, request);
    }
    let mut tally = Tally::default();
    tally.add_volume_values(volume_sql::values(&tx, &plan, field)?)?;
    for edge in plan.edge_values(request) {
        tally.add_values(top_values_from_events(&tx, &edge)?);
    }
    Ok(tally.into_values(request.limit))
}

/// The most frequent values, from the events themselves.
fn top_values_from_events(
    conn: &Connection,
    request: &ValuesRequest,
) -> Result<Vec<ValueCount>, StoreError> {
    top_values_narrowed(conn, request, &mut Narrowing::new(conn, &request.scope))
}

/// [`top_values_from_events`] with the lookups' decisions of the answer it is part of.
fn top_values_narrowed(
    conn: &Connection,
    request: &ValuesRequest,
    narrowing: &mut Narrowing<'_>,
) -> Result<Vec<ValueCount>, StoreError> {
    let mut params: Vec<Sql> = Vec::new();
    let mut bind = |value: Sql| {
        params.push(value);
        format!("?{}", params.len())
    };
    let Some(value) = value_expression(&request.field, &mut bind) else {
        return Ok(Vec::new());
    };
    let scope = scope_condition(&request.scope, &mut bind, &mut |expression| {
        narrowing.decide(expression)
    });
    let limit = bind(Sql::Integer(i64::from(request.limit)));
    let sql = format!(
        "SELECT value, count(*) AS events FROM (SELECT {value} AS value FROM events \
         WHERE {scope}) WHERE value IS NOT NULL GROUP BY value \
         ORDER BY events DESC, value LIMIT {limit}"
    );
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query(params_from_iter(params))?;
    let mut values = Vec::new();
    while let Some(row) = rows.next()? {
        values.push(ValueCount {
            value: row.get(0)?,
            count: StoreError::counter(row.get(1)?)?,
        });
    }
    Ok(values)
}

impl EmbeddedStore {
    /// Runs `read` as a search: on a read connection, interrupted past `--query-timeout`.
    pub(super) async fn search<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let limit = self.query_timeout;
        let readers = Arc::clone(&self.readers);
        let search = self
            .searches
            .run(move || readers.with_reader(|conn| search::within(conn, limit, read)));
        bounded(limit + search::GRACE, search).await
    }
}

#[async_trait]
impl Queries for EmbeddedStore {
    async fn count(&self, request: &CountRequest) -> Result<Counts, StoreError> {
        let request = request.clone();
        self.search(move |conn| count(conn, &request)).await
    }

    async fn top_values(&self, request: &ValuesRequest) -> Result<Vec<ValueCount>, StoreError> {
        let request = request.clone();
        self.search(move |conn| top_values(conn, &request)).await
    }

    async fn explain(&self, search: &SearchStatement) -> Result<String, StoreError> {
        let search = search.clone();
        self.search(move |conn| {
            let (sql, params) = match &search {
                SearchStatement::Listing(query) => listing_statement(conn, query),
                SearchStatement::Count(request) => {
                    let plan = volume::plan(&request.scope, Some(request.interval_micros), None);
                    match plan {
                        Some(plan) if volume_sql::ready(conn, &plan)? => {
                            let per = request.interval_micros / MINUTE_MICROS;
                            volume_sql::buckets_statement(&plan, per)
                        }
                        _ => count_statement(request, &mut Narrowing::new(conn, &request.scope)),
                    }
                }
            };
            let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let mut rows = statement.query(params_from_iter(params))?;
            let mut lines = Vec::new();
            while let Some(row) = rows.next()? {
                lines.push(row.get::<_, String>(3)?);
            }
            Ok(lines.join("\n"))
        })
        .await
    }
}
