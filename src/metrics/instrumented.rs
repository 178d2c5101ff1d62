//! [`InstrumentedStore`]: wraps any backend and records commit sizes, commit latency and
//! failed operations in the app's [`Metrics`], so that neither the backends nor the shards need
//! to know about metrics. The app wraps the store once; everybody else sees a plain
//! [`SharedStore`].

use std::time::Instant;

use async_trait::async_trait;

use super::registry::{Metrics, StoreOp};
use crate::store::{
    Backend, Cluster, ClusterView, CommitBatch, CommitReport, EventPage, EventQuery, FeedPosition,
    FollowPage, FollowQuery, Ingest, Pruning, Reads, RemoveReport, RemoveRequest, ShardCounters,
    ShardId, SharedStore, StoreError, StoredTotals, SweepReport, SweepRequest,
};

/// A store that reports to a [`Metrics`] registry and otherwise behaves as the one it wraps.
pub struct InstrumentedStore {
    inner: SharedStore,
    metrics: Metrics,
}

impl InstrumentedStore {
    /// Wraps `inner`.
    pub fn new(inner: SharedStore, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }

    fn count_error<T>(&self, op: StoreOp, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_err() {
            self.metrics.store_error(op);
        }
        result
    }
}

#[async_trait]
impl Backend for InstrumentedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn operation_timeout(&self) -> std::time::Duration {
        self.inner.operation_timeout()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let result = self.inner.ping().await;
        self.count_error(StoreOp::Ping, result)
    }
}

#[async_trait]
impl Ingest for InstrumentedStore {
    fn has_one_writer(&self) -> bool {
        self.inner.has_one_writer()
    }

    async fn commit(&self, batch: CommitBatch<'_>) -> Result<CommitReport, StoreError> {
        let received = batch.received;
        let started = Instant::now();
        let result = self.inner.commit(batch).await;
        self.metrics.commit_finished(received, started.elapsed());
        self.count_error(StoreOp::Commit, result)
    }

    async fn commit_uncounted(&self, batch: CommitBatch<'_>) -> Result<Vec<bool>, StoreError> {
        let result = self.inner.commit_uncounted(batch).await;
        self.count_error(StoreOp::Commit, result)
    }

    async fn own_counters(&self, shard: ShardId) -> Result<ShardCounters, StoreError> {
        let result = self.inner.own_counters(shard).await;
        self.count_error(StoreOp::OwnCounters, result)
    }

    async fn load_counters(&self) -> Result<StoredTotals, StoreError> {
        let result = self.inner.load_counters().await;
        self.count_error(StoreOp::LoadCounters, result)
    }
}

#[async_trait]
impl Reads for InstrumentedStore {
    async fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let result = self.inner.query(query).await;
        self.count_error(StoreOp::Query, result)
    }

    async fn follow(&self, query: &FollowQuery) -> Result<FollowPage, StoreError> {
        let result = self.inner.follow(query).await;
        self.count_error(StoreOp::Follow, result)
    }

    async fn feed_end(&self, topic: Option<&str>) -> Result<FeedPosition, StoreError> {
        let result = self.inner.feed_end(topic).await;
        self.count_error(StoreOp::Follow, result)
    }

    fn commit_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.commit_signal()
    }
}

#[async_trait]
impl Pruning for InstrumentedStore {
    async fn remove(&self, request: RemoveRequest<'_>) -> Result<RemoveReport, StoreError> {
        let result = self.inner.remove(request).await;
        self.count_error(StoreOp::Remove, result)
    }

    async fn sweep(&self, request: SweepRequest<'_>) -> Result<SweepReport, StoreError> {
        let result = self.inner.sweep(request).await;
        self.count_error(StoreOp::Remove, result)
    }

    async fn topics_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let result = self.inner.topics_after(after, limit).await;
        self.count_error(StoreOp::TopicsAfter, result)
    }
}

#[async_trait]
impl Cluster for InstrumentedStore {
    async fn cluster_view(&self, topics_after: i64) -> Result<ClusterView, StoreError> {
        let result = self.inner.cluster_view(topics_after).await;
        self.count_error(StoreOp::ClusterView, result)
    }

    async fn acknowledge_purges(&self, seen: u64) -> Result<(), StoreError> {
        let result = self.inner.acknowledge_purges(seen).await;
        self.count_error(StoreOp::ClusterView, result)
    }

    async fn instances_behind_on_purges(&self) -> Result<Vec<String>, StoreError> {
        let result = self.inner.instances_behind_on_purges().await;
        self.count_error(StoreOp::ClusterView, result)
    }
}
