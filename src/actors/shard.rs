//! `ShardActor`: owns the topics that hash to it and turns their events into group commits.
//!
//! Requests arrive from the supervisor as [`ShardMsg::Ingest`]. The shard buffers them and
//! commits when it holds `batch_max_events` events or when the oldest has waited `linger`,
//! whichever comes first. The linger is a one-shot timer tagged with an epoch, armed when the
//! first event enters an empty buffer; a timer whose epoch has passed is ignored, so a slow
//! commit never leaves a queue of stale ticks behind it.
//!
//! A commit resolves duplicates inside the batch in memory, then writes the distinct keys and
//! the counter deltas in one store transaction. Only after it succeeds does the shard tell the
//! stats actor and answer each waiting request with the outcome of each of its events: a reply
//! means committed. When the commit fails, every request of the batch gets a retryable error;
//! retrying is safe because the store deduplicates.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tracing::{debug, error, warn};

use super::chaos::{ChaosDice, InjectedPanic};
use super::fastpath::{KeyBudget, RecentKeys};
use super::stats::{CommitDelta, StatsMsg};
use super::IngestError;
use crate::config::BatchConfig;
use crate::event::{Event, EventKey, Outcome};
use crate::metrics::Metrics;
use crate::store::{CommitBatch, ShardId, SharedStore};

/// The shard actor's behaviour.
pub struct ShardActor;

/// The answer to one ingest request: an outcome per event, in request order.
pub type IngestReply = RpcReplyPort<Result<Vec<Outcome>, IngestError>>;

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
    pub batching: BatchConfig,
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

/// A request waiting for the next commit.
struct PendingRequest {
    events: Vec<Event>,
    reply: IngestReply,
}

/// Where an event's outcome comes from once the batch is committed.
#[derive(Clone, Copy)]
enum Slot {
    /// The first occurrence of its key in the batch: new if the store inserted candidate `i`.
    Candidate(usize),
    /// A repeat of a key earlier in the same batch: a duplicate whatever the store says.
    RepeatInBatch,
    /// The fast path saw this key committed: a duplicate without an index probe. It is still
    /// acknowledged only after the batch's commit, whose counter update counts it.
    KnownCommitted,
}

/// Which events of a batch go to the store, and where each event's outcome comes from.
struct BatchPlan {
    /// `(request, event)` positions of the candidates, in batch order.
    candidates: Vec<(usize, usize)>,
    /// Per request, per event.
    slots: Vec<Vec<Slot>>,
}

/// A shard's buffer and collaborators.
pub struct ShardState {
    shard: ShardId,
    store: SharedStore,
    stats: ActorRef<StatsMsg>,
    batching: BatchConfig,
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
            ShardMsg::ResyncCounters => {
                state.resync_scheduled = false;
                state.run_commit(&myself, Vec::new(), 0).await;
            }
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
        if self.pending_events >= self.batching.batch_max_events {
            self.commit_pending(myself).await;
        } else if buffer_was_empty {
            let epoch = self.epoch;
            myself.send_after(self.batching.linger(), move || ShardMsg::FlushEpoch(epoch));
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

    /// Runs one group commit (an empty one just re-reads the counter row) and, when its outcome
    /// is unknown, schedules a resync so that live counters catch up with the store.
    async fn run_commit(
        &mut self,
        myself: &ActorRef<ShardMsg>,
        requests: Vec<PendingRequest>,
        received: u64,
    ) {
        let injected = if requests.is_empty() {
            InjectedPanic::None
        } else {
            self.chaos.roll()
        };
        if injected == InjectedPanic::BeforeCommit {
            panic!(
                "chaos: shard {} panics before committing {received} events",
                self.shard
            );
        }
        let plan = plan_batch(&requests, &self.recent);
        let gate = self.commit_gate.clone().lock_owned().await;
        let group = GroupCommit {
            shard: self.shard,
            store: self.store.clone(),
            stats: self.stats.clone(),
            requests,
            plan,
            received,
            panic_after_commit: injected == InjectedPanic::AfterCommit,
            metrics: self.metrics.clone(),
            _gate: gate,
        };
        let committed = match tokio::spawn(group.run()).await {
            Ok(committed) => committed,
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            Err(join_error) => {
                error!(shard = self.shard, error = %join_error, "commit task vanished");
                None
            }
        };
        let Some(committed_candidates) = committed else {
            self.schedule_resync(myself);
            return;
        };
        // Only now are these keys known to be committed (new or not, they are all stored).
        for event in &committed_candidates {
            self.recent.insert(event.key());
        }
    }

    fn schedule_resync(&mut self, myself: &ActorRef<ShardMsg>) {
        if !self.resync_scheduled {
            self.resync_scheduled = true;
            myself.send_after(self.resync_delay, || ShardMsg::ResyncCounters);
        }
    }
}

/// One group commit, owned by the task that performs it.
struct GroupCommit {
    shard: ShardId,
    store: SharedStore,
    stats: ActorRef<StatsMsg>,
    requests: Vec<PendingRequest>,
    plan: BatchPlan,
    received: u64,
    /// Chaos: panic once the commit is durable but before anyone is answered.
    panic_after_commit: bool,
    metrics: Metrics,
    /// Keeps the shard's commits serial until this one is reported (see [`ShardArgs`]).
    _gate: OwnedMutexGuard<()>,
}

impl GroupCommit {
    /// Commits, reports to the stats actor, answers every request. Returns the committed
    /// candidates (for the fast path); `None` when the commit failed, its outcome unknown, and
    /// every request was told to retry.
    async fn run(self) -> Option<Vec<Event>> {
        let Self {
            shard,
            store,
            stats,
            requests,
            plan: BatchPlan { candidates, slots },
            received,
            panic_after_commit,
            metrics,
            _gate,
        } = self;
        let candidate_positions = candidates;
        let candidates: Vec<&Event> = candidate_positions
            .iter()
            .map(|&(request, event)| &requests[request].events[event])
            .collect();
        let batch = CommitBatch {
            shard,
            candidates: &candidates,
            received,
        };
        let report = match store.commit(batch).await {
            Ok(report) => report,
            Err(err) => {
                warn!(shard, events = received, error = %err, "commit failed, asking clients to retry");
                for request in requests {
                    let _ = request
                        .reply
                        .send(Err(IngestError::CommitFailed(err.to_string())));
                }
                return None;
            }
        };
        if panic_after_commit {
            panic!(
                "chaos: shard {shard} panics after committing {received} events, before answering"
            );
        }

        let mut new_topics: Vec<String> = Vec::new();
        for (candidate, _) in candidates
            .iter()
            .zip(&report.is_new)
            .filter(|(_, &new)| new)
        {
            if !new_topics.contains(&candidate.topic) {
                new_topics.push(candidate.topic.clone());
            }
        }
        debug!(
            shard,
            events = received,
            new = report.new_count(),
            "committed batch"
        );
        // Tell the stats actor before answering anyone, so that /stats read after an answer
        // already includes it (mailboxes are FIFO).
        let fastpath_hits = slots
            .iter()
            .flatten()
            .filter(|slot| matches!(slot, Slot::KnownCommitted))
            .count() as u64;
        metrics.fastpath_hits(shard, fastpath_hits);
        let delta = CommitDelta {
            shard,
            counters_after: report.counters_after,
            topics: new_topics,
            fastpath_hits,
        };
        if let Err(err) = stats.send_message(StatsMsg::Committed(delta)) {
            warn!(shard, error = %err, "stats actor gone; counters reload from the store on its restart");
        }

        drop(candidates);
        let mut committed = Vec::with_capacity(candidate_positions.len());
        for (request, request_slots) in requests.into_iter().zip(slots) {
            let mut outcomes = Vec::with_capacity(request_slots.len());
            for (event, slot) in request.events.into_iter().zip(request_slots) {
                let outcome = match slot {
                    Slot::Candidate(index) if report.is_new[index] => Outcome::New,
                    Slot::Candidate(_) | Slot::RepeatInBatch | Slot::KnownCommitted => {
                        Outcome::Duplicate
                    }
                };
                outcomes.push(outcome);
                if matches!(slot, Slot::Candidate(_)) {
                    committed.push(event);
                }
            }
            let _ = request.reply.send(Ok(outcomes));
        }
        Some(committed)
    }
}

/// Decides which events reach the store: keys the fast path saw committed do not, and of the
/// rest only the first occurrence of each key in the batch is a candidate (later occurrences are
/// duplicates of it).
fn plan_batch(requests: &[PendingRequest], recent: &RecentKeys) -> BatchPlan {
    let mut candidate_of: HashMap<EventKey<'_>, usize> = HashMap::new();
    let mut candidates = Vec::new();
    let mut slots = Vec::with_capacity(requests.len());
    for (request_index, request) in requests.iter().enumerate() {
        let mut request_slots = Vec::with_capacity(request.events.len());
        for (event_index, event) in request.events.iter().enumerate() {
            let key = event.key();
            if recent.contains(key) {
                request_slots.push(Slot::KnownCommitted);
                continue;
            }
            let next_index = candidates.len();
            let slot = match candidate_of.entry(key) {
                Entry::Occupied(_) => Slot::RepeatInBatch,
                Entry::Vacant(vacant) => {
                    vacant.insert(next_index);
                    candidates.push((request_index, event_index));
                    Slot::Candidate(next_index)
                }
            };
            request_slots.push(slot);
        }
        slots.push(request_slots);
    }
    BatchPlan { candidates, slots }
}
