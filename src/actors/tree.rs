//! [`ActorTree`]: the typed handle through which the rest of the program talks to the tree.
//!
//! It spawns the supervisor, admits ingest requests against per-shard in-flight budgets, splits
//! them by owning shard and joins the answers; it also asks for stats and liveness. Callers see
//! plain results and [`ActorError`], never a ractor type.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use ractor::{call_t, Actor, ActorRef};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::cluster_watcher::CLUSTER_REFRESH;
use super::config::TreeConfig;
use super::error::ActorError;
use super::pruner::{PrunerMsg, PurgeOutcome};
use super::routing::shard_for_topic;
use super::stats::{StatsMsg, StatsSnapshot};
use super::supervisor::{SupervisorActor, SupervisorArgs, SupervisorMsg};
use crate::event::{Event, Outcome, TopicPrefixes};
use crate::metrics::Metrics;
use crate::retention::RetentionPolicy;
use crate::store::{ShardId, SharedStore};

/// Timeout of quick control RPCs (stats snapshot, liveness).
pub const CONTROL_RPC_TIMEOUT_MS: u64 = 2_000;
/// Longest a purge may take before its caller stops waiting (the purge itself goes on).
pub const PURGE_TIMEOUT_MS: u64 = 600_000;
/// Longest a purge waits for the other live instances to acknowledge it: an instance that is
/// alive does within a view or two, one that died stops looking alive within five seconds.
const PURGE_ACKNOWLEDGE_WAIT: Duration = Duration::from_secs(CLUSTER_REFRESH.as_secs() * 10);
/// How often a purge asks whether the other instances have acknowledged it.
const PURGE_ACKNOWLEDGE_POLL: Duration = Duration::from_millis(50);

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
    /// The retention policy in force (shown by `/stats`).
    retention: Arc<RetentionPolicy>,
    /// The store, which a purge asks whether the other instances sharing it heard of it.
    store: SharedStore,
}

impl ActorTree {
    /// Spawns the supervisor, which spawns the stats actor and the shards.
    pub async fn spawn(
        config: &TreeConfig,
        store: SharedStore,
        metrics: Metrics,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), ActorError> {
        let args = SupervisorArgs {
            shard_count: config.shards,
            store: store.clone(),
            batching: config.batching,
            fastpath_keys: config.fastpath_keys,
            started_at: Instant::now(),
            restart_budget: config.restart_budget,
            chaos: config.chaos,
            metrics: metrics.clone(),
            retention: config.retention.clone(),
        };
        let (supervisor, join) = Actor::spawn(None, SupervisorActor, args)
            .await
            .map_err(|err| ActorError::Unavailable(format!("cannot start actor tree: {err}")))?;
        let inflight_limit = config.max_inflight_events_per_shard.max(1);
        let tree = Self {
            supervisor,
            shard_count: config.shards,
            ingest_timeout: config.ingest_timeout,
            inflight: (0..config.shards)
                .map(|_| Arc::new(Semaphore::new(inflight_limit)))
                .collect(),
            inflight_limit,
            metrics,
            retention: config.retention.policy.clone(),
            store,
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
            let shard = shard_for_topic(&event.topic, self.shard_count);
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

    /// Current counters, with the topics (the first [`SNAPSHOT_TOPICS`] and `topics_total`)
    /// inside `prefixes` only. The counters are the whole store's whatever `prefixes` is: they
    /// are kept per shard, not per topic.
    ///
    /// [`SNAPSHOT_TOPICS`]: super::stats::SNAPSHOT_TOPICS
    pub async fn stats(&self, prefixes: TopicPrefixes) -> Result<StatsSnapshot, ActorError> {
        let stats = call_t!(
            self.supervisor,
            SupervisorMsg::StatsRef,
            CONTROL_RPC_TIMEOUT_MS
        )?;
        let snapshot = call_t!(stats, StatsMsg::Snapshot, CONTROL_RPC_TIMEOUT_MS, prefixes)?;
        Ok(snapshot)
    }

    /// Up to `limit` topics inside `prefixes`, sorted after `after` (from the first when
    /// `None`). `limit` counts only topics inside: a page is short only when none is left.
    pub async fn topics(
        &self,
        after: Option<String>,
        limit: usize,
        prefixes: TopicPrefixes,
    ) -> Result<Vec<String>, ActorError> {
        let stats = call_t!(
            self.supervisor,
            SupervisorMsg::StatsRef,
            CONTROL_RPC_TIMEOUT_MS
        )?;
        let topics = call_t!(
            stats,
            |reply| StatsMsg::Topics {
                after,
                limit,
                prefixes,
                reply
            },
            CONTROL_RPC_TIMEOUT_MS
        )?;
        Ok(topics)
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

    /// The retention policy in force.
    pub fn retention(&self) -> &RetentionPolicy {
        &self.retention
    }

    /// Deletes every event of `topic` committed before now (see [`PurgeOutcome`]), then makes
    /// the shard that owns the topic forget its keys, so that a key published again after the
    /// answer is stored again rather than answered as a duplicate from memory.
    pub async fn purge(&self, topic: String) -> Result<PurgeOutcome, ActorError> {
        let pruner = call_t!(
            self.supervisor,
            SupervisorMsg::PrunerRef,
            CONTROL_RPC_TIMEOUT_MS
        )?;
        let outcome = call_t!(pruner, PrunerMsg::Purge, PURGE_TIMEOUT_MS, topic.clone())??;
        let shard = shard_for_topic(&topic, self.shard_count);
        // A shard that cannot answer is dead or restarting: its next incarnation starts with an
        // empty fast path, so the rows are gone and the purge stands either way.
        if let Err(err) = call_t!(
            self.supervisor,
            SupervisorMsg::ForgetTopic,
            CONTROL_RPC_TIMEOUT_MS,
            shard,
            topic
        ) {
            tracing::warn!(shard, error = %err, "the purged topic's shard did not answer; its restart forgets everything");
        }
        if outcome.removed > 0 {
            self.await_purge_acknowledged().await;
        }
        Ok(outcome)
    }

    /// Other instances sharing the store forget their remembered keys when their next
    /// cluster view shows the purge (one every `CLUSTER_REFRESH`), then acknowledge it in the
    /// store: wait until every live one has, so that after the purge's answer a purged key
    /// published again on any live instance is stored again. An instance that died stops
    /// looking alive within a few views; past [`PURGE_ACKNOWLEDGE_WAIT`] the purge answers
    /// anyway (an instance that cannot reach the store that long may still answer a purged
    /// key from memory until it can).
    async fn await_purge_acknowledged(&self) {
        let deadline = Instant::now() + PURGE_ACKNOWLEDGE_WAIT;
        loop {
            let behind = self.store.instances_behind_on_purges().await;
            match behind {
                Ok(behind) if behind.is_empty() => return,
                Ok(behind) if Instant::now() >= deadline => {
                    tracing::warn!(
                        ?behind,
                        "instances did not acknowledge a purge in time; answering anyway"
                    );
                    return;
                }
                Err(err) if Instant::now() >= deadline => {
                    tracing::warn!(error = %err, "cannot tell whether other instances heard of a purge; answering anyway");
                    return;
                }
                _ => tokio::time::sleep(PURGE_ACKNOWLEDGE_POLL).await,
            }
        }
    }

    /// Graceful stop: shards commit what they buffer, then the tree exits.
    pub async fn shutdown(&self, deadline: Duration) {
        let _ = self
            .supervisor
            .stop_and_wait(Some("shutdown".into()), Some(deadline))
            .await;
    }
}
