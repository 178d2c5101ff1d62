//! The actor tree and the typed handles through which the rest of the program talks to it.
//!
//! Nothing outside this module sees an `ActorRef`, a `call_t!` or a `RactorErr`: the HTTP layer
//! holds an [`ActorTree`] and calls [`ActorTree::ingest`], [`ActorTree::stats`] and
//! [`ActorTree::live_shards`]. See [`supervisor`] for the shape of the tree.

pub mod routing;
pub mod shard;
pub mod stats;
pub mod supervisor;

use std::time::{Duration, Instant};

use futures::future::try_join_all;
use ractor::{call_t, Actor, ActorRef, RactorErr};

use crate::config::BatchConfig;
use crate::event::{Event, Outcome};
use crate::store::{ShardId, SharedStore};
pub use stats::{ShardStats, StatsSnapshot};
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
}

impl ActorTree {
    /// Spawns the supervisor, which spawns the stats actor and the shards.
    pub async fn spawn(
        shard_count: u32,
        store: SharedStore,
        batching: BatchConfig,
        ingest_timeout: Duration,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), ActorError> {
        let args = SupervisorArgs {
            shard_count,
            store,
            batching,
            started_at: Instant::now(),
        };
        let (supervisor, join) = Actor::spawn(None, SupervisorActor, args)
            .await
            .map_err(|err| ActorError::Unavailable(format!("cannot start actor tree: {err}")))?;
        let tree = Self {
            supervisor,
            shard_count,
            ingest_timeout,
        };
        Ok((tree, join))
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
        let timeout_ms = u64::try_from(self.ingest_timeout.as_millis()).unwrap_or(u64::MAX);
        let calls = parts
            .into_iter()
            .enumerate()
            .filter(|(_, (positions, _))| !positions.is_empty())
            .map(|(shard, (positions, shard_events))| async move {
                let shard = ShardId::try_from(shard).unwrap_or(ShardId::MAX);
                let outcomes = call_t!(
                    self.supervisor,
                    SupervisorMsg::Route,
                    timeout_ms,
                    shard,
                    shard_events
                )??;
                Ok::<_, ActorError>((positions, outcomes))
            });
        let answered = try_join_all(calls).await?;

        let mut outcomes = vec![Outcome::Duplicate; total];
        for (positions, shard_outcomes) in answered {
            debug_assert_eq!(positions.len(), shard_outcomes.len());
            for (position, outcome) in positions.into_iter().zip(shard_outcomes) {
                outcomes[position] = outcome;
            }
        }
        Ok(outcomes)
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
