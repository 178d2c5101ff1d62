//! `StatsActor`: the one place live counters change.
//!
//! Shards cast a [`CommitDelta`] after every successful commit, *before* they answer the
//! requests of that commit; the HTTP layer asks for a [`StatsSnapshot`] or a page of topics
//! with an RPC, naming the topic prefixes its caller may see (the topics of the answer are
//! only those inside; `topics.rs` walks them). Because a mailbox is FIFO, a client that got
//! its publish answer and then asks for `/stats` always sees its own events counted. The
//! actor loads the persisted totals in `pre_start`, so the counters survive restarts exactly
//! (they are written in the same transaction as the rows).
//!
//! A delta carries the shard's counter row as it stands after the commit, not an increment.
//! The actor keeps the newest snapshot per shard, so a commit whose report never arrived (its
//! outcome was unknown to the client, or its shard was killed) is counted as soon as any later
//! commit of that shard reports, and reports arriving out of order cannot double-count.

mod topics;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;

use crate::event::TopicPrefixes;
use crate::store::{
    ClusterView, InstanceInfo, RemovalCounters, ShardCounters, ShardId, SharedStore,
};
use topics::TopicIndex;

/// The stats actor's behaviour.
pub struct StatsActor;

/// What a shard reports after a commit.
#[derive(Debug, Clone)]
pub struct CommitDelta {
    /// The committing shard.
    pub shard: ShardId,
    /// This process's counter row of the shard after the commit.
    pub counters_after: ShardCounters,
    /// Topics that gained stored events in this commit.
    pub topics: Vec<String>,
    /// Events of this commit answered "duplicate" by the fast path, without an index probe.
    pub fastpath_hits: u64,
}

/// Messages of the stats actor.
pub enum StatsMsg {
    /// A shard committed a batch.
    Committed(CommitDelta),
    /// The pruner deleted rows: this instance's removal counter row after it.
    Removed(RemovalCounters),
    /// A shard was restarted by the supervisor; `took` is from noticing its death to the new
    /// shard running.
    ShardRestarted {
        /// The restarted shard.
        shard: ShardId,
        /// How long the restart took.
        took: Duration,
    },
    /// Current figures, with the topics inside these prefixes (the counters are kept per
    /// shard, not per topic: they are always the whole store's).
    Snapshot(TopicPrefixes, RpcReplyPort<StatsSnapshot>),
    /// What every instance sharing the store has committed (from the cluster watcher).
    Cluster(ClusterView),
    /// Up to `limit` topics inside `prefixes` sorted after `after` (from the first when
    /// `None`).
    Topics {
        /// The last topic of the previous page.
        after: Option<String>,
        /// Page size: topics inside `prefixes` (a page is short only at the end).
        limit: usize,
        /// Only topics inside these (every topic when empty).
        prefixes: TopicPrefixes,
        /// Where the page goes.
        reply: RpcReplyPort<Vec<String>>,
    },
}

/// Most topics a [`StatsSnapshot`] lists; `topics_total` counts them all and `GET /topics`
/// pages through them, so `/stats` stays small however many topics exist.
pub const SNAPSHOT_TOPICS: usize = 1_000;

/// Start-up arguments.
pub struct StatsArgs {
    /// Where the persisted counters are read from.
    pub store: SharedStore,
    /// Number of shards, so that `/stats` lists every shard, including idle ones.
    pub shard_count: u32,
    /// When the application started; uptime survives a restart of this actor.
    pub started_at: Instant,
}

/// Live counters of one shard.
#[derive(Debug, Clone, Copy, Default)]
struct ShardTally {
    /// Rows written by other aggregator instances, as loaded at start.
    others: ShardCounters,
    /// Newest snapshot of this process's own row.
    own: ShardCounters,
    restarts: u64,
    fastpath_hits: u64,
}

/// How many recent restart durations are kept for the median.
const RESTART_SAMPLES: usize = 1024;

/// Live counters.
pub struct StatsState {
    per_shard: BTreeMap<ShardId, ShardTally>,
    /// Durations of the most recent shard restarts.
    restart_samples: VecDeque<Duration>,
    topics: TopicIndex,
    /// Every instance sharing the store, as of the last cluster view.
    instances: Vec<InstanceInfo>,
    /// Rows deleted by the other instances (as of the last cluster view) and by this one
    /// (its newest counter row), kept apart like the shards' counters.
    removals_others: RemovalCounters,
    removals_own: RemovalCounters,
    started_at: Instant,
}

/// Figures of one shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ShardStats {
    /// The shard's index.
    pub shard: ShardId,
    /// Its persisted counters.
    #[serde(flatten)]
    pub counters: ShardCounters,
    /// How many times the supervisor restarted it since the process started.
    pub restarts: u64,
    /// Duplicates it answered from memory since the process started.
    pub fastpath_hits: u64,
}

/// A consistent view of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Sum over all shards.
    pub totals: ShardCounters,
    /// Rows deleted by retention and purges, by every instance.
    pub removals: RemovalCounters,
    /// The first [`SNAPSHOT_TOPICS`] topics with at least one stored event, sorted, of those
    /// inside the prefixes the snapshot was asked for.
    pub topics: Vec<String>,
    /// How many topics inside the prefixes the snapshot was asked for have at least one
    /// stored event.
    pub topics_total: usize,
    /// Every instance sharing the store, as of the last cluster view.
    pub instances: Vec<InstanceInfo>,
    /// Time since the application started.
    pub uptime: Duration,
    /// Per-shard figures, by shard index.
    pub shards: Vec<ShardStats>,
    /// How long recent shard restarts took, when there were any.
    pub restart_latency: Option<RestartLatency>,
}

/// Median and maximum of recent shard restart durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartLatency {
    /// Restarts sampled (the most recent ones).
    pub samples: usize,
    /// Median duration.
    pub median: Duration,
    /// Longest duration.
    pub max: Duration,
}

impl Actor for StatsActor {
    type Msg = StatsMsg;
    type State = StatsState;
    type Arguments = StatsArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: StatsArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let stored = args.store.load_counters().await?;
        let mut per_shard: BTreeMap<ShardId, ShardTally> = (0..args.shard_count)
            .map(|shard| (shard, ShardTally::default()))
            .collect();
        // Rows of shards beyond the current count (the tree was resized) still count in totals.
        for row in stored.shards {
            let tally = per_shard.entry(row.shard).or_default();
            tally.others = row.total.saturating_sub(&row.own);
            tally.own = row.own;
        }
        let mut topics = TopicIndex::default();
        topics.extend(stored.topics);
        Ok(StatsState {
            per_shard,
            restart_samples: VecDeque::with_capacity(RESTART_SAMPLES),
            topics,
            instances: Vec::new(),
            removals_others: stored.removals.total.saturating_sub(&stored.removals.own),
            removals_own: stored.removals.own,
            started_at: args.started_at,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: StatsMsg,
        state: &mut StatsState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            StatsMsg::Committed(delta) => state.record(delta),
            StatsMsg::Removed(counters) => {
                if counters.is_newer_than(&state.removals_own) {
                    state.removals_own = counters;
                }
            }
            StatsMsg::Cluster(view) => state.merge_cluster(view),
            StatsMsg::ShardRestarted { shard, took } => state.record_restart(shard, took),
            StatsMsg::Snapshot(prefixes, reply) => {
                let _ = reply.send(state.snapshot(&prefixes));
            }
            StatsMsg::Topics {
                after,
                limit,
                prefixes,
                reply,
            } => {
                let _ = reply.send(state.topics.page(&prefixes, after.as_deref(), limit));
            }
        }
        Ok(())
    }
}

impl StatsState {
    fn record_restart(&mut self, shard: ShardId, took: Duration) {
        self.per_shard.entry(shard).or_default().restarts += 1;
        if self.restart_samples.len() == RESTART_SAMPLES {
            self.restart_samples.pop_front();
        }
        self.restart_samples.push_back(took);
    }

    fn restart_latency(&self) -> Option<RestartLatency> {
        let mut samples: Vec<Duration> = self.restart_samples.iter().copied().collect();
        samples.sort_unstable();
        let max = *samples.last()?;
        Some(RestartLatency {
            samples: samples.len(),
            median: samples[samples.len() / 2],
            max,
        })
    }

    fn record(&mut self, delta: CommitDelta) {
        let tally = self.per_shard.entry(delta.shard).or_default();
        if delta.counters_after.is_newer_than(&tally.own) {
            tally.own = delta.counters_after;
        }
        tally.fastpath_hits += delta.fastpath_hits;
        self.topics.extend(delta.topics);
    }

    /// Takes the other instances' counters from the store (this process's own row stays live
    /// from its commits unless the store has a newer one) and adds the topics they added.
    /// Computing "others" as total minus own, per shard and per read, is what keeps a restarted
    /// or added instance from being counted twice.
    fn merge_cluster(&mut self, view: ClusterView) {
        for row in view.shards {
            let tally = self.per_shard.entry(row.shard).or_default();
            tally.others = row.total.saturating_sub(&row.own);
            if row.own.is_newer_than(&tally.own) {
                tally.own = row.own;
            }
        }
        self.topics.extend(view.new_topics);
        self.instances = view.instances;
        self.removals_others = view.removals.total.saturating_sub(&view.removals.own);
        if view.removals.own.is_newer_than(&self.removals_own) {
            self.removals_own = view.removals.own;
        }
    }

    fn snapshot(&self, prefixes: &TopicPrefixes) -> StatsSnapshot {
        let mut totals = ShardCounters::default();
        let mut shards = Vec::with_capacity(self.per_shard.len());
        for (&shard, tally) in &self.per_shard {
            let mut counters = tally.others;
            counters.add(tally.own);
            totals.add(counters);
            shards.push(ShardStats {
                shard,
                counters,
                restarts: tally.restarts,
                fastpath_hits: tally.fastpath_hits,
            });
        }
        let mut removals = self.removals_others;
        removals.add(self.removals_own);
        StatsSnapshot {
            totals,
            removals,
            topics: self.topics.page(prefixes, None, SNAPSHOT_TOPICS),
            topics_total: self.topics.count(prefixes),
            instances: self.instances.clone(),
            uptime: self.started_at.elapsed(),
            shards,
            restart_latency: self.restart_latency(),
        }
    }
}

#[cfg(test)]
mod tests;
