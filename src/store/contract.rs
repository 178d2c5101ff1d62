//! The [`Store`] trait: every operation the rest of the program asks of durable storage, and
//! the contract each backend keeps (checked by `tests/store_conformance` on both backends).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::error::StoreError;
use super::feed::{FeedPosition, FollowPage, FollowQuery};
use super::model::{
    ClusterView, CommitBatch, CommitReport, EventPage, EventQuery, ShardCounters, ShardId,
    StoredTotals,
};
use super::removal::{RemoveReport, RemoveRequest};
use super::sweep::{SweepReport, SweepRequest};

/// The storage contract shared by every backend. Implementations are cheap to share (`Arc`).
///
/// - `commit` is atomic: the new rows and the counter deltas are written in one transaction, so
///   after any crash `unique_processed` equals the number of stored rows.
/// - a key is reported new by exactly one commit, ever.
/// - within a topic, `query` returns events in commit order (the `seq` column).
/// - `remove` deletes rows and counts them (`expired` or `purged`) atomically, so after any
///   crash the rows stored equal `unique_processed - expired - purged`.
/// - no operation outlives [`Store::operation_timeout`], on the client side or the server side.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short backend name for logs and `/stats`, e.g. `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Whether every write goes through one writer (the embedded store's thread), so that any
    /// time a deletion takes is time commits wait; PostgreSQL writes on several connections.
    fn has_one_writer(&self) -> bool {
        false
    }

    /// The longest any operation may run, including a statement the server keeps running after
    /// its client gave up. Past twice this, a commit whose outcome was unknown has ended either
    /// way, so its shard can re-read its counter row ([`Store::own_counters`]) and trust it.
    fn operation_timeout(&self) -> Duration;

    /// Inserts the candidates that are absent and adds the batch's counter deltas to the shard's
    /// counter row, atomically. Returns which candidates were new.
    async fn commit(&self, batch: CommitBatch<'_>) -> Result<CommitReport, StoreError>;

    /// This process's counter row of `shard` as committed now (zeros if it has none): what a
    /// shard re-reads after a commit with an unknown outcome, or after it starts.
    async fn own_counters(&self, shard: ShardId) -> Result<ShardCounters, StoreError>;

    /// Lists stored events in `(topic, seq)` order. Every filter, `topic_prefixes` included,
    /// applies before the page is cut, so a page is short only when nothing matches after it.
    async fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError>;

    /// Reads the persisted counters and the list of topics.
    async fn load_counters(&self) -> Result<StoredTotals, StoreError>;

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

    /// Succeeds when the store can serve reads and writes right now.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The next events after `query.after` in follow order (see `store/feed.rs`), only those
    /// that no commit still under way can precede, and only of topics inside
    /// `query.topic_prefixes`. Examines at most [`FollowQuery::scan_rows`] rows, matching or
    /// not, and reports in [`FollowPage::scanned_to`] how far it looked: a follower resumes
    /// strictly after it, so rows that did not match are not read again.
    async fn follow(&self, query: &FollowQuery) -> Result<FollowPage, StoreError>;

    /// The position after everything followable now, in one topic or across all: where a live
    /// tail that wants only new events starts.
    async fn feed_end(&self, topic: Option<&str>) -> Result<FeedPosition, StoreError>;

    /// Deletes some of the oldest rows of one topic (see [`RemoveRequest`]) and counts them in
    /// this instance's removal counter row, atomically.
    async fn remove(&self, request: RemoveRequest<'_>) -> Result<RemoveReport, StoreError>;

    /// Deletes the expired rows among the next ones in commit order (see [`SweepRequest`]) and
    /// counts them in this instance's removal counter row, atomically.
    async fn sweep(&self, request: SweepRequest<'_>) -> Result<SweepReport, StoreError>;

    /// Up to `limit` topics that may hold events, sorted, after `after` (from the first when
    /// `None`): what the pruner walks. May include topics whose events are all gone.
    async fn topics_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;

    /// Changes whenever the store may hold events a follower has not seen: after this
    /// process's commits and, on PostgreSQL, after other instances' (LISTEN/NOTIFY).
    fn commit_signal(&self) -> tokio::sync::watch::Receiver<u64>;
}

/// A store shared by the actors and the HTTP layer.
pub type SharedStore = Arc<dyn Store>;
