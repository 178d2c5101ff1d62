//! `SupervisorActor`: the root of the tree. It spawns the stats actor, the shards and the
//! pruner, routes ingest requests to the shard that owns their topic, and restarts shards and
//! the pruner when they die.
//!
//! ```text
//!                 SupervisorActor
//!                /       |        \         \
//!         StatsActor  Shard 0 ... Shard N-1  PrunerActor
//! ```
//!
//! A dead shard is respawned with the same index (so the same topics, counter row and commit
//! order) as long as the restart budget allows; past it the supervisor fails, and with it the
//! process, so that an orchestrator can restart everything. The stats actor is not restarted in
//! place: its death means the live counters can no longer be trusted, so it escalates too.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};
use rand::Rng;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::chaos::{ChaosConfig, ChaosDice};
use super::cluster_watcher::spawn_watcher;
use super::commit::IngestReply;
use super::config::{BatchingConfig, RestartBudget, RetentionConfig};
use super::error::IngestError;
use super::fastpath::{trust_window, KeyBudget};
use super::pruner::{spawn_pruner, PrunerMsg};
use super::shard::{ShardActor, ShardArgs, ShardMsg};
use super::slots::CommitSlots;
use super::stats::{StatsActor, StatsArgs, StatsMsg};
use crate::event::Event;
use crate::metrics::Metrics;
use crate::store::{ShardId, SharedStore};

/// How long the supervisor waits for its children to drain on a graceful stop.
const CHILD_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The supervisor's behaviour.
pub struct SupervisorActor;

/// Messages of the supervisor.
pub enum SupervisorMsg {
    /// Forward events (all owned by `shard`) to that shard; it answers `reply` after the commit.
    Route(ShardId, Vec<Event>, IngestReply),
    /// The stats actor, for snapshot queries.
    StatsRef(RpcReplyPort<ActorRef<StatsMsg>>),
    /// Chaos timer tick: kill a random shard.
    ChaosKill,
    /// Number of live shards, for readiness.
    LiveShards(RpcReplyPort<usize>),
    /// The pruner, for purges.
    PrunerRef(RpcReplyPort<ActorRef<PrunerMsg>>),
    /// Tell `shard` that `topic` was purged (its fast path forgets the topic's keys); answered
    /// once the shard has.
    ForgetTopic(ShardId, String, RpcReplyPort<()>),
    /// Some instance purged a topic: every shard forgets every key it remembers.
    ForgetEverything,
}

/// Start-up arguments.
pub struct SupervisorArgs {
    /// Number of shards.
    pub shard_count: u32,
    /// Shared store handed to every child.
    pub store: SharedStore,
    /// Group-commit knobs for the shards.
    pub batching: BatchingConfig,
    /// The fast path's key budget, shared by every shard.
    pub fastpath_keys: usize,
    /// When the application started.
    pub started_at: Instant,
    /// Restart budget.
    pub restart_budget: RestartBudget,
    /// Fault injection.
    pub chaos: ChaosConfig,
    /// The app's metrics registry, handed to every shard.
    pub metrics: Metrics,
    /// Retention, for the pruner and the fast path's trust window.
    pub retention: RetentionConfig,
}

/// Children and restart bookkeeping.
pub struct SupervisorState {
    shards: Vec<ActorRef<ShardMsg>>,
    stats: ActorRef<StatsMsg>,
    store: SharedStore,
    batching: BatchingConfig,
    recent_restarts: VecDeque<Instant>,
    restart_budget: RestartBudget,
    chaos: ChaosConfig,
    chaos_timer: Option<JoinHandle<()>>,
    /// Feeds the stats actor the other instances' counters (see `cluster_watcher.rs`).
    cluster_watcher: JoinHandle<()>,
    /// Shards killed on purpose by chaos mode; their restarts do not spend the budget.
    chaos_victims: HashSet<ActorId>,
    /// One per shard index, handed to every incarnation (see `ShardArgs::commit_slots`).
    commit_slots: Vec<CommitSlots>,
    metrics: Metrics,
    /// The fast path's key budget, shared by every shard and every incarnation.
    fastpath_budget: KeyBudget,
    pruner: ActorRef<PrunerMsg>,
    retention: RetentionConfig,
}

impl Actor for SupervisorActor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    /// Downstream first: the stats actor must exist before any shard can report to it.
    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let stats_args = StatsArgs {
            store: args.store.clone(),
            shard_count: args.shard_count,
            started_at: args.started_at,
        };
        let (stats, _) =
            Actor::spawn_linked(None, StatsActor, stats_args, myself.get_cell()).await?;
        let purge_seen = myself.clone();
        let cluster_watcher = spawn_watcher(args.store.clone(), stats.clone(), move || {
            let _ = purge_seen.send_message(SupervisorMsg::ForgetEverything);
        });
        let fastpath_budget = KeyBudget::new(args.fastpath_keys);
        let pruner = spawn_pruner(
            myself.get_cell(),
            &args.store,
            &args.retention,
            &stats,
            &args.metrics,
        )
        .await?;
        let mut state = SupervisorState {
            pruner,
            retention: args.retention,
            shards: Vec::with_capacity(args.shard_count as usize),
            stats,
            store: args.store,
            batching: args.batching,
            recent_restarts: VecDeque::new(),
            restart_budget: args.restart_budget,
            chaos: args.chaos,
            chaos_timer: None,
            cluster_watcher,
            chaos_victims: HashSet::new(),
            commit_slots: (0..args.shard_count)
                .map(|_| CommitSlots::new(args.batching.commits_in_flight))
                .collect(),
            fastpath_budget,
            metrics: args.metrics,
        };
        for shard in 0..args.shard_count {
            let shard_ref = state.spawn_shard(&myself, shard).await?;
            state.shards.push(shard_ref);
        }
        Ok(state)
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        if state.chaos.is_enabled() {
            warn!(
                kill_interval = ?state.chaos.kill_interval,
                panic_rate = state.chaos.panic_rate,
                "CHAOS MODE ON: shards will be killed or panic on purpose; never use in production"
            );
        }
        if let Some(interval) = state.chaos.kill_interval.filter(|i| !i.is_zero()) {
            state.chaos_timer = Some(myself.send_interval(interval, || SupervisorMsg::ChaosKill));
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Route(shard, events, reply) => state.route(shard, events, reply),
            SupervisorMsg::ChaosKill => state.kill_random_shard(),
            SupervisorMsg::StatsRef(reply) => {
                let _ = reply.send(state.stats.clone());
            }
            SupervisorMsg::LiveShards(reply) => {
                let _ = reply.send(state.live_shards());
            }
            SupervisorMsg::PrunerRef(reply) => {
                let _ = reply.send(state.pruner.clone());
            }
            SupervisorMsg::ForgetEverything => {
                for shard in &state.shards {
                    let _ = shard.send_message(ShardMsg::ForgetEverything);
                }
            }
            SupervisorMsg::ForgetTopic(shard, topic, reply) => {
                if let Some(shard_ref) = state.shards.get(shard as usize) {
                    let _ = shard_ref.send_message(ShardMsg::ForgetTopic(topic, reply));
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, reason) = match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.unwrap_or_else(|| "terminated".into()))
            }
            SupervisionEvent::ActorFailed(cell, err) => (cell, err.to_string()),
            _ => return Ok(()),
        };
        if cell.get_id() == state.stats.get_id() {
            error!(reason = %reason, "stats actor died, stopping the tree");
            return Err(format!("stats actor died: {reason}").into());
        }
        if cell.get_id() == state.pruner.get_id() {
            state.charge_restart()?;
            warn!(reason = %reason, "pruner died, restarting");
            state.pruner = spawn_pruner(
                myself.get_cell(),
                &state.store,
                &state.retention,
                &state.stats,
                &state.metrics,
            )
            .await?;
            return Ok(());
        }
        let Some(shard) = state.shard_of(&cell) else {
            return Ok(());
        };
        let noticed_at = Instant::now();
        if !state.chaos_victims.remove(&cell.get_id()) {
            state.charge_restart()?;
        }
        warn!(shard, reason = %reason, "shard died, restarting");
        state.metrics.shard_restarted(shard);
        let shard_ref = state.spawn_shard(&myself, shard).await?;
        state.shards[shard as usize] = shard_ref;
        let took = noticed_at.elapsed();
        let _ = state
            .stats
            .send_message(StatsMsg::ShardRestarted { shard, took });
        Ok(())
    }

    /// Graceful stop: let every shard commit what it holds, then stop the stats actor.
    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(timer) = state.chaos_timer.take() {
            timer.abort();
        }
        state.cluster_watcher.abort();
        // Drain every shard at once; the caller of stop bounds the total wait.
        let drains = state
            .shards
            .iter()
            .map(|shard| shard.drain_and_wait(Some(CHILD_DRAIN_TIMEOUT)));
        futures::future::join_all(drains).await;
        let _ = state
            .pruner
            .stop_and_wait(None, Some(CHILD_DRAIN_TIMEOUT))
            .await;
        let _ = state.stats.drain_and_wait(Some(CHILD_DRAIN_TIMEOUT)).await;
        info!("actor tree stopped");
        Ok(())
    }
}

impl SupervisorState {
    async fn spawn_shard(
        &self,
        myself: &ActorRef<SupervisorMsg>,
        shard: ShardId,
    ) -> Result<ActorRef<ShardMsg>, ActorProcessingErr> {
        let commit_slots = self
            .commit_slots
            .get(shard as usize)
            .cloned()
            .ok_or_else(|| format!("no commit slots for shard {shard}"))?;
        let args = ShardArgs {
            shard,
            store: self.store.clone(),
            stats: self.stats.clone(),
            batching: self.batching,
            chaos: ChaosDice::new(self.chaos.panic_rate),
            commit_slots,
            // Twice the store timeout: by then any commit of a dead incarnation has ended.
            resync_delay: self.store.operation_timeout() * 2,
            metrics: self.metrics.clone(),
            fastpath_budget: self.fastpath_budget.clone(),
            fastpath_trust: trust_window(
                self.retention.policy.shortest(),
                self.store.operation_timeout(),
            ),
        };
        let (shard_ref, _) = Actor::spawn_linked(None, ShardActor, args, myself.get_cell()).await?;
        Ok(shard_ref)
    }

    fn route(&self, shard: ShardId, events: Vec<Event>, reply: IngestReply) {
        let Some(shard_ref) = self.shards.get(shard as usize) else {
            let _ = reply.send(Err(IngestError::ShardUnavailable(shard)));
            return;
        };
        if let Err(ractor::MessagingErr::SendErr(ShardMsg::Ingest(_, reply))) =
            shard_ref.send_message(ShardMsg::Ingest(events, reply))
        {
            let _ = reply.send(Err(IngestError::ShardUnavailable(shard)));
        }
    }

    fn kill_random_shard(&mut self) {
        if self.shards.is_empty() {
            return;
        }
        let victim = rand::thread_rng().gen_range(0..self.shards.len());
        info!(shard = victim, "chaos: killing shard");
        self.chaos_victims.insert(self.shards[victim].get_id());
        self.shards[victim].kill();
    }

    fn shard_of(&self, cell: &ActorCell) -> Option<ShardId> {
        let id = cell.get_id();
        let index = self.shards.iter().position(|shard| shard.get_id() == id)?;
        ShardId::try_from(index).ok()
    }

    fn live_shards(&self) -> usize {
        self.shards
            .iter()
            .filter(|shard| shard.get_status() == ractor::ActorStatus::Running)
            .count()
    }

    /// Records a restart; fails when the budget of the sliding window is spent.
    fn charge_restart(&mut self) -> Result<(), ActorProcessingErr> {
        let now = Instant::now();
        let window = self.restart_budget.window;
        while let Some(&oldest) = self.recent_restarts.front() {
            if now.duration_since(oldest) <= window {
                break;
            }
            self.recent_restarts.pop_front();
        }
        if self.recent_restarts.len() >= self.restart_budget.max_restarts {
            error!(
                restarts = self.recent_restarts.len(),
                "shard restart budget exhausted, escalating"
            );
            return Err("shard restart budget exhausted".into());
        }
        self.recent_restarts.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
