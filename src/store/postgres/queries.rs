//! The query port ([`Queries`]) on PostgreSQL: counts per time bucket and top values, each one
//! statement over the rows of the search's scope (see `search.rs`), run like every search on
//! the searches' own connections and within `--query-timeout`.

use async_trait::async_trait;
use tokio_postgres::types::ToSql;

use super::reads::{listing_statement, run_listing};
use super::search::{scope_condition, value_expression, Param};
use super::PostgresStore;
use crate::store::error::StoreError;
use crate::store::queries::{
    CountRequest, Counts, Queries, SearchStatement, ValueCount, ValuesRequest,
};

/// A statement and its parameters, built together.
#[derive(Default)]
struct Statement {
    params: Vec<Param>,
}

impl Statement {
    fn bind(&mut self, value: Param) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|param| param.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

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
        let client = self.search_pool.get().await?;
        let (sql, statement) = count_statement(request);
        let rows = client.query(&sql, &statement.refs()).await?;
        let mut counts = Counts::default();
        for row in &rows {
            counts.add_bucket(row.try_get(0)?, StoreError::counter(row.try_get(1)?)?);
        }
        let Some(by) = &request.by else {
            return Ok(counts);
        };
        let values = ValuesRequest {
            scope: request.scope.clone(),
            field: by.clone(),
            limit: request.top,
        };
        let top = top_values_on(&client, &values).await?;
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
}

/// The most frequent values, on a connection the caller holds (a count ranks its values on
/// the connection it counts with, never waiting for a second one).
async fn top_values_on(
    client: &deadpool_postgres::Client,
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
        self.within_search_limit(async {
            let client = self.search_pool.get().await?;
            top_values_on(&client, request).await
        })
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
                SearchStatement::Count(request) => count_statement(request),
            };
            let rows = tx
                .query(&format!("EXPLAIN (COSTS OFF) {sql}"), &statement.refs())
                .await?;
            let lines = rows
                .iter()
                .map(|row| row.try_get::<_, String>(0))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(lines.join("\n"))
        })
        .await
    }
}
