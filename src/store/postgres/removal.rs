//! Deletions of the PostgreSQL store ([`Pruning`]): one bounded `DELETE` per call, counted in the
//! same statement (`REMOVE_SQL` for one topic, `SWEEP_SQL` for the default retention), the topics
//! the pruner walks, and the removal counters read back.

use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::Row;

use super::sql::{
    PRUNE_LOCK_SPACE, REMOVAL_COUNTERS_SQL, REMOVE_SQL, SWEEP_LOCK_SPACE, SWEEP_SQL,
    TOPICS_AFTER_SQL,
};
use super::PostgresStore;
use crate::store::contract::{Pruning, SweepReport, SweepRequest};
use crate::store::error::StoreError;
use crate::store::feed::FeedPosition;
use crate::store::removal::{Removal, RemovalCounters, RemovalTotals, RemoveReport, RemoveRequest};

impl PostgresStore {
    /// One `REMOVE_SQL`, unbounded by the store timeout (the caller bounds it).
    async fn remove_unbounded(
        &self,
        request: RemoveRequest<'_>,
    ) -> Result<RemoveReport, StoreError> {
        let (older_than, up_to_seq) = match request.removal {
            Removal::Expired { older_than } => (Some(older_than.as_secs_f64()), i64::MAX),
            Removal::Purged { up_to_seq } => (None, up_to_seq),
        };
        let limit = i64::from(request.limit);
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(REMOVE_SQL).await?;
        let row = client
            .query_one(
                &statement,
                &[
                    &request.topic,
                    &older_than,
                    &up_to_seq,
                    &limit,
                    &self.instance_id,
                    &PRUNE_LOCK_SPACE,
                ],
            )
            .await?;
        removal_report(&row)
    }

    /// One `SWEEP_SQL`, unbounded by the store timeout (the caller bounds it).
    async fn sweep_unbounded(&self, request: SweepRequest<'_>) -> Result<SweepReport, StoreError> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(SWEEP_SQL).await?;
        let row = client
            .query_one(
                &statement,
                &[
                    &request.after.tx,
                    &request.after.seq,
                    &request.older_than.as_secs_f64(),
                    &request.except.exact,
                    &request.except.prefixes,
                    &i64::from(request.limit),
                    &self.instance_id,
                    &SWEEP_LOCK_SPACE,
                ],
            )
            .await?;
        let reached_tx: Option<i64> = row.try_get(5)?;
        let reached_seq: Option<i64> = row.try_get(6)?;
        let scanned: i64 = row.try_get(7)?;
        let stopped: bool = row.try_get(8)?;
        Ok(SweepReport {
            removal: removal_report(&row)?,
            next: match reached_tx.zip(reached_seq) {
                Some((tx, seq)) => FeedPosition { tx, seq },
                None => request.after,
            },
            finished: stopped || scanned < i64::from(request.limit),
        })
    }

    /// One page of `topic_heads`, unbounded by the store timeout (the caller bounds it).
    async fn topics_after_unbounded(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(TOPICS_AFTER_SQL).await?;
        let rows = client
            .query(&statement, &[&after.unwrap_or(""), &i64::from(limit)])
            .await?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(StoreError::from))
            .collect()
    }

    /// The removal counters of every instance and of this one.
    pub(super) async fn removal_totals(
        &self,
        client: &deadpool_postgres::Client,
    ) -> Result<RemovalTotals, StoreError> {
        let statement = client.prepare_cached(REMOVAL_COUNTERS_SQL).await?;
        let row = client.query_one(&statement, &[&self.instance_id]).await?;
        let at = |index: usize| StoreError::counter(row.try_get(index)?);
        Ok(RemovalTotals {
            total: RemovalCounters {
                expired: at(0)?,
                purged: at(1)?,
            },
            own: RemovalCounters {
                expired: at(2)?,
                purged: at(3)?,
            },
        })
    }
}

#[async_trait]
impl Pruning for PostgresStore {
    async fn remove(&self, request: RemoveRequest<'_>) -> Result<RemoveReport, StoreError> {
        self.bounded(self.remove_unbounded(request)).await
    }

    async fn sweep(&self, request: SweepRequest<'_>) -> Result<SweepReport, StoreError> {
        self.bounded(self.sweep_unbounded(request)).await
    }

    async fn topics_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.bounded(self.topics_after_unbounded(after, limit))
            .await
    }
}

/// The first five columns of `REMOVE_SQL` and `SWEEP_SQL`: rows deleted, how far past its
/// deadline the oldest was, whether the try-lock was taken, and the counter row after.
fn removal_report(row: &Row) -> Result<RemoveReport, StoreError> {
    let removed: i64 = row.try_get(0)?;
    let overdue: Option<f64> = row.try_get(1)?;
    let held: bool = row.try_get(2)?;
    let expired: Option<i64> = row.try_get(3)?;
    let purged: Option<i64> = row.try_get(4)?;
    let counters_after = match (expired, purged) {
        (Some(expired), Some(purged)) => Some(RemovalCounters {
            expired: StoreError::counter(expired)?,
            purged: StoreError::counter(purged)?,
        }),
        _ => None,
    };
    Ok(RemoveReport {
        removed: StoreError::counter(removed)?,
        overdue: overdue
            .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
            .map(Duration::from_secs_f64),
        counters_after,
        busy: !held,
    })
}
