//! What a data node holds of the aggregator's work, read straight from that node (not through
//! the aggregator): the stored event keys, the row count and the persisted counters.

use std::collections::HashSet;

use aggregator::client::Key;

use crate::cluster::{HaCluster, Node};

/// The persisted counters summed over every shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistedCounters {
    pub received: u64,
    pub unique: u64,
    pub duplicate: u64,
}

/// Every `(topic, event_id)` in `events` on `node`.
pub async fn stored_keys(cluster: &HaCluster, node: Node) -> HashSet<Key> {
    cluster
        .client(node)
        .await
        .query("SELECT topic, event_id FROM events", &[])
        .await
        .expect("read the stored keys")
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// `count(*)` of `events` on `node`.
pub async fn count_rows(cluster: &HaCluster, node: Node) -> u64 {
    let row = cluster
        .client(node)
        .await
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .expect("count the rows");
    row.get::<_, i64>(0) as u64
}

/// The persisted counters of `node`, summed over every shard.
pub async fn persisted_counters(cluster: &HaCluster, node: Node) -> PersistedCounters {
    let row = cluster
        .client(node)
        .await
        .query_one(
            "SELECT coalesce(sum(received), 0)::bigint, coalesce(sum(unique_processed), 0)::bigint,
                    coalesce(sum(duplicate_dropped), 0)::bigint FROM shard_counters",
            &[],
        )
        .await
        .expect("read the counters");
    let get = |index: usize| row.get::<_, i64>(index) as u64;
    PersistedCounters {
        received: get(0),
        unique: get(1),
        duplicate: get(2),
    }
}
