//! Helpers of the actors' unit tests: events, a shard wired to a real stats actor on an
//! in-memory store, reply probes, and a way to let actors run without sleeping.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use ractor::{Actor, ActorRef};
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::chaos::ChaosDice;
use super::commit::IngestReply;
use super::config::BatchingConfig;
use super::error::IngestError;
use super::fastpath::KeyBudget;
use super::shard::{ShardActor, ShardArgs, ShardMsg};
use super::slots::CommitSlots;
use super::stats::{StatsActor, StatsArgs, StatsMsg, StatsSnapshot};
use crate::event::{Event, Outcome, TopicPrefixes};
use crate::metrics::Metrics;
use crate::store::memory::MemoryStore;

/// How long a resync waits in these tests (time is paused, so only its order matters).
pub const RESYNC_DELAY: Duration = Duration::from_secs(1);

/// What an ingest is answered with.
pub type Answer = Result<Vec<Outcome>, IngestError>;

/// A valid event with this key.
pub fn event(topic: &str, event_id: &str) -> Event {
    Event {
        topic: topic.into(),
        event_id: event_id.into(),
        timestamp: Utc::now(),
        source: "unit-test".into(),
        // cannot fail: a literal JSON object
        payload: RawValue::from_string("{}".into()).expect("valid JSON"),
    }
}

/// A reply port and the receiver a test reads the answer from.
pub fn reply_probe() -> (IngestReply, oneshot::Receiver<Answer>) {
    let (sender, receiver) = oneshot::channel();
    (sender.into(), receiver)
}

/// Lets every runnable task (actors, spawned commits) run until all wait, without moving the
/// clock: a test reads state after it instead of sleeping.
pub async fn settle() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

/// A shard actor with its own stats actor, on an in-memory store.
pub struct ShardHarness {
    /// The shard under test.
    pub shard: ActorRef<ShardMsg>,
    /// The stats actor it reports to.
    pub stats: ActorRef<StatsMsg>,
    /// Its store.
    pub store: MemoryStore,
}

impl ShardHarness {
    /// Spawns shard 0 with `batching` and a fast path of `fastpath_keys` keys, trusted forever
    /// (nothing expires).
    pub async fn spawn(store: MemoryStore, batching: BatchingConfig, fastpath_keys: usize) -> Self {
        Self::spawn_trusting(store, batching, fastpath_keys, None).await
    }

    /// [`ShardHarness::spawn`] with a fast path trusted for `fastpath_trust` (rows expire).
    pub async fn spawn_trusting(
        store: MemoryStore,
        batching: BatchingConfig,
        fastpath_keys: usize,
        fastpath_trust: Option<Duration>,
    ) -> Self {
        let stats_args = StatsArgs {
            store: Arc::new(store.clone()),
            shard_count: 1,
            started_at: Instant::now(),
        };
        let (stats, _) = Actor::spawn(None, StatsActor, stats_args)
            .await
            .expect("stats actor starts");
        let args = ShardArgs {
            shard: 0,
            store: Arc::new(store.clone()),
            stats: stats.clone(),
            batching,
            chaos: ChaosDice::default(),
            commit_slots: CommitSlots::new(batching.commits_in_flight),
            resync_delay: RESYNC_DELAY,
            metrics: Metrics::new(1),
            fastpath_budget: KeyBudget::new(fastpath_keys),
            fastpath_trust,
        };
        let (shard, _) = Actor::spawn(None, ShardActor, args)
            .await
            .expect("shard starts");
        // Let the shard arm its start-up timers before a test moves the clock.
        settle().await;
        Self {
            shard,
            stats,
            store,
        }
    }

    /// Sends `events` to the shard; the receiver gets the answer after their commit.
    pub fn ingest(&self, events: Vec<Event>) -> oneshot::Receiver<Answer> {
        let (reply, answer) = reply_probe();
        self.shard
            .send_message(ShardMsg::Ingest(events, reply))
            .expect("shard alive");
        answer
    }

    /// The stats actor's snapshot.
    pub async fn stats(&self) -> StatsSnapshot {
        ractor::call!(self.stats, StatsMsg::Snapshot, TopicPrefixes::any())
            .expect("stats actor answers")
    }
}
