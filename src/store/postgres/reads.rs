//! Reads of the PostgreSQL store: the `GET /events` listing and the live tail's follow order
//! (see `store/feed.rs`). Both cut a page by count and then by payload bytes inside the
//! server, so rows past the budget never leave it.

use serde_json::value::RawValue;
use tokio_postgres::types::ToSql;

use super::sql::{FOLLOW_ALL_SQL, FOLLOW_TOPIC_SQL, HORIZON_SQL, TOPIC_END_SQL};
use super::PostgresStore;
use crate::store::error::StoreError;
use crate::store::feed::{FeedPosition, FollowQuery, FollowedEvent};
use crate::store::model::{EventPage, EventQuery, StoredEvent};

impl PostgresStore {
    pub(super) async fn query_unbounded(
        &self,
        query: &EventQuery,
    ) -> Result<EventPage, StoreError> {
        // The page is first cut by count (`LIMIT n + 1`), then by payload bytes: rows past the
        // budget (the first row excepted) never leave the server, so a page of huge payloads
        // costs this process at most the budget. `matched` tells whether rows were cut.
        let mut sql = String::from(
            "SELECT seq, topic, event_id, ts, source, payload_text, received_at, matched FROM (
                SELECT *, sum(octet_length(payload_text)) OVER w AS running,
                       row_number() OVER w AS position, count(*) OVER () AS matched
                FROM (SELECT seq, topic, event_id, ts, source, payload::text AS payload_text,
                             received_at FROM events WHERE true",
        );
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut bind = |sql: &mut String, clause: &str, value: Box<dyn ToSql + Sync + Send>| {
            params.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", params.len())));
        };
        if let Some(topic) = &query.topic {
            bind(&mut sql, " AND topic = ?", Box::new(topic.clone()));
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
        if let Some(after) = &query.after {
            bind(
                &mut sql,
                " AND (topic, seq) > (?",
                Box::new(after.topic.clone()),
            );
            bind(&mut sql, ", ?)", Box::new(after.seq));
        }
        // One row more than asked tells whether a next page exists without a count query.
        let fetch = i64::from(query.limit) + 1;
        bind(
            &mut sql,
            " ORDER BY topic, seq LIMIT ?) AS page",
            Box::new(fetch),
        );
        let budget = match query.max_bytes {
            0 => i64::MAX,
            bytes => i64::try_from(bytes).unwrap_or(i64::MAX),
        };
        bind(
            &mut sql,
            " WINDOW w AS (ORDER BY topic, seq)) AS sized WHERE position = 1 OR running <= ?",
            Box::new(budget),
        );
        sql.push_str(" ORDER BY topic, seq");

        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&sql).await?;
        let param_refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = client.query(&statement, &param_refs).await?;

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

    pub(super) async fn follow_unbounded(
        &self,
        query: &FollowQuery,
    ) -> Result<Vec<FollowedEvent>, StoreError> {
        let client = self.tail_pool.get().await?;
        let limit = i64::from(query.limit);
        let budget = match query.max_bytes {
            0 => i64::MAX,
            bytes => i64::try_from(bytes).unwrap_or(i64::MAX),
        };
        let rows = match &query.topic {
            Some(topic) => {
                let statement = client.prepare_cached(FOLLOW_TOPIC_SQL).await?;
                let params: [&(dyn ToSql + Sync); 5] =
                    [topic, &query.after.seq, &query.source, &limit, &budget];
                client.query(&statement, &params).await?
            }
            None => {
                let statement = client.prepare_cached(FOLLOW_ALL_SQL).await?;
                let params: [&(dyn ToSql + Sync); 5] = [
                    &query.after.tx,
                    &query.after.seq,
                    &query.source,
                    &limit,
                    &budget,
                ];
                client.query(&statement, &params).await?
            }
        };
        rows.iter()
            .map(|row| {
                let event = event_at(row, 1)?;
                Ok(FollowedEvent {
                    position: FeedPosition {
                        tx: row.try_get(0)?,
                        seq: event.seq,
                    },
                    event,
                })
            })
            .collect()
    }

    pub(super) async fn feed_end_unbounded(
        &self,
        topic: Option<&str>,
    ) -> Result<FeedPosition, StoreError> {
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
