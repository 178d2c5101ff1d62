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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tracing::{debug, error, warn};

use super::chaos::{ChaosDice, InjectedPanic};
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
    /// When to re-read the counter row after a failure: longer than any store operation can
    /// still be running (the store timeout bounds them, also on the server side).
    pub resync_delay: Duration,
    /// Whether this incarnation replaces one that died (its last commit may be unreported).
    pub replaces_dead_shard: bool,
    /// The app's metrics registry; the fast path keeps it in its state and calls
    /// `metrics.fastpath_hit(shard)` for each duplicate it answers from memory.
    pub metrics: Metrics,
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
            resync_scheduled: args.replaces_dead_shard,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut ShardState,
    ) -> Result<(), ActorProcessingErr> {
        if state.resync_scheduled {
            myself.send_after(state.resync_delay, || ShardMsg::ResyncCounters);
        }
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
        let gate = self.commit_gate.clone().lock_owned().await;
        let group = GroupCommit {
            shard: self.shard,
            store: self.store.clone(),
            stats: self.stats.clone(),
            requests,
            received,
            panic_after_commit: injected == InjectedPanic::AfterCommit,
            _gate: gate,
        };
        let committed = match tokio::spawn(group.run()).await {
            Ok(committed) => committed,
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            Err(join_error) => {
                error!(shard = self.shard, error = %join_error, "commit task vanished");
                false
            }
        };
        if !committed && !self.resync_scheduled {
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
    received: u64,
    /// Chaos: panic once the commit is durable but before anyone is answered.
    panic_after_commit: bool,
    /// Keeps the shard's commits serial until this one is reported (see [`ShardArgs`]).
    _gate: OwnedMutexGuard<()>,
}

impl GroupCommit {
    /// Commits, reports to the stats actor, answers every request. Returns whether the commit
    /// succeeded; on failure its outcome is unknown and every request is told to retry.
    async fn run(self) -> bool {
        let Self {
            shard,
            store,
            stats,
            requests,
            received,
            panic_after_commit,
            _gate,
        } = self;
        let (candidates, slots) = resolve_repeats(&requests);
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
                return false;
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
        let delta = CommitDelta {
            shard,
            counters_after: report.counters_after,
            topics: new_topics,
        };
        if let Err(err) = stats.send_message(StatsMsg::Committed(delta)) {
            warn!(shard, error = %err, "stats actor gone; counters reload from the store on its restart");
        }

        drop(candidates);
        for (request, request_slots) in requests.into_iter().zip(slots) {
            let outcomes = request_slots
                .into_iter()
                .map(|slot| match slot {
                    Slot::Candidate(index) if report.is_new[index] => Outcome::New,
                    Slot::Candidate(_) | Slot::RepeatInBatch => Outcome::Duplicate,
                })
                .collect();
            let _ = request.reply.send(Ok(outcomes));
        }
        true
    }
}

/// Picks the first occurrence of every key as a commit candidate; later occurrences in the same
/// batch are duplicates of it and never reach the store.
fn resolve_repeats(requests: &[PendingRequest]) -> (Vec<&Event>, Vec<Vec<Slot>>) {
    let mut candidate_of: HashMap<EventKey<'_>, usize> = HashMap::new();
    let mut candidates = Vec::new();
    let mut slots = Vec::with_capacity(requests.len());
    for request in requests {
        let mut request_slots = Vec::with_capacity(request.events.len());
        for event in &request.events {
            let next_index = candidates.len();
            let slot = match candidate_of.entry(event.key()) {
                std::collections::hash_map::Entry::Occupied(_) => Slot::RepeatInBatch,
                std::collections::hash_map::Entry::Vacant(vacant) => {
                    vacant.insert(next_index);
                    candidates.push(event);
                    Slot::Candidate(next_index)
                }
            };
            request_slots.push(slot);
        }
        slots.push(request_slots);
    }
    (candidates, slots)
}
