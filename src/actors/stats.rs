//! `StatsActor`: the one place live counters change.
//!
//! Shards cast a [`CommitDelta`] after every successful commit, *before* they answer the
//! requests of that commit; the HTTP layer asks for a [`StatsSnapshot`] with an RPC. Because a
//! mailbox is FIFO, a client that got its publish answer and then asks for `/stats` always sees
//! its own events counted. The actor loads the persisted totals in `pre_start`, so the counters
//! survive restarts exactly (they are written in the same transaction as the rows).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;

use crate::store::{ShardCounters, ShardId, SharedStore};

/// The stats actor's behaviour.
pub struct StatsActor;

/// What a shard reports after a commit.
#[derive(Debug, Clone)]
pub struct CommitDelta {
    /// The committing shard.
    pub shard: ShardId,
    /// Counter increments of the commit.
    pub counters: ShardCounters,
    /// Topics that gained stored events in this commit.
    pub topics: Vec<String>,
}

/// Messages of the stats actor.
pub enum StatsMsg {
    /// A shard committed a batch.
    Committed(CommitDelta),
    /// A shard was restarted by the supervisor.
    ShardRestarted(ShardId),
    /// Current figures.
    Snapshot(RpcReplyPort<StatsSnapshot>),
}

/// Start-up arguments.
pub struct StatsArgs {
    /// Where the persisted counters are read from.
    pub store: SharedStore,
    /// Number of shards, so that `/stats` lists every shard, including idle ones.
    pub shard_count: u32,
    /// When the application started; uptime survives a restart of this actor.
    pub started_at: Instant,
}

/// Live counters.
pub struct StatsState {
    per_shard: BTreeMap<ShardId, ShardStats>,
    topics: BTreeSet<String>,
    started_at: Instant,
}

/// Figures of one shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ShardStats {
    /// The shard's index.
    pub shard: ShardId,
    /// Its persisted counters.
    #[serde(flatten)]
    pub counters: ShardCounters,
    /// How many times the supervisor restarted it since the process started.
    pub restarts: u64,
}

/// A consistent view of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Sum over all shards.
    pub totals: ShardCounters,
    /// Every topic with at least one stored event, sorted.
    pub topics: Vec<String>,
    /// Time since the application started.
    pub uptime: Duration,
    /// Per-shard figures, by shard index.
    pub shards: Vec<ShardStats>,
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
        let mut per_shard: BTreeMap<ShardId, ShardStats> = (0..args.shard_count)
            .map(|shard| {
                (
                    shard,
                    ShardStats {
                        shard,
                        ..ShardStats::default()
                    },
                )
            })
            .collect();
        // Rows of shards beyond the current count (the tree was resized) still count in totals.
        for (shard, counters) in stored.shards {
            per_shard
                .entry(shard)
                .or_insert(ShardStats {
                    shard,
                    ..ShardStats::default()
                })
                .counters
                .add(counters);
        }
        Ok(StatsState {
            per_shard,
            topics: stored.topics.into_iter().collect(),
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
            StatsMsg::ShardRestarted(shard) => state.shard_entry(shard).restarts += 1,
            StatsMsg::Snapshot(reply) => {
                let _ = reply.send(state.snapshot());
            }
        }
        Ok(())
    }
}

impl StatsState {
    fn shard_entry(&mut self, shard: ShardId) -> &mut ShardStats {
        self.per_shard.entry(shard).or_insert(ShardStats {
            shard,
            ..ShardStats::default()
        })
    }

    fn record(&mut self, delta: CommitDelta) {
        self.shard_entry(delta.shard).counters.add(delta.counters);
        for topic in delta.topics {
            if !self.topics.contains(&topic) {
                self.topics.insert(topic);
            }
        }
    }

    fn snapshot(&self) -> StatsSnapshot {
        let mut totals = ShardCounters::default();
        for shard in self.per_shard.values() {
            totals.add(shard.counters);
        }
        StatsSnapshot {
            totals,
            topics: self.topics.iter().cloned().collect(),
            uptime: self.started_at.elapsed(),
            shards: self.per_shard.values().copied().collect(),
        }
    }
}
