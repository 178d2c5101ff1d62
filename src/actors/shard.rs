//! `ShardActor`: owns the topics that hash to it and turns their events into group commits.
//!
//! Requests arrive from the supervisor as [`ShardMsg::Ingest`]. The shard buffers them and
//! commits when it holds `batch_max_events` events or when the oldest has waited `linger`,
//! whichever comes first. The linger is a one-shot timer tagged with an epoch, armed when the
//! first event enters an empty buffer; a timer whose epoch has passed is ignored, so a slow
//! commit never leaves a queue of stale ticks behind it.
//!
//! A commit (`commit.rs`) resolves duplicates inside the batch in memory, then writes the
//! distinct keys and the counter deltas in one store transaction. Only after it succeeds are
//! the stats actor told and each waiting request answered with the outcome of each of its
//! events: a reply means committed. When the commit fails, every request of the batch gets a
//! retryable error (retrying is safe because the store deduplicates) and the shard schedules a
//! counter resync, because the failed commit may have landed after all.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::Mutex;
use tracing::{error, warn};

use super::chaos::{ChaosDice, InjectedPanic};
use super::commit::{
    plan_batch, resync_counters, CommitOutcome, Committer, GroupCommit, IngestReply, PendingRequest,
};
use super::config::BatchingConfig;
use super::fastpath::{KeyBudget, RecentKeys};
use super::stats::StatsMsg;
use crate::event::Event;
use crate::metrics::Metrics;
use crate::store::{ShardId, SharedStore};

/// The shard actor's behaviour.
pub struct ShardActor;

/// Messages of a shard.
pub enum ShardMsg {
    /// The linger timer of buffer generation `epoch` fired.
    FlushEpoch(u64),
    /// Re-read this shard's counter row, so that live counters include commits whose answer
    /// was lost (a timeout with unknown outcome, or a previous incarnation killed mid-commit).
    ResyncCounters,
    /// Events that all hash to this shard; answered after their commit.
    Ingest(Vec<Event>, IngestReply),
}

/// Start-up arguments.
pub struct ShardArgs {
    /// This shard's index, stable across restarts.
    pub shard: ShardId,
    /// Where batches are committed.
    pub store: SharedStore,
    /// Receives a delta after each commit.
    pub stats: ActorRef<StatsMsg>,
    /// Group-commit knobs.
    pub batching: BatchingConfig,
    /// Fault injection (off unless an operator turns it on).
    pub chaos: ChaosDice,
    /// Held by every commit of this shard index, across incarnations: a restarted shard's first
    /// commit waits for the commit its killed predecessor left running, so commits of one shard
    /// never overlap and, within a topic, `seq` keeps following commit order.
    pub commit_gate: Arc<Mutex<()>>,
    /// When to re-read the counter row after a start or a failure: longer than any store
    /// operation can still be running (the store timeout bounds them, also on the server side).
    pub resync_delay: Duration,
    /// The app's metrics registry (fast-path hits are counted per shard).
    pub metrics: Metrics,
    /// The fast path's key budget, shared by every shard.
    pub fastpath_budget: KeyBudget,
}

/// A shard's buffer and collaborators.
pub struct ShardState {
    shard: ShardId,
    store: SharedStore,
    stats: ActorRef<StatsMsg>,
    batching: BatchingConfig,
    pending: Vec<PendingRequest>,
    pending_events: usize,
    /// Generation of the buffer; bumped by every commit so older linger timers are ignored.
    epoch: u64,
    chaos: ChaosDice,
    commit_gate: Arc<Mutex<()>>,
    resync_delay: Duration,
    /// Whether a [`ShardMsg::ResyncCounters`] is already scheduled.
    resync_scheduled: bool,
    /// Keys this shard saw committed (see [`super::fastpath`]).
    recent: RecentKeys,
    metrics: Metrics,
}

impl Actor for ShardActor {
    type Msg = ShardMsg;
    type State = ShardState;
    type Arguments = ShardArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ShardArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let recent = RecentKeys::new(args.fastpath_budget);
        Ok(ShardState {
            shard: args.shard,
            store: args.store,
            stats: args.stats,
            batching: args.batching,
            pending: Vec::new(),
            pending_events: 0,
            epoch: 0,
            chaos: args.chaos,
            commit_gate: args.commit_gate,
            resync_delay: args.resync_delay,
            resync_scheduled: false,
            recent,
            metrics: args.metrics,
        })
    }

    /// A fresh shard re-reads its counter row once, `resync_delay` after it starts: whoever ran
    /// this shard before (an incarnation killed in this process, or a whole process killed with
    /// `kill -9`) may have left a commit running in the database that the counters loaded at
    /// start could not see. PostgreSQL finishes such a statement even though its client is gone.
    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut ShardState,
    ) -> Result<(), ActorProcessingErr> {
        state.schedule_resync(&myself);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: ShardMsg,
        state: &mut ShardState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ShardMsg::Ingest(events, reply) => state.enqueue(&myself, events, reply).await,
            ShardMsg::FlushEpoch(epoch) if epoch == state.epoch => {
                state.commit_pending(&myself).await
            }
            ShardMsg::FlushEpoch(_stale) => {}
            ShardMsg::ResyncCounters => state.resync(&myself).await,
        }
        Ok(())
    }

    /// On a graceful stop (drain), whatever is still buffered is committed and answered.
    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut ShardState,
    ) -> Result<(), ActorProcessingErr> {
        state.commit_pending(&myself).await;
        Ok(())
    }
}

impl ShardState {
    async fn enqueue(
        &mut self,
        myself: &ActorRef<ShardMsg>,
        events: Vec<Event>,
        reply: IngestReply,
    ) {
        let buffer_was_empty = self.pending.is_empty();
        self.pending_events += events.len();
        self.pending.push(PendingRequest { events, reply });
        if self.pending_events >= self.batching.max_events {
            self.commit_pending(myself).await;
        } else if buffer_was_empty {
            let epoch = self.epoch;
            myself.send_after(self.batching.linger, move || ShardMsg::FlushEpoch(epoch));
        }
    }

    /// Commits the buffer and answers every request in it.
    ///
    /// The commit runs in a task of its own, which this handler awaits: if the shard is killed
    /// meanwhile, the task still finishes, so a commit that reached the database is always
    /// reported to the stats actor and answered. A panic inside the task is re-raised here, so
    /// that the shard fails and its supervisor restarts it.
    async fn commit_pending(&mut self, myself: &ActorRef<ShardMsg>) {
        if self.pending.is_empty() {
            return;
        }
        let requests = std::mem::take(&mut self.pending);
        let received = std::mem::take(&mut self.pending_events) as u64;
        self.epoch += 1;
        self.run_commit(myself, requests, received).await;
    }

    /// Runs one group commit and, when its outcome is unknown, schedules a resync so that live
    /// counters catch up with the store.
    async fn run_commit(
        &mut self,
        myself: &ActorRef<ShardMsg>,
        requests: Vec<PendingRequest>,
        received: u64,
    ) {
        let injected = self.chaos.roll();
        if injected == InjectedPanic::BeforeCommit {
            panic!(
                "chaos: shard {} panics before committing {received} events",
                self.shard
            );
        }
        let plan = plan_batch(&requests, &self.recent);
        let gate = self.commit_gate.clone().lock_owned().await;
        let group = GroupCommit {
            committer: Committer {
                shard: self.shard,
                store: self.store.clone(),
                stats: self.stats.clone(),
                metrics: self.metrics.clone(),
            },
            requests,
            plan,
            received,
            panic_after_commit: injected == InjectedPanic::AfterCommit,
            gate,
        };
        let outcome = match tokio::spawn(group.run()).await {
            Ok(outcome) => outcome,
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            Err(join_error) => {
                error!(shard = self.shard, error = %join_error, "commit task vanished");
                CommitOutcome {
                    committed: Vec::new(),
                    uncertain: true,
                }
            }
        };
        if outcome.uncertain {
            self.schedule_resync(myself);
        }
        // Only now are these keys known to be committed (new or not, they are all stored).
        for event in &outcome.committed {
            self.recent.insert(event.key());
        }
    }

    /// Re-reads the counter row (see [`resync_counters`]); tries again later if the store
    /// cannot answer now.
    async fn resync(&mut self, myself: &ActorRef<ShardMsg>) {
        self.resync_scheduled = false;
        let gate = self.commit_gate.clone();
        if let Err(err) = resync_counters(self.shard, &self.store, &self.stats, gate).await {
            warn!(shard = self.shard, error = %err, "counter resync failed, will retry");
            self.schedule_resync(myself);
        }
    }

    fn schedule_resync(&mut self, myself: &ActorRef<ShardMsg>) {
        if !self.resync_scheduled {
            self.resync_scheduled = true;
            myself.send_after(self.resync_delay, || ShardMsg::ResyncCounters);
        }
    }
}

#[cfg(test)]
mod tests;
