//! The query port ([`Queries`]) on PostgreSQL: counts per time bucket and top values, each one
//! statement over the rows of the search's scope (see `search.rs`), run like every search on
//! the searches' own connections and within `--query-timeout`.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::IsolationLevel;

use super::reads::{listing_statement, run_listing};
use super::search::{scope_condition, value_expression, Statement};
use super::volume as volume_sql;
use super::PostgresStore;
use crate::store::error::StoreError;
use crate::store::queries::{
    CountRequest, Counts, Queries, SearchStatement, ValueCount, ValuesRequest,
};
use crate::store::volume::{self, Tally, VolumeField, VolumePlan, MINUTE_MICROS};

/// The bucket number of `ts`: floor of its microseconds over the interval (`extract` is exact,
/// numeric, since PostgreSQL 14).
fn bucket_expression(interval: &str) -> String {
    format!("floor(extract(epoch FROM ts) * 1000000 / {interval}::bigint)::bigint")
}

/// The statement of a count's buckets.
fn count_statement(request: &CountRequest) -> (String, Statement) {
    let mut statement = Statement::default();
    let interval = statement.bind(Box::new(request.interval_micros));
    let scope = scope_condition(&request.scope, &mut |value| statement.bind(value));
    let sql = format!(
        "SELECT {} AS bucket, count(*) FROM events WHERE {scope} GROUP BY bucket \
         ORDER BY bucket",
        bucket_expression(&interval)
    );
    (sql, statement)
}

impl PostgresStore {
    async fn count_unbounded(&self, request: &CountRequest) -> Result<Counts, StoreError> {
        let mut client = self.search_pool.get().await?;
        let tx = snapshot(&mut client).await?;
        let plan = volume::plan(
            &request.scope,
            Some(request.interval_micros),
            request.by.as_ref(),
        );
        match plan {
            Some(plan) if volume_sql::ready(&tx, &plan).await? => {
                count_from_volume(&tx, &plan, request).await
            }
            _ => count_from_events(&tx, request).await,
        }
    }

    async fn top_values_unbounded(
        &self,
        request: &ValuesRequest,
    ) -> Result<Vec<ValueCount>, StoreError> {
        let mut client = self.search_pool.get().await?;
        let tx = snapshot(&mut client).await?;
        let Some(plan) = volume::plan(&request.scope, None, Some(&request.field)) else {
            return top_values_on(&tx, request).await;
        };
        let Some(field) = VolumeField::of(&request.field) else {
            return top_values_on(&tx, request).await;
        };
        if !volume_sql::ready(&tx, &plan).await? {
            return top_values_on(&tx, request).await;
        }
        let mut tally = Tally::default();
        tally.add_volume_values(volume_sql::values(&tx, &plan, field).await?)?;
        for edge in plan.edge_values(request) {
            tally.add_values(top_values_on(&tx, &edge).await?);
        }
        Ok(tally.into_values(request.limit))
    }
}

/// A read-only transaction on one snapshot, for every statement of an answer (the volume's
/// and the events' around it).
async fn snapshot(
    client: &mut deadpool_postgres::Client,
) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    Ok(client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

/// A count from the events themselves.
async fn count_from_events(
    client: &impl GenericClient,
    request: &CountRequest,
) -> Result<Counts, StoreError> {
    let (sql, statement) = count_statement(request);
    let rows = client.query(&sql, &statement.refs()).await?;
    let mut counts = Counts::default();
    for row in &rows {
        counts.add_bucket(row.try_get(0)?, StoreError::counter(row.try_get(1)?)?);
    }
    let Some(values) = request.by_ranking() else {
        return Ok(counts);
    };
    let by = &values.field;
    let top = top_values_on(client, &values).await?;
    if top.is_empty() {
        return Ok(counts);
    }
    let mut statement = Statement::default();
    let interval = statement.bind(Box::new(request.interval_micros));
    let Some((value, rows)) = value_expression(by, &mut |value| statement.bind(value)) else {
        return Ok(counts);
    };
    let wanted: Vec<String> = top.iter().map(|value| value.value.clone()).collect();
    let wanted = statement.bind(Box::new(wanted));
    let scope = scope_condition(&request.scope, &mut |value| statement.bind(value));
    let sql = format!(
        "SELECT value, bucket, count(*) FROM (SELECT {value} AS value, {} AS bucket \
         FROM {rows} WHERE {scope}) AS valued WHERE value = ANY({wanted}::text[]) \
         GROUP BY value, bucket ORDER BY bucket",
        bucket_expression(&interval)
    );
    let rows = client.query(&sql, &statement.refs()).await?;
    counts.start_series(top);
    for row in &rows {
        let value: String = row.try_get(0)?;
        counts.add_series_bucket(
            &value,
            row.try_get(1)?,
            StoreError::counter(row.try_get(2)?)?,
        );
    }
    Ok(counts)
}

/// A count from the event volume's whole minutes and the events of the seconds around them.
async fn count_from_volume(
    client: &impl GenericClient,
    plan: &VolumePlan,
    request: &CountRequest,
) -> Result<Counts, StoreError> {
    let per = request.interval_micros / MINUTE_MICROS;
    let mut tally = Tally::default();
    tally.add_volume_buckets(volume_sql::buckets(client, plan, per).await?)?;
    if let Some(field) = request.by.as_ref().and_then(VolumeField::of) {
        tally
            .add_volume_value_buckets(volume_sql::value_buckets(client, plan, field, per).await?)?;
    }
    for edge in plan.edge_counts(request) {
        tally.add_counts(count_from_events(client, &edge).await?);
    }
    Ok(tally.into_counts(request.by.is_some(), request.top))
}

/// The most frequent values, on a connection the caller holds (a count ranks its values on
/// the connection it counts with, never waiting for a second one).
async fn top_values_on(
    client: &impl GenericClient,
    request: &ValuesRequest,
) -> Result<Vec<ValueCount>, StoreError> {
    let mut statement = Statement::default();
    let Some((value, rows)) = value_expression(&request.field, &mut |value| statement.bind(value))
    else {
        return Ok(Vec::new());
    };
    let scope = scope_condition(&request.scope, &mut |value| statement.bind(value));
    let limit = statement.bind(Box::new(i64::from(request.limit)));
    let sql = format!(
        "SELECT value, count(*) AS events FROM (SELECT {value} AS value FROM {rows} \
         WHERE {scope}) AS valued WHERE value IS NOT NULL GROUP BY value \
         ORDER BY events DESC, value LIMIT {limit}"
    );
    let rows = client.query(&sql, &statement.refs()).await?;
    let mut values = Vec::with_capacity(rows.len());
    for row in &rows {
        values.push(ValueCount {
            value: row.try_get(0)?,
            count: StoreError::counter(row.try_get(1)?)?,
        });
    }
    Ok(values)
}

#[async_trait]
impl Queries for PostgresStore {
    async fn count(&self, request: &CountRequest) -> Result<Counts, StoreError> {
        self.within_search_limit(self.count_unbounded(request))
            .await
    }

    async fn top_values(&self, request: &ValuesRequest) -> Result<Vec<ValueCount>, StoreError> {
        self.within_search_limit(self.top_values_unbounded(request))
            .await
    }

    async fn explain(&self, search: &SearchStatement) -> Result<String, StoreError> {
        self.within_search_limit(async {
            let mut client = self.search_pool.get().await?;
            let tx = client.transaction().await?;
            let (sql, statement) = match search {
                SearchStatement::Listing(query) => {
                    // Read the page once, so that the plan shown is the one it was read with.
                    let (sql, params) = listing_statement(query);
                    run_listing(&tx, query, &sql, &params).await?;
                    (sql, Statement { params })
                }
                SearchStatement::Count(request) => {
                    let plan = volume::plan(&request.scope, Some(request.interval_micros), None);
                    match plan {
                        Some(plan) if volume_sql::ready(&tx, &plan).await? => {
                            let per = request.interval_micros / MINUTE_MICROS;
                            let (sql, statement) = volume_sql::buckets_statement(&plan, per);
                            return explain(&tx, &sql, &statement.refs()).await;
                        }
                        _ => count_statement(request),
                    }
                }
            };
            explain(&tx, &sql, &statement.refs()).await
        })
        .await
    }
}

/// The plan of `sql`, one line per node.
async fn explain(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<String, StoreError> {
    let rows = client
        .query(&format!("EXPLAIN (COSTS OFF) {sql}"), params)
        .await?;
    let lines = rows
        .iter()
        .map(|row| row.try_get::<_, String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lines.join("\n"))
}
