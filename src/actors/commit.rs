//! One group commit of a shard, from its plan to its answers.
//!
//! [`plan_batch`] decides which events reach the store: keys the fast path saw committed do
//! not, and of the rest only the first occurrence of each key in the batch is a candidate.
//! [`GroupCommit::run`] commits the candidates and the counter deltas in one store call, tells
//! the stats actor, then answers every waiting request with one outcome per event: a reply
//! means committed. It runs in a task of its own (see `ShardState::start_commit`), so a commit
//! that reached the database is answered even if its shard is killed meanwhile.
//! [`resync_counters`] re-reads a shard's counter row after a commit whose outcome is unknown.
//!
//! Contracts kept here, relied on by the shard:
//! - every request handed to a [`GroupCommit`] is answered exactly once, `Ok` only after the
//!   store committed;
//! - the stats actor hears of a commit before any of its requests is answered (mailboxes are
//!   FIFO, so `/stats` read after an answer includes it);
//! - a commit holds its slot (`slots.rs`) until it has reported to the stats actor and answered
//!   its requests, so a shard never runs more commits at once than it has slots, across
//!   incarnations.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use ractor::{ActorRef, RpcReplyPort};
use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, warn};

use super::error::IngestError;
use super::fastpath::{KeyBudget, RecentKeys};
use super::slots::CommitSlots;
use super::stats::{CommitDelta, StatsMsg};
use crate::event::{Event, EventKey, Outcome};
use crate::metrics::Metrics;
use crate::store::{CommitBatch, ShardId, SharedStore, StoreError};

/// The answer to one ingest request: an outcome per event, in request order.
pub type IngestReply = RpcReplyPort<Result<Vec<Outcome>, IngestError>>;

/// A request waiting for the next commit.
pub(super) struct PendingRequest {
    /// The request's events, all owned by this shard.
    pub(super) events: Vec<Event>,
    /// Where its outcomes go.
    pub(super) reply: IngestReply,
}

/// Where an event's outcome comes from once the batch is committed.
#[derive(Clone, Copy)]
enum OutcomeSource {
    /// The first occurrence of its key in the batch: new if the store inserted candidate `i`.
    Candidate(usize),
    /// A repeat of a key earlier in the same batch: a duplicate whatever the store says.
    RepeatInBatch,
    /// The fast path saw this key committed: a duplicate without an index probe. It is still
    /// acknowledged only after the batch's commit, whose counter update counts it.
    KnownCommitted,
}

/// Which events of a batch go to the store, and where each event's outcome comes from.
pub(super) struct BatchPlan {
    /// `(request, event)` positions of the candidates, in batch order.
    candidates: Vec<(usize, usize)>,
    /// Per request, per event.
    sources: Vec<Vec<OutcomeSource>>,
}

/// One group commit, owned by the task that performs it.
pub(super) struct GroupCommit {
    pub(super) committer: Committer,
    pub(super) requests: Vec<PendingRequest>,
    pub(super) plan: BatchPlan,
    /// Every event of the requests, duplicates included.
    pub(super) received: u64,
    /// Chaos: panic once the commit is durable but before anyone is answered.
    pub(super) panic_after_commit: bool,
    /// This commit's slot among the shard's commits in flight (see [`CommitSlots`]), held until
    /// it is reported and answered.
    pub(super) slot: Option<OwnedSemaphorePermit>,
}

/// What a group commit came to, for the shard.
pub struct CommitOutcome {
    /// The candidates now known to be stored, for the fast path, each with whether this
    /// commit inserted it (`false`: it was stored before, maybe long before, which matters
    /// when rows expire: see `ShardState::committed`).
    pub(super) committed: Vec<(Event, bool)>,
    /// Whether some commit's outcome is unknown (it may have landed): the shard then resyncs
    /// its counters.
    pub(super) uncertain: bool,
}

/// What every commit of a shard needs besides its requests.
pub(super) struct Committer {
    pub(super) shard: ShardId,
    pub(super) store: SharedStore,
    pub(super) stats: ActorRef<StatsMsg>,
    pub(super) metrics: Metrics,
}

impl GroupCommit {
    /// Commits, reports to the stats actor, answers every request.
    ///
    /// When the store refuses the batch as input it can never hold (`StoreError::Rejected`),
    /// one request's events are at fault, not the batch: each request is then committed on its
    /// own, so that the others are stored and answered and only the guilty one is refused
    /// (never with a retryable error: retrying it could never succeed).
    pub(super) async fn run(self) -> CommitOutcome {
        let Self {
            committer,
            requests,
            plan,
            received,
            panic_after_commit,
            slot,
        } = self;
        let outcome = match committer
            .commit(requests, plan, received, panic_after_commit)
            .await
        {
            Ok(committed) => CommitOutcome {
                committed,
                uncertain: false,
            },
            Err((StoreError::Rejected(cause), requests)) if requests.len() > 1 => {
                warn!(shard = committer.shard, requests = requests.len(), cause = %cause,
                      "store refused a batch, committing its requests one by one");
                committer.commit_one_by_one(requests).await
            }
            Err((err, requests)) => {
                let uncertain = committer.refuse(&err, requests);
                CommitOutcome {
                    committed: Vec::new(),
                    uncertain,
                }
            }
        };
        drop(slot);
        outcome
    }
}

impl Committer {
    /// Commits `requests` planned as `plan`; on success reports to the stats actor, answers
    /// every request and returns the committed candidates. On failure nobody is answered: the
    /// error comes back with the requests.
    async fn commit(
        &self,
        requests: Vec<PendingRequest>,
        plan: BatchPlan,
        received: u64,
        panic_after_commit: bool,
    ) -> Result<Vec<(Event, bool)>, (StoreError, Vec<PendingRequest>)> {
        let shard = self.shard;
        let BatchPlan {
            candidates: candidate_positions,
            sources,
        } = plan;
        let candidates: Vec<&Event> = candidate_positions
            .iter()
            .map(|&(request, event)| &requests[request].events[event])
            .collect();
        let batch = CommitBatch {
            shard,
            candidates: &candidates,
            received,
        };
        let report = match self.store.commit(batch).await {
            Ok(report) => report,
            Err(err) => {
                drop(candidates);
                return Err((err, requests));
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
        let fastpath_hits = sources
            .iter()
            .flatten()
            .filter(|source| matches!(source, OutcomeSource::KnownCommitted))
            .count() as u64;
        self.metrics.fastpath_hits(shard, fastpath_hits);
        let delta = CommitDelta {
            shard,
            counters_after: report.counters_after,
            topics: new_topics,
            fastpath_hits,
        };
        if let Err(err) = self.stats.send_message(StatsMsg::Committed(delta)) {
            warn!(shard, error = %err, "stats actor gone; counters reload from the store on its restart");
        }

        drop(candidates);
        let mut committed = Vec::with_capacity(candidate_positions.len());
        for (request, request_sources) in requests.into_iter().zip(sources) {
            let mut outcomes = Vec::with_capacity(request_sources.len());
            for (event, source) in request.events.into_iter().zip(request_sources) {
                let outcome = match source {
                    OutcomeSource::Candidate(index) if report.is_new[index] => Outcome::New,
                    OutcomeSource::Candidate(_)
                    | OutcomeSource::RepeatInBatch
                    | OutcomeSource::KnownCommitted => Outcome::Duplicate,
                };
                outcomes.push(outcome);
                if matches!(source, OutcomeSource::Candidate(_)) {
                    committed.push((event, outcome == Outcome::New));
                }
            }
            let _ = request.reply.send(Ok(outcomes));
        }
        Ok(committed)
    }

    /// Commits each request on its own (planned without the fast path, which is only an
    /// optimisation), so that one request the store refuses cannot fail the others.
    async fn commit_one_by_one(&self, requests: Vec<PendingRequest>) -> CommitOutcome {
        let no_fast_path = RecentKeys::new(KeyBudget::new(0), None);
        let mut outcome = CommitOutcome {
            committed: Vec::new(),
            uncertain: false,
        };
        for request in requests {
            let received = request.events.len() as u64;
            let alone = vec![request];
            let plan = plan_batch(&alone, &no_fast_path);
            match self.commit(alone, plan, received, false).await {
                Ok(mut committed) => outcome.committed.append(&mut committed),
                Err((err, alone)) => outcome.uncertain |= self.refuse(&err, alone),
            }
        }
        outcome
    }

    /// Answers every request of a failed commit; tells whether the failure leaves the outcome
    /// unknown (everything but a refusal of the input may have landed, e.g. on a timeout).
    fn refuse(&self, err: &StoreError, requests: Vec<PendingRequest>) -> bool {
        let answer = match err {
            StoreError::Rejected(cause) => {
                warn!(shard = self.shard, cause = %cause, "store refused a request's events");
                IngestError::Rejected(cause.message.clone())
            }
            StoreError::Transient(_) | StoreError::Fatal(_) => {
                warn!(shard = self.shard, error = %err, "commit failed, asking clients to retry");
                IngestError::CommitFailed(err.to_string())
            }
        };
        for request in requests {
            let _ = request.reply.send(Err(answer.clone()));
        }
        !matches!(err, StoreError::Rejected(_))
    }
}

/// Decides which events reach the store: keys the fast path saw committed do not, and of the
/// rest only the first occurrence of each key in the batch is a candidate (later occurrences are
/// duplicates of it).
pub(super) fn plan_batch(requests: &[PendingRequest], recent: &RecentKeys) -> BatchPlan {
    let mut candidate_of: HashMap<EventKey<'_>, usize> = HashMap::new();
    let mut candidates = Vec::new();
    let mut sources = Vec::with_capacity(requests.len());
    for (request_index, request) in requests.iter().enumerate() {
        let mut request_sources = Vec::with_capacity(request.events.len());
        for (event_index, event) in request.events.iter().enumerate() {
            let key = event.key();
            if recent.contains(key) {
                request_sources.push(OutcomeSource::KnownCommitted);
                continue;
            }
            let next_index = candidates.len();
            let source = match candidate_of.entry(key) {
                Entry::Occupied(_) => OutcomeSource::RepeatInBatch,
                Entry::Vacant(vacant) => {
                    vacant.insert(next_index);
                    candidates.push((request_index, event_index));
                    OutcomeSource::Candidate(next_index)
                }
            };
            request_sources.push(source);
        }
        sources.push(request_sources);
    }
    BatchPlan {
        candidates,
        sources,
    }
}

/// Re-reads this process's counter row of `shard` while no commit of the shard runs (it holds
/// every commit slot) and reports it to the stats actor, so that live counters include commits
/// whose answer was lost (a timeout with unknown outcome, or an incarnation killed mid-commit).
pub(super) async fn resync_counters(
    shard: ShardId,
    store: &SharedStore,
    stats: &ActorRef<StatsMsg>,
    slots: &CommitSlots,
) -> Result<(), StoreError> {
    let _every_slot = slots.all().await;
    let counters_after = store.own_counters(shard).await?;
    let delta = CommitDelta {
        shard,
        counters_after,
        topics: Vec::new(),
        fastpath_hits: 0,
    };
    if let Err(err) = stats.send_message(StatsMsg::Committed(delta)) {
        warn!(shard, error = %err, "stats actor gone; counters reload from the store on its restart");
    }
    Ok(())
}
