//! The [`Store`]: every operation the rest of the program asks of durable storage, and the
//! contract each backend keeps (checked by `tests/store_conformance` on both backends), split
//! by concern into one trait each, in this file:
//!
//! - [`Backend`]: the backend's name, its time limit (kept with [`bounded`]), readiness;
//! - [`Ingest`]: group commits and the counters they keep;
//! - [`Reads`]: the `GET /events` listing and the live tail's feed;
//! - [`Pruning`]: deleting expired and purged rows, counted;
//! - [`Cluster`]: what every instance sharing the store committed, and how a purge hears that
//!   the others forgot its keys.
//!
//! A backend implements each part; `Store` is all of them at once, for the callers that hold
//! one [`SharedStore`] (the actors and the HTTP layer).

use std::future::Future;
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
use crate::retention::RuledTopics;

/// Every concern of the storage contract in one trait, implemented by whatever implements
/// them all. Implementations are cheap to share (`Arc`).
pub trait Store: Ingest + Reads + Pruning + Cluster {}

impl<T: Ingest + Reads + Pruning + Cluster> Store for T {}

/// A store shared by the actors and the HTTP layer.
pub type SharedStore = Arc<dyn Store>;

// ---- Backend ---------------------------------------------------------------------------------
// [`Backend`]: what every part of the storage contract builds on: the backend's name, the time
// limit every operation keeps ([`bounded`] keeps it), and whether the store can serve right now.
// The other parts ([`Ingest`], [`Reads`], [`Pruning`], [`Cluster`]) extend it, so the time limit
// below binds each of their operations.

/// A storage backend as a whole.
///
/// - no operation outlives [`Backend::operation_timeout`], on the client side or the server
///   side.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Short backend name for logs and `/stats`, e.g. `"postgres"`.
    fn backend(&self) -> &'static str;

    /// The longest any operation may run, including a statement the server keeps running after
    /// its client gave up. Past twice this, a commit whose outcome was unknown has ended either
    /// way, so its shard can re-read its counter row ([`Ingest::own_counters`]) and
    /// trust it.
    fn operation_timeout(&self) -> Duration;

    /// Succeeds when the store can serve reads and writes right now.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Runs a store operation under `timeout`, so a hung database or a stuck disk costs a bounded
/// wait. On timeout the operation's effect is unknown (a commit may still land); the error is
/// transient, so callers treat it as retryable.
pub async fn bounded<T>(
    timeout: Duration,
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, operation)
        .await
        .unwrap_or_else(|_| Err(StoreError::timed_out(timeout)))
}

// ---- Ingest ----------------------------------------------------------------------------------
// [`Ingest`]: how the shards' group commits reach the store, and the counters they keep: what a
// shard re-reads to resync and what the stats actor loads when it starts. The heart of "new or
// duplicate": whatever a commit reports new is new exactly once.

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

    /// Inserts the candidates that are absent, exactly as [`Ingest::commit`] does, but leaves
    /// every counter row alone; returns which candidates were new. Only `aggregator bench
    /// ceiling --without-counters` calls it: the naive durable design (one plain commit per
    /// event) that group commit is measured against. A store that cannot do it refuses.
    async fn commit_uncounted(&self, _batch: CommitBatch<'_>) -> Result<Vec<bool>, StoreError> {
        Err(StoreError::fatal(format!(
            "the {} store cannot commit without counters",
            self.backend()
        )))
    }

    /// This process's counter row of `shard` as committed now (zeros if it has none): what a
    /// shard re-reads after a commit with an unknown outcome, or after it starts.
    async fn own_counters(&self, shard: ShardId) -> Result<ShardCounters, StoreError>;

    /// Reads the persisted counters and the list of topics.
    async fn load_counters(&self) -> Result<StoredTotals, StoreError>;
}

// ---- Reads -----------------------------------------------------------------------------------
// [`Reads`]: reading stored events back, as the `GET /events` listing pages them and as the live
// tail follows them (the follow order is defined in `store/feed.rs`), and the signal that wakes a
// tail when there may be more.

/// Listing and the live feed.
///
/// - within a topic, `query` returns events in commit order (the `seq` column).
#[async_trait]
pub trait Reads: Backend {
    /// Lists stored events in `(topic, seq)` order. Every filter, `topic_prefixes` included,
    /// applies before the page is cut, so a page is short only when nothing matches after it.
    async fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError>;

    /// The next events after `query.after` in follow order (see `store/feed.rs`), only those
    /// that no commit still under way can precede, and only of topics inside
    /// `query.topic_prefixes`. Examines at most [`FollowQuery::scan_rows`] rows, matching or
    /// not, and reports in [`FollowPage::scanned_to`] how far it looked: a follower resumes
    /// strictly after it, so rows that did not match are not read again.
    async fn follow(&self, query: &FollowQuery) -> Result<FollowPage, StoreError>;

    /// The position after everything followable now, in one topic or across all: where a live
    /// tail that wants only new events starts.
    async fn feed_end(&self, topic: Option<&str>) -> Result<FeedPosition, StoreError>;

    /// Changes whenever the store may hold events a follower has not seen: after this
    /// process's commits and, on PostgreSQL, after other instances' (LISTEN/NOTIFY).
    fn commit_signal(&self) -> tokio::sync::watch::Receiver<u64>;
}

// ---- Pruning ---------------------------------------------------------------------------------
// [`Pruning`]: what the pruner asks of the store: bounded deletions of expired and purged rows,
// each counted as it happens, and the walk over topics that finds them. The vocabulary of a
// deletion (requests, reports, counters) is in `store/removal.rs`; the sweep's request and
// report are below, after the trait.

/// Deleting rows.
///
/// - `remove` deletes rows and counts them (`expired` or `purged`) atomically, so after any
///   crash the rows stored equal `unique_processed - expired - purged`.
#[async_trait]
pub trait Pruning: Backend {
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
}

// The sweep of the default retention: the expired rows of every topic no rule covers, in commit
// order (the order of [`FeedPosition`]). Rows of different topics share pages in the order they
// were committed, so deleting in that order dirties a few pages per thousand rows, where one
// topic's rows are spread over hundreds (measured, DESIGN.md "Retention").

/// One bounded sweep of the default retention: the next rows in commit order after `after`
/// (the order of [`FeedPosition`]), of which those due and not covered by a rule are deleted.
#[derive(Debug, Clone, Copy)]
pub struct SweepRequest<'a> {
    /// Where this sweep starts (strictly after); [`FeedPosition::START`] at first.
    pub after: FeedPosition,
    /// The default retention, by the store's clock.
    pub older_than: Duration,
    /// Topics left alone: a rule, not the default, decides their retention.
    pub except: &'a RuledTopics,
    /// At most this many rows examined, deleted or not.
    pub limit: u32,
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SweepReport {
    /// Rows deleted, lag, counters, and whether another instance is sweeping right now
    /// (PostgreSQL: then nothing was read).
    pub removal: RemoveReport,
    /// Where the next sweep starts: never past a swept row that is not yet due, so a position
    /// only skips rows that are gone or that a rule covers.
    pub next: FeedPosition,
    /// Whether the sweep reached a row not yet due, or the last row: the rest of this walk has
    /// nothing for it.
    pub finished: bool,
}

// ---- Cluster ---------------------------------------------------------------------------------
// [`Cluster`]: the instances sharing one store: this instance's heartbeat and what every instance
// committed (for a `/stats` that each of them answers the same way), and how a purge learns that
// the other instances forgot the keys it deleted. A store one process owns is a cluster of one,
// with nothing to acknowledge.

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
