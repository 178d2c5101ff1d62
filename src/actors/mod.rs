//! The actor tree and the typed handles through which the rest of the program talks to it.
//!
//! Nothing outside this module sees an `ActorRef`, a `call_t!` or a `RactorErr`: the HTTP layer
//! holds an [`ActorTree`] and calls [`ActorTree::ingest`], [`ActorTree::stats`] and
//! [`ActorTree::live_shards`]. See [`supervisor`] for the shape of the tree.

pub mod chaos;
pub mod fastpath;
pub mod routing;
pub mod shard;
pub mod stats;
pub mod supervisor;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use ractor::{call_t, Actor, ActorRef, RactorErr};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ServeConfig;
use crate::event::{Event, Outcome};
use crate::metrics::Metrics;
use crate::store::{ShardId, SharedStore};
pub use stats::{RestartLatency, ShardStats, StatsSnapshot};
use supervisor::{SupervisorActor, SupervisorArgs, SupervisorMsg};

/// Timeout of quick control RPCs (stats snapshot, liveness).
pub const CONTROL_RPC_TIMEOUT_MS: u64 = 2_000;

/// Why a shard could not answer an ingest request. All are retryable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The commit failed or its outcome is unknown; nothing of it was acknowledged.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The shard is dead or restarting.
    #[error("shard {0} is unavailable")]
    ShardUnavailable(ShardId),
}

/// Errors of the actor handles, as the HTTP layer sees them.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    /// No answer within the allotted time; the request may still complete.
    #[error("timed out waiting for the actor tree")]
    Timeout,
    /// The tree could not take or finish the request.
    #[error("actor tree unavailable: {0}")]
    Unavailable(String),
    /// A shard already holds as many events as it may; the client should slow down.
    #[error("shard {0} is at its in-flight limit")]
    Overloaded(ShardId),
}

impl<T> From<RactorErr<T>> for ActorError {
    fn from(err: RactorErr<T>) -> Self {
        match err {
            RactorErr::Timeout => Self::Timeout,
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<IngestError> for ActorError {
    fn from(err: IngestError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

/// A running actor tree: cheap to clone, shared by every HTTP handler.
#[derive(Clone)]
pub struct ActorTree {
    supervisor: ActorRef<SupervisorMsg>,
    shard_count: u32,
    ingest_timeout: Duration,
    /// Events in flight per shard. Mailboxes are unbounded, so this is what bounds memory: a
    /// request takes permits for its events before it is routed and gives them back when its
    /// commit is answered, and is refused at once when they are not available.
    inflight: Arc<[Arc<Semaphore>]>,
    inflight_limit: usize,
    /// The app's registry: events are counted here once their publish is answered.
    metrics: Metrics,
}

impl ActorTree {
    /// Spawns the supervisor, which spawns the stats actor and the shards.
    pub async fn spawn(
        config: &ServeConfig,
        store: SharedStore,
        metrics: Metrics,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), ActorError> {
        let args = SupervisorArgs {
            shard_count: config.shards,
            store,
            batching: config.batching.clone(),
            started_at: Instant::now(),
            supervision: config.supervision.clone(),
            chaos: config.chaos.clone(),
            store_timeout: config.store.store_timeout(),
            metrics: metrics.clone(),
        };
        let (supervisor, join) = Actor::spawn(None, SupervisorActor, args)
            .await
            .map_err(|err| ActorError::Unavailable(format!("cannot start actor tree: {err}")))?;
        let inflight_limit = config.limits.max_inflight_events_per_shard;
        let tree = Self {
            supervisor,
            shard_count: config.shards,
            ingest_timeout: config.limits.request_timeout(),
            inflight: (0..config.shards)
                .map(|_| Arc::new(Semaphore::new(inflight_limit)))
                .collect(),
            inflight_limit,
            metrics,
        };
        Ok((tree, join))
    }

    /// Takes in-flight permits for `events` events on `shard`, or refuses at once. A request
    /// larger than the whole limit asks for all of it, so it is admitted when the shard is idle
    /// instead of never fitting.
    fn reserve(&self, shard: ShardId, events: usize) -> Result<OwnedSemaphorePermit, ActorError> {
        let wanted = u32::try_from(events.min(self.inflight_limit)).unwrap_or(u32::MAX);
        let semaphore = self.inflight[shard as usize].clone();
        semaphore
            .try_acquire_many_owned(wanted)
            .map_err(|_| ActorError::Overloaded(shard))
    }

    /// Stores `events`, answering with one outcome per event in the same order. Events are split
    /// by owning shard, the parts are committed in parallel, and the answer is given only when
    /// every part is committed; if any part fails the whole request fails (retrying is safe).
    pub async fn ingest(&self, events: Vec<Event>) -> Result<Vec<Outcome>, ActorError> {
        let total = events.len();
        let mut parts: Vec<(Vec<usize>, Vec<Event>)> = (0..self.shard_count)
            .map(|_| (Vec::new(), Vec::new()))
            .collect();
        for (position, event) in events.into_iter().enumerate() {
            let shard = routing::shard_for_topic(&event.topic, self.shard_count);
            let (positions, shard_events) = &mut parts[shard as usize];
            positions.push(position);
            shard_events.push(event);
        }
        // All permits first: a request is either admitted to every shard it touches or refused.
        let mut admitted = Vec::new();
        for (shard, (positions, shard_events)) in parts.into_iter().enumerate() {
            if positions.is_empty() {
                continue;
            }
            let shard = ShardId::try_from(shard).unwrap_or(ShardId::MAX);
            let permit = self.reserve(shard, shard_events.len())?;
            admitted.push((shard, positions, shard_events, permit));
        }
        let timeout_ms = u64::try_from(self.ingest_timeout.as_millis()).unwrap_or(u64::MAX);
        let calls =
            admitted
                .into_iter()
                .map(|(shard, positions, shard_events, permit)| async move {
                    let _permit = permit;
                    let outcomes = call_t!(
                        self.supervisor,
                        SupervisorMsg::Route,
                        timeout_ms,
                        shard,
                        shard_events
                    )??;
                    Ok::<_, ActorError>((shard, positions, outcomes))
                });
        let answered = try_join_all(calls).await?;

        let mut outcomes = vec![Outcome::Duplicate; total];
        for (shard, positions, shard_outcomes) in answered {
            debug_assert_eq!(positions.len(), shard_outcomes.len());
            let new = shard_outcomes
                .iter()
                .filter(|&&o| o == Outcome::New)
                .count();
            self.metrics
                .events_answered(shard, shard_outcomes.len(), new);
            for (position, outcome) in positions.into_iter().zip(shard_outcomes) {
                outcomes[position] = outcome;
            }
        }
        Ok(outcomes)
    }

    /// Events admitted and not yet answered, per shard (for the in-flight gauge).
    pub fn inflight_events(&self) -> Vec<(ShardId, usize)> {
        self.inflight
            .iter()
            .enumerate()
            .map(|(shard, semaphore)| {
                let shard = ShardId::try_from(shard).unwrap_or(ShardId::MAX);
                let free = semaphore.available_permits();
                (shard, self.inflight_limit.saturating_sub(free))
            })
            .collect()
    }

    /// Current counters.
    pub async fn stats(&self) -> Result<StatsSnapshot, ActorError> {
        let stats = call_t!(
            self.supervisor,
            SupervisorMsg::StatsRef,
            CONTROL_RPC_TIMEOUT_MS
        )?;
        let snapshot = call_t!(stats, stats::StatsMsg::Snapshot, CONTROL_RPC_TIMEOUT_MS)?;
        Ok(snapshot)
    }

    /// Number of shard actors currently running, and how many there should be.
    pub async fn live_shards(&self) -> Result<(usize, usize), ActorError> {
        let live = call_t!(
            self.supervisor,
            SupervisorMsg::LiveShards,
            CONTROL_RPC_TIMEOUT_MS
        )?;
        Ok((live, self.shard_count as usize))
    }

    /// Graceful stop: shards commit what they buffer, then the tree exits.
    pub async fn shutdown(&self, deadline: Duration) {
        let _ = self
            .supervisor
            .stop_and_wait(Some("shutdown".into()), Some(deadline))
            .await;
    }
}
