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

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::{debug, warn};

use super::stats::{CommitDelta, StatsMsg};
use super::IngestError;
use crate::config::BatchConfig;
use crate::event::{Event, EventKey, Outcome};
use crate::store::{CommitBatch, ShardCounters, ShardId, SharedStore};

/// The shard actor's behaviour.
pub struct ShardActor;

/// The answer to one ingest request: an outcome per event, in request order.
pub type IngestReply = RpcReplyPort<Result<Vec<Outcome>, IngestError>>;

/// Messages of a shard.
pub enum ShardMsg {
    /// The linger timer of buffer generation `epoch` fired.
    FlushEpoch(u64),
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
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: ShardMsg,
        state: &mut ShardState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ShardMsg::Ingest(events, reply) => state.enqueue(&myself, events, reply).await,
            ShardMsg::FlushEpoch(epoch) if epoch == state.epoch => state.commit_pending().await,
            ShardMsg::FlushEpoch(_stale) => {}
        }
        Ok(())
    }

    /// On a graceful stop (drain), whatever is still buffered is committed and answered.
    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut ShardState,
    ) -> Result<(), ActorProcessingErr> {
        state.commit_pending().await;
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
            self.commit_pending().await;
        } else if buffer_was_empty {
            let epoch = self.epoch;
            myself.send_after(self.batching.linger(), move || ShardMsg::FlushEpoch(epoch));
        }
    }

    /// Commits the buffer and answers every request in it.
    async fn commit_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let requests = std::mem::take(&mut self.pending);
        let received = std::mem::take(&mut self.pending_events) as u64;
        self.epoch += 1;

        let (candidates, slots) = resolve_repeats(&requests);
        let batch = CommitBatch {
            shard: self.shard,
            candidates: &candidates,
            received,
        };
        let result = self.store.commit(batch).await;
        let report = match result {
            Ok(report) => report,
            Err(err) => {
                warn!(shard = self.shard, events = received, error = %err, "commit failed, asking clients to retry");
                for request in requests {
                    let _ = request
                        .reply
                        .send(Err(IngestError::CommitFailed(err.to_string())));
                }
                return;
            }
        };

        let new_count = report.new_count();
        let mut new_topics: Vec<String> = Vec::new();
        for (candidate, _) in candidates
            .iter()
            .zip(&report.is_new)
            .filter(|(_, &new)| new)
        {
            if !new_topics.iter().any(|topic| *topic == candidate.topic) {
                new_topics.push(candidate.topic.clone());
            }
        }
        debug!(
            shard = self.shard,
            events = received,
            new = new_count,
            "committed batch"
        );
        // Tell the stats actor before answering anyone, so that /stats read after an answer
        // already includes it (mailboxes are FIFO).
        let delta = CommitDelta {
            shard: self.shard,
            counters: ShardCounters {
                received,
                unique_processed: new_count,
                duplicate_dropped: received - new_count,
            },
            topics: new_topics,
        };
        if let Err(err) = self.stats.send_message(StatsMsg::Committed(delta)) {
            warn!(shard = self.shard, error = %err, "stats actor gone; counters reload from the store on its restart");
        }

        let is_new = &report.is_new;
        drop(candidates);
        for (request, request_slots) in requests.into_iter().zip(slots) {
            let outcomes = request_slots
                .into_iter()
                .map(|slot| match slot {
                    Slot::Candidate(index) if is_new[index] => Outcome::New,
                    Slot::Candidate(_) | Slot::RepeatInBatch => Outcome::Duplicate,
                })
                .collect();
            let _ = request.reply.send(Ok(outcomes));
        }
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
