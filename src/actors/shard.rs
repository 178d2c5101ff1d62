//! `ShardActor`: owns the topics that hash to it and turns their events into group commits.
//!
//! Requests arrive from the supervisor as [`ShardMsg::Ingest`]. The shard buffers them; the
//! buffer becomes *due* when it holds `batch_max_events` events or when its oldest event has
//! waited `linger`, whichever comes first, and a due buffer is committed as soon as one of the
//! shard's commit slots is free (`commits_in_flight`, see `slots.rs`). So commits are
//! pipelined: while one waits for the disk, the next batch is already on its way, and a
//! request waits for its own commit rather than for the one ahead of it plus a fresh linger.
//! The linger is a one-shot timer tagged with an epoch, armed when the first event enters an
//! empty buffer; a timer whose epoch has passed is ignored.
//!
//! A commit (`commit.rs`) resolves duplicates inside the batch in memory, then writes the
//! distinct keys and the counter deltas in one store transaction. It runs in a task of its
//! own, which answers every waiting request (a reply means committed) and then reports back
//! with [`ShardMsg::Committed`]: the keys now known to be stored feed the fast path, and a
//! panic inside the task is re-raised in the shard, so that the shard fails and its supervisor
//! restarts it. If the shard is killed meanwhile, the task still finishes and answers. When a
//! commit fails, every request of the batch gets a retryable error (retrying is safe because
//! the store deduplicates) and the shard schedules a counter resync, because the failed commit
//! may have landed after all.
//!
//! Overlapping commits keep every ordering guarantee because the store orders same-topic
//! commits itself (PostgreSQL: per-topic advisory locks held to commit; embedded: one writer
//! thread), and the stats actor keeps the newest counter row it hears of, whatever the order.

use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::warn;

use super::chaos::{ChaosDice, InjectedPanic};
use super::commit::{
    plan_batch, resync_counters, CommitOutcome, Committer, GroupCommit, IngestReply, PendingRequest,
};
use super::config::BatchingConfig;
use super::fastpath::{KeyBudget, RecentKeys};
use super::slots::CommitSlots;
use super::stats::StatsMsg;
use crate::event::Event;
use crate::metrics::Metrics;
use crate::store::{ShardId, SharedStore};

/// The shard actor's behaviour.
pub struct ShardActor;

/// What a commit task reports: its outcome, or the payload of the panic that ended it.
pub type CommitEnded = Result<CommitOutcome, Box<dyn Any + Send>>;

/// Messages of a shard.
pub enum ShardMsg {
    /// The linger timer of buffer generation `epoch` fired.
    FlushEpoch(u64),
    /// Re-read this shard's counter row, so that live counters include commits whose answer
    /// was lost (a timeout with unknown outcome, or a previous incarnation killed mid-commit).
    ResyncCounters,
    /// Events that all hash to this shard; answered after their commit.
    Ingest(Vec<Event>, IngestReply),
    /// One of this shard's commits ended: its requests are answered, unless its task panicked
    /// (they then see their reply port dropped, a retryable error).
    Committed(CommitEnded),
    /// The topic's rows were purged: forget its keys, and do not remember those of commits
    /// that may have started before the purge (answered once done).
    ForgetTopic(String, RpcReplyPort<()>),
    /// Another instance purged a topic (which one is not known here): forget every key, and
    /// remember none from commits that may have started before.
    ForgetEverything,
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
    /// Shared by every incarnation of this shard index: a restarted shard counts the commits
    /// its killed predecessor left running.
    pub commit_slots: CommitSlots,
    /// When to re-read the counter row after a start or a failure: longer than any store
    /// operation can still be running (the store timeout bounds them, also on the server side).
    pub resync_delay: Duration,
    /// The app's metrics registry (fast-path hits are counted per shard).
    pub metrics: Metrics,
    /// The fast path's key budget, shared by every shard.
    pub fastpath_budget: KeyBudget,
    /// How long the fast path trusts what it remembers (see [`RecentKeys::new`]).
    pub fastpath_trust: Option<Duration>,
}

/// A shard's buffer and collaborators.
pub struct ShardState {
    shard: ShardId,
    store: SharedStore,
    stats: ActorRef<StatsMsg>,
    batching: BatchingConfig,
    pending: Vec<PendingRequest>,
    pending_events: usize,
    /// Generation of the buffer; bumped whenever the buffer empties, so older linger timers
    /// are ignored.
    epoch: u64,
    /// The buffer waits only for a free commit slot (its linger passed, or it is full).
    due: bool,
    /// Commits this incarnation started that have not reported back yet.
    in_flight: usize,
    chaos: ChaosDice,
    commit_slots: CommitSlots,
    resync_delay: Duration,
    /// Whether a [`ShardMsg::ResyncCounters`] is already scheduled.
    resync_scheduled: bool,
    /// Keys this shard saw committed (see [`super::fastpath`]).
    recent: RecentKeys,
    /// Topics purged lately, and when this shard heard of it: a commit reporting within
    /// `resync_delay` after may have started before the purge, so its keys of the topic are
    /// not remembered (they may be gone).
    purged: HashMap<String, Instant>,
    /// When this shard last forgot every key, for the same reason.
    forgot_everything: Option<Instant>,
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
        let recent = RecentKeys::new(args.fastpath_budget, args.fastpath_trust);
        Ok(ShardState {
            shard: args.shard,
            store: args.store,
            stats: args.stats,
            batching: args.batching,
            pending: Vec::new(),
            pending_events: 0,
            epoch: 0,
            due: false,
            in_flight: 0,
            chaos: args.chaos,
            commit_slots: args.commit_slots,
            resync_delay: args.resync_delay,
            resync_scheduled: false,
            recent,
            purged: HashMap::new(),
            forgot_everything: None,
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
            ShardMsg::Ingest(events, reply) => state.enqueue(&myself, events, reply),
            ShardMsg::FlushEpoch(epoch) if epoch == state.epoch => state.due = true,
            ShardMsg::FlushEpoch(_stale) => {}
            ShardMsg::Committed(report) => state.committed(&myself, report),
            ShardMsg::ResyncCounters => state.resync(&myself).await,
            ShardMsg::ForgetTopic(topic, reply) => {
                state.recent.forget_topic(&topic);
                state.purged.insert(topic, Instant::now());
                let _ = reply.send(());
            }
            ShardMsg::ForgetEverything => {
                state.recent.forget_everything();
                state.forgot_everything = Some(Instant::now());
            }
        }
        state.commit_due(&myself).await;
        Ok(())
    }

    /// On a graceful stop (drain), whatever is still buffered is committed, and the stop waits
    /// until every commit of the shard has answered its requests.
    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut ShardState,
    ) -> Result<(), ActorProcessingErr> {
        while !state.pending.is_empty() {
            state.start_commit(&myself).await;
        }
        let _every_slot = state.commit_slots.all().await;
        Ok(())
    }
}

impl ShardState {
    fn enqueue(&mut self, myself: &ActorRef<ShardMsg>, events: Vec<Event>, reply: IngestReply) {
        if self.pending.is_empty() {
            let epoch = self.epoch;
            myself.send_after(self.batching.linger, move || ShardMsg::FlushEpoch(epoch));
        }
        self.pending_events += events.len();
        self.pending.push(PendingRequest { events, reply });
        if self.pending_events >= self.batching.max_events {
            self.due = true;
        }
    }

    /// Starts commits of the due buffer while this incarnation has free slots.
    async fn commit_due(&mut self, myself: &ActorRef<ShardMsg>) {
        while self.due && self.in_flight < self.commit_slots.count() {
            self.start_commit(myself).await;
        }
    }

    /// Takes up to `batch_max_events` events of whole requests from the buffer (at least one
    /// request) and commits them in a task of their own, which reports back with
    /// [`ShardMsg::Committed`]. Waits for a slot first when a predecessor's commits hold them.
    async fn start_commit(&mut self, myself: &ActorRef<ShardMsg>) {
        let (requests, received) = self.take_batch();
        if requests.is_empty() {
            return;
        }
        let injected = self.chaos.roll();
        if injected == InjectedPanic::BeforeCommit {
            panic!(
                "chaos: shard {} panics before committing {received} events",
                self.shard
            );
        }
        let plan = plan_batch(&requests, &self.recent);
        let slot = self.commit_slots.one().await;
        self.in_flight += 1;
        let group = GroupCommit {
            committer: Committer {
                shard: self.shard,
                store: self.store.clone(),
                stats: self.stats.clone(),
                metrics: self.metrics.clone(),
            },
            requests,
            plan,
            received: received as u64,
            panic_after_commit: injected == InjectedPanic::AfterCommit,
            slot,
        };
        let shard = myself.clone();
        tokio::spawn(async move {
            let report = AssertUnwindSafe(group.run()).catch_unwind().await;
            // A killed shard is gone: its commit was answered all the same.
            let _ = shard.send_message(ShardMsg::Committed(report));
        });
    }

    fn take_batch(&mut self) -> (Vec<PendingRequest>, usize) {
        let mut taken_events = 0;
        let mut taken = 0;
        for request in &self.pending {
            if taken > 0 && taken_events + request.events.len() > self.batching.max_events {
                break;
            }
            taken_events += request.events.len();
            taken += 1;
        }
        let requests: Vec<PendingRequest> = self.pending.drain(..taken).collect();
        self.pending_events -= taken_events;
        if self.pending.is_empty() {
            // The next event starts a new buffer with a linger of its own.
            self.due = false;
            self.epoch += 1;
        }
        (requests, taken_events)
    }

    /// A commit task ended: feeds the fast path, schedules a resync when the outcome is
    /// unknown, and re-raises a panic of the task so that the supervisor restarts this shard.
    fn committed(&mut self, myself: &ActorRef<ShardMsg>, report: CommitEnded) {
        debug_assert!(
            self.in_flight > 0,
            "a commit reported that this shard did not start"
        );
        self.in_flight = self.in_flight.saturating_sub(1);
        let outcome = match report {
            Ok(outcome) => outcome,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        if outcome.uncertain {
            self.schedule_resync(myself);
        }
        // Only now are these keys known to be committed (new or not, they are all stored).
        let window = self.resync_delay;
        self.purged.retain(|_, heard| heard.elapsed() < window);
        if self
            .forgot_everything
            .is_some_and(|heard| heard.elapsed() < window)
        {
            return;
        }
        // With retention, a key the store already held may have been stored as long ago as
        // the retention: its row can go at any moment, so only keys inserted now (their row
        // younger than the fast path's trust window) are remembered.
        let expires = self.recent.trusts_for_a_while();
        for (event, inserted_now) in &outcome.committed {
            if (*inserted_now || !expires) && !self.purged.contains_key(&event.topic) {
                self.recent.insert(event.key());
            }
        }
    }

    /// Re-reads the counter row (see [`resync_counters`]); tries again later if the store
    /// cannot answer now.
    async fn resync(&mut self, myself: &ActorRef<ShardMsg>) {
        self.resync_scheduled = false;
        if let Err(err) =
            resync_counters(self.shard, &self.store, &self.stats, &self.commit_slots).await
        {
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
