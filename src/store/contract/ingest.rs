//! [`Ingest`]: how the shards' group commits reach the store, and the counters they keep: what
//! a shard re-reads to resync and what the stats actor loads when it starts. The heart of "new
//! or duplicate": whatever a commit reports new is new exactly once.

use async_trait::async_trait;

use super::backend::Backend;
use crate::store::error::StoreError;
use crate::store::model::{CommitBatch, CommitReport, ShardCounters, ShardId, StoredTotals};

/// Commits and counters.
///
/// - `commit` is atomic: the new rows and the counter deltas are written in one transaction, so
///   after any crash `unique_processed` equals the number of stored rows.
/// - a key is reported new by exactly one commit, ever.
#[async_trait]
pub trait Ingest: Backend {
    /// Whether every write goes through one writer (the embedded store's thread), so that any
    /// time a deletion takes is time commits wait; PostgreSQL writes on several connections.
    fn has_one_writer(&self) -> bool {
        false
    }

    /// Inserts the candidates that are absent and adds the batch's counter deltas to the shard's
    /// counter row, atomically. Returns which candidates were new.
    async fn commit(&self, batch: CommitBatch<'_>) -> Result<CommitReport, StoreError>;

    /// This process's counter row of `shard` as committed now (zeros if it has none): what a
    /// shard re-reads after a commit with an unknown outcome, or after it starts.
    async fn own_counters(&self, shard: ShardId) -> Result<ShardCounters, StoreError>;

    /// Reads the persisted counters and the list of topics.
    async fn load_counters(&self) -> Result<StoredTotals, StoreError>;
}
