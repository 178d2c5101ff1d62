//! The cluster view of the PostgreSQL store ([`Cluster`]): this instance's heartbeat, and what
//! every instance sharing the database has committed (for a `/stats` that every instance answers
//! the same way), and the counter rows it sums.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::counters_at;
use super::sql::{
    ACKNOWLEDGE_PURGES_SQL, BEHIND_ON_PURGES_SQL, COUNTERS_SQL, HEARTBEAT_SQL, INSTANCES_SQL,
    NEW_TOPICS_SQL,
};
use super::PostgresStore;
use crate::store::contract::Cluster;
use crate::store::error::StoreError;
use crate::store::model::{ClusterView, InstanceInfo, ShardId, StoredShard};

/// Most new topics read per view; the next view goes on from there.
const NEW_TOPICS_PER_VIEW: i64 = 10_000;
/// An instance whose last heartbeat is older than this looks dead.
const ALIVE_WITHIN: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

#[async_trait]
impl Cluster for PostgresStore {
    async fn cluster_view(&self, topics_after: i64) -> Result<ClusterView, StoreError> {
        self.bounded(self.cluster_view_unbounded(topics_after))
            .await
    }

    async fn acknowledge_purges(&self, seen: u64) -> Result<(), StoreError> {
        self.bounded(self.acknowledge_purges_unbounded(seen)).await
    }

    async fn instances_behind_on_purges(&self) -> Result<Vec<String>, StoreError> {
        self.bounded(self.behind_on_purges_unbounded()).await
    }
}

impl PostgresStore {
    async fn cluster_view_unbounded(&self, topics_after: i64) -> Result<ClusterView, StoreError> {
        let client = self.pool.get().await?;
        let heartbeat = client.prepare_cached(HEARTBEAT_SQL).await?;
        client
            .execute(&heartbeat, &[&self.instance_id, &self.started_at])
            .await?;
        let shards = self.shard_rows(&client).await?;
        let new_topics_statement = client.prepare_cached(NEW_TOPICS_SQL).await?;
        let mut topics_cursor = topics_after;
        let mut new_topics = Vec::new();
        for row in client
            .query(
                &new_topics_statement,
                &[&topics_after, &NEW_TOPICS_PER_VIEW],
            )
            .await?
        {
            topics_cursor = row.try_get(0)?;
            new_topics.push(row.try_get(1)?);
        }
        let instances_statement = client.prepare_cached(INSTANCES_SQL).await?;
        let mut instances = Vec::new();
        for row in client.query(&instances_statement, &[]).await? {
            let heartbeat_at: DateTime<Utc> = row.try_get(2)?;
            let database_now: DateTime<Utc> = row.try_get(3)?;
            instances.push(InstanceInfo {
                instance: row.try_get(0)?,
                started_at: row.try_get(1)?,
                heartbeat_at,
                alive: database_now - heartbeat_at <= ALIVE_WITHIN,
            });
        }
        let removals = self.removal_totals(&client).await?;
        Ok(ClusterView {
            shards,
            new_topics,
            topics_cursor,
            instances,
            removals,
        })
    }
}

impl PostgresStore {
    /// `ACKNOWLEDGE_PURGES_SQL` for this instance.
    async fn acknowledge_purges_unbounded(&self, seen: u64) -> Result<(), StoreError> {
        let seen = i64::try_from(seen).unwrap_or(i64::MAX);
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(ACKNOWLEDGE_PURGES_SQL).await?;
        client
            .execute(&statement, &[&self.instance_id, &seen])
            .await?;
        Ok(())
    }

    /// `BEHIND_ON_PURGES_SQL`: the other live instances still to forget purged keys.
    async fn behind_on_purges_unbounded(&self) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(BEHIND_ON_PURGES_SQL).await?;
        let alive_within = ALIVE_WITHIN.as_seconds_f64();
        let rows = client
            .query(&statement, &[&self.instance_id, &alive_within])
            .await?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(StoreError::from))
            .collect()
    }

    /// Every shard's counters: summed over the instances, and this instance's own row
    /// (`COUNTERS_SQL`). Read at start and by every cluster view.
    pub(super) async fn shard_rows(
        &self,
        client: &deadpool_postgres::Client,
    ) -> Result<Vec<StoredShard>, StoreError> {
        let statement = client.prepare_cached(COUNTERS_SQL).await?;
        let mut shards = Vec::new();
        for row in client.query(&statement, &[&self.instance_id]).await? {
            let shard: i32 = row.try_get(0)?;
            let shard = ShardId::try_from(shard)
                .map_err(|_| StoreError::corrupt(format!("negative shard id {shard}")))?;
            shards.push(StoredShard {
                shard,
                total: counters_at(&row, 1)?,
                own: counters_at(&row, 4)?,
            });
        }
        Ok(shards)
    }
}
