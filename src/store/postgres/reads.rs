//! Reads of the PostgreSQL store ([`Reads`]): the `GET /events` listing and the live tail's
//! follow order (see `store/feed.rs`). Both cut a page by count and then by payload bytes inside
//! the server, so rows past the budget never leave it, and both apply a key's topic prefixes
//! (`topic ^@ ANY(prefixes)`, bound as an array, never written into the SQL) before the
//! count, so pages stay full: a listing's over every row, a follow's over the rows it scans
//! (a bounded number, see `FollowQuery::scan_rows`).

use async_trait::async_trait;
use serde_json::value::RawValue;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::search::{self, Param};
use super::sql::{FOLLOW_ALL_SQL, FOLLOW_TOPIC_SQL, HORIZON_SQL, TOPIC_END_SQL};
use super::PostgresStore;
use crate::store::contract::Reads;
use crate::store::error::StoreError;
use crate::store::feed::{FeedPosition, FollowPage, FollowQuery, FollowedEvent};
use crate::store::model::{EventPage, EventQuery, ListingOrder, StoredEvent};
use crate::store::span::TopicSpan;

/// The `ORDER BY` of a listing in `order`.
fn order_by(order: ListingOrder) -> &'static str {
    match order {
        ListingOrder::ByTopic => "topic, seq",
        ListingOrder::Oldest => "ts, seq",
        ListingOrder::Newest => "ts DESC, seq DESC",
    }
}

/// `WHERE …` of a listing: its search, filters and keyset position, with their parameters.
fn listing_filters(query: &EventQuery) -> (String, Vec<Param>) {
    let mut sql = String::from(" WHERE true");
    let mut params: Vec<Param> = Vec::new();
    let mut placeholder = |value: Param| {
        params.push(value);
        format!("${}", params.len())
    };
    if let Some(filter) = &query.filter {
        let condition = search::condition(filter, &mut placeholder);
        sql.push_str(&format!(" AND ({condition})"));
    }
    let mut bind = |sql: &mut String, clause: &str, value: Param| {
        sql.push_str(&clause.replace('?', &placeholder(value)));
    };
    if let Some(topic) = &query.topic {
        bind(&mut sql, " AND topic = ?", Box::new(topic.clone()));
    }
    // No clause at all for every topic, so that listing keeps its plans. Otherwise the
    // exact test, plus the span of the prefixes: `^@ ANY` cannot bound an index scan, the
    // span bounds the `(topic, seq)` one, so the listing seeks to the first topic inside.
    if let Some(span) = TopicSpan::of(&query.topic_prefixes) {
        let prefixes = query.topic_prefixes.as_slice().to_vec();
        bind(&mut sql, " AND topic ^@ ANY(?::text[])", Box::new(prefixes));
        bind(&mut sql, " AND topic >= ?", Box::new(span.from));
        if let Some(to) = span.to {
            bind(&mut sql, " AND topic < ?", Box::new(to));
        }
    }
    if let Some(source) = &query.source {
        bind(&mut sql, " AND source = ?", Box::new(source.clone()));
    }
    if let Some(since) = query.since {
        bind(&mut sql, " AND ts >= ?", Box::new(since));
    }
    if let Some(until) = query.until {
        bind(&mut sql, " AND ts < ?", Box::new(until));
    }
    match (query.order, &query.after, &query.after_time) {
        (ListingOrder::ByTopic, Some(after), _) => {
            bind(
                &mut sql,
                " AND (topic, seq) > (?",
                Box::new(after.topic.clone()),
            );
            bind(&mut sql, ", ?)", Box::new(after.seq));
        }
        (ListingOrder::Oldest | ListingOrder::Newest, _, Some(after)) => {
            let beyond = match query.order {
                ListingOrder::Newest => "<",
                _ => ">",
            };
            let clause = format!(" AND (ts, seq) {beyond} (?");
            bind(&mut sql, &clause, Box::new(after.timestamp));
            bind(&mut sql, ", ?)", Box::new(after.seq));
        }
        _ => {}
    }
    (sql, params)
}

/// The statement of a listing page and its parameters.
pub(super) fn listing_statement(query: &EventQuery) -> (String, Vec<Param>) {
    let (filters, mut params) = listing_filters(query);
    let mut bind = |value: Param| {
        params.push(value);
        format!("${}", params.len())
    };
    let order_by = order_by(query.order);
    // One row more than asked tells whether a next page exists without a count query.
    let fetch = bind(Box::new(i64::from(query.limit) + 1));
    let budget = bind(Box::new(match query.max_bytes {
        0 => i64::MAX,
        bytes => i64::try_from(bytes).unwrap_or(i64::MAX),
    }));
    // The page is first cut by count (`LIMIT n + 1`), then by payload bytes: rows past the
    // budget (the first row excepted) never leave the server, so a page of huge payloads
    // costs this process at most the budget. `matched` tells whether rows were cut.
    let sql = format!(
        "SELECT seq, topic, event_id, ts, source, payload_text, received_at, matched FROM (
            SELECT *, sum(octet_length(payload_text)) OVER w AS running,
                   row_number() OVER w AS position, count(*) OVER () AS matched
            FROM (SELECT seq, topic, event_id, ts, source, payload::text AS payload_text,
                         received_at FROM events{filters} ORDER BY {order_by} LIMIT {fetch})
                 AS page
            WINDOW w AS (ORDER BY {order_by})) AS sized
        WHERE position = 1 OR running <= {budget} ORDER BY {order_by}"
    );
    (sql, params)
}

/// How long a search's listing may run on the plan PostgreSQL chooses before it is read on
/// bitmap scans of the search indexes instead (see [`run_listing`]).
const PLANNED_BUDGET_MS: u32 = 50;

/// Runs the listing `sql` (the statement of `query`) in `tx` and returns its rows, leaving `tx`
/// set as the rows were read, so that an `EXPLAIN` after it shows that plan.
///
/// PostgreSQL estimates JSON containment only from the documents its sample holds: a value the
/// sample lacks (a trace id, a user) is guessed to match 1 % of rows, and a listing newest first
/// then walks the whole time index looking for a page that never fills. A search an index can
/// serve (`search::index_served`) first gets [`PLANNED_BUDGET_MS`] on the planner's plan, which
/// is right for common values and for words (their statistics are good); past it, the
/// statement is cancelled and the page read on bitmap scans only (`enable_seqscan` and
/// `enable_indexscan` off): the GIN indexes find the few matches, which are then sorted.
pub(super) async fn run_listing(
    tx: &deadpool_postgres::Transaction<'_>,
    query: &EventQuery,
    sql: &str,
    params: &[Param],
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    // A search makes a statement of its own shape: not kept in the connection's cache, which
    // would grow with every distinct query.
    let Some(filter) = &query.filter else {
        let statement = tx.prepare_cached(sql).await?;
        return Ok(tx.query(&statement, &refs(params)).await?);
    };
    if !search::index_served(filter) {
        return Ok(tx.query(sql, &refs(params)).await?);
    }
    tx.batch_execute(&format!(
        "SAVEPOINT planned; SET LOCAL statement_timeout = {PLANNED_BUDGET_MS}"
    ))
    .await?;
    match tx.query(sql, &refs(params)).await {
        Ok(rows) => {
            // Back to the session's own limit for whatever else this transaction runs.
            tx.batch_execute("RELEASE SAVEPOINT planned; SET LOCAL statement_timeout = DEFAULT")
                .await?;
            Ok(rows)
        }
        Err(err) if err.code() == Some(&SqlState::QUERY_CANCELED) => {
            // Rolling back to the savepoint also restores the session's statement timeout.
            tx.batch_execute(
                "ROLLBACK TO SAVEPOINT planned; SET LOCAL enable_seqscan = off; \
                 SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off",
            )
            .await?;
            Ok(tx.query(sql, &refs(params)).await?)
        }
        Err(err) => Err(err.into()),
    }
}

pub(super) fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl PostgresStore {
    /// A page of `GET /events`, read through `pool` (the searches have their own).
    async fn query_unbounded(
        &self,
        query: &EventQuery,
        pool: &deadpool_postgres::Pool,
    ) -> Result<EventPage, StoreError> {
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        let (sql, params) = listing_statement(query);
        let rows = run_listing(&tx, query, &sql, &params).await?;
        tx.commit().await?;

        let mut events = Vec::with_capacity(rows.len());
        let mut matched = 0;
        for row in &rows {
            matched = row.try_get::<_, i64>(7)?;
            events.push(event_at(row, 0)?);
        }
        let cut_by_bytes = usize::try_from(matched).unwrap_or(usize::MAX) > events.len();
        Ok(EventPage::from_fetched(
            events,
            query.limit,
            query.max_bytes,
            cut_by_bytes,
        ))
    }

    async fn follow_unbounded(&self, query: &FollowQuery) -> Result<FollowPage, StoreError> {
        let client = self.tail_pool.get().await?;
        let limit = i64::from(query.limit);
        let scan_rows = i64::from(query.scan_rows());
        let budget = match query.max_bytes {
            0 => i64::MAX,
            bytes => i64::try_from(bytes).unwrap_or(i64::MAX),
        };
        // Empty for every topic, which the statements read as no filter.
        let prefixes: &[String] = query.topic_prefixes.as_slice();
        // The two forms differ only in their statement and in what fixes the start: the topic
        // (then `after.seq` within it) or `after.tx`.
        let (sql, start): (&str, &(dyn ToSql + Sync)) = match &query.topic {
            Some(topic) => (FOLLOW_TOPIC_SQL, topic),
            None => (FOLLOW_ALL_SQL, &query.after.tx),
        };
        let statement = client.prepare_cached(sql).await?;
        let params: [&(dyn ToSql + Sync); 7] = [
            start,
            &query.after.seq,
            &query.source,
            &limit,
            &budget,
            &prefixes,
            &scan_rows,
        ];
        let rows = client.query(&statement, &params).await?;
        let mut events = Vec::with_capacity(rows.len());
        let mut last_scanned = None;
        // Events of the page before its byte cut (at most `limit`), from the statement.
        let mut matched = 0i64;
        for row in &rows {
            let position = FeedPosition {
                tx: row.try_get(0)?,
                seq: row.try_get(1)?,
            };
            // Only the closing row, the last one scanned, has no topic.
            if row.try_get::<_, Option<String>>(2)?.is_none() {
                last_scanned = Some(position);
                continue;
            }
            matched = row.try_get(8)?;
            events.push(FollowedEvent {
                position,
                event: event_at(row, 1)?,
            });
        }
        // A page cut by its limit or its byte budget may have left matching rows scanned but
        // not returned: it resumes after its last event. Otherwise every match up to the last
        // row scanned is on the page.
        let cut = matched >= limit || usize::try_from(matched).unwrap_or(usize::MAX) > events.len();
        // Events are rows scanned, so with an event there is a last row scanned, not before it.
        let scanned_to = match events.last() {
            Some(last) if cut => last.position,
            _ => last_scanned.unwrap_or(query.after),
        };
        debug_assert!(scanned_to >= query.after);
        debug_assert!(events.last().is_none_or(|last| last.position <= scanned_to));
        Ok(FollowPage { events, scanned_to })
    }

    async fn feed_end_unbounded(&self, topic: Option<&str>) -> Result<FeedPosition, StoreError> {
        let client = self.tail_pool.get().await?;
        Ok(match topic {
            Some(topic) => FeedPosition {
                tx: 0,
                seq: client
                    .query_one(TOPIC_END_SQL, &[&topic])
                    .await?
                    .try_get(0)?,
            },
            None => FeedPosition {
                tx: client.query_one(HORIZON_SQL, &[]).await?.try_get(0)?,
                seq: 0,
            },
        })
    }
}

#[async_trait]
impl Reads for PostgresStore {
    async fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        if query.filter.is_none() {
            return self.bounded(self.query_unbounded(query, &self.pool)).await;
        }
        self.within_search_limit(self.query_unbounded(query, &self.search_pool))
            .await
    }

    async fn follow(&self, query: &FollowQuery) -> Result<FollowPage, StoreError> {
        self.bounded(self.follow_unbounded(query)).await
    }

    async fn feed_end(&self, topic: Option<&str>) -> Result<FeedPosition, StoreError> {
        self.bounded(self.feed_end_unbounded(topic)).await
    }

    fn commit_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.feed.subscribe()
    }
}

/// An event from seven columns starting at `first`: seq, topic, event_id, ts, source, the
/// payload's text, received_at.
fn event_at(row: &tokio_postgres::Row, first: usize) -> Result<StoredEvent, StoreError> {
    let payload_text: String = row.try_get(first + 5)?;
    let payload = RawValue::from_string(payload_text)
        .map_err(|err| StoreError::corrupt(format!("stored payload: {err}")))?;
    Ok(StoredEvent {
        seq: row.try_get(first)?,
        topic: row.try_get(first + 1)?,
        event_id: row.try_get(first + 2)?,
        timestamp: row.try_get(first + 3)?,
        source: row.try_get(first + 4)?,
        payload,
        received_at: row.try_get(first + 6)?,
    })
}
