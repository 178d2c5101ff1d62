//! [`Cluster`]: the instances sharing one store: this instance's heartbeat and what every
//! instance committed (for a `/stats` that each of them answers the same way), and how a purge
//! learns that the other instances forgot the keys it deleted. A store one process owns is a
//! cluster of one, with nothing to acknowledge.

use async_trait::async_trait;

use super::backend::Backend;
use crate::store::error::StoreError;
use crate::store::model::ClusterView;

/// The instances sharing the store.
#[async_trait]
pub trait Cluster: Backend {
    /// Records this instance's heartbeat and reads what every instance sharing the store has
    /// committed: counters per shard, topics first committed after `topics_after` (the
    /// `topics_cursor` of the previous view; 0 the first time), and the instances.
    async fn cluster_view(&self, topics_after: i64) -> Result<ClusterView, StoreError>;

    /// Records that this instance's shards have forgotten every key they remembered as of
    /// the summed `purged` counter `seen` (read by its last cluster view), so that a purge on
    /// another instance can tell it has heard. Nothing to do for a store no other process
    /// shares.
    async fn acknowledge_purges(&self, _seen: u64) -> Result<(), StoreError> {
        Ok(())
    }

    /// The other instances that look alive and have not yet acknowledged every purge counted
    /// so far: a purge answers once none is left, so that after its answer a purged key
    /// published again on any live instance is stored again. None for a store no other
    /// process shares.
    async fn instances_behind_on_purges(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}
