//! What a data node holds of the aggregator's work, read straight from that node (not through
//! the aggregator): the stored event keys, the row count and the persisted counters.

use std::collections::HashSet;

use aggregator::client::Key;

use crate::cluster::{HaCluster, Node};
use crate::common::db;

/// The persisted counters summed over every shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistedCounters {
    pub received: u64,
    pub unique: u64,
    pub duplicate: u64,
}

/// Every `(topic, event_id)` in `events` on `node`.
pub async fn stored_keys(cluster: &HaCluster, node: Node) -> HashSet<Key> {
    db::stored_keys(&cluster.client(node).await).await
}

/// `count(*)` of `events` on `node`.
pub async fn count_rows(cluster: &HaCluster, node: Node) -> u64 {
    db::count_rows(&cluster.client(node).await).await
}

/// The persisted counters of `node`, summed over every shard.
pub async fn persisted_counters(cluster: &HaCluster, node: Node) -> PersistedCounters {
    let (received, unique, duplicate) = db::persisted_counters(&cluster.client(node).await).await;
    PersistedCounters {
        received,
        unique,
        duplicate,
    }
}
