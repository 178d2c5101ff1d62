//! `SupervisorActor`: the root of the tree. It spawns the stats actor and the shards, routes
//! ingest requests to the shard that owns their topic, and restarts shards that die.
//!
//! ```text
//!                 SupervisorActor
//!                /       |        \
//!         StatsActor  Shard 0 ... Shard N-1
//! ```
//!
//! A dead shard is respawned with the same index (so the same topics, counter row and commit
//! order) as long as the restart budget allows; past it the supervisor fails, and with it the
//! process, so that an orchestrator can restart everything. The stats actor is not restarted in
//! place: its death means the live counters can no longer be trusted, so it escalates too.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tracing::{error, info, warn};

use super::shard::{IngestReply, ShardActor, ShardArgs, ShardMsg};
use super::stats::{StatsActor, StatsArgs, StatsMsg};
use super::IngestError;
use crate::config::BatchConfig;
use crate::event::Event;
use crate::store::{ShardId, SharedStore};

/// How long the supervisor waits for its children to drain on a graceful stop.
const CHILD_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Shard restarts allowed within [`RESTART_WINDOW`] before the supervisor gives up.
pub const MAX_RESTARTS_IN_WINDOW: usize = 20;
/// The sliding window of the restart budget.
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// The supervisor's behaviour.
pub struct SupervisorActor;

/// Messages of the supervisor.
pub enum SupervisorMsg {
    /// Forward events (all owned by `shard`) to that shard; it answers `reply` after the commit.
    Route(ShardId, Vec<Event>, IngestReply),
    /// The stats actor, for snapshot queries.
    StatsRef(RpcReplyPort<ActorRef<StatsMsg>>),
    /// Number of live shards, for readiness.
    LiveShards(RpcReplyPort<usize>),
}

/// Start-up arguments.
pub struct SupervisorArgs {
    /// Number of shards.
    pub shard_count: u32,
    /// Shared store handed to every child.
    pub store: SharedStore,
    /// Group-commit knobs for the shards.
    pub batching: BatchConfig,
    /// When the application started.
    pub started_at: Instant,
}

/// Children and restart bookkeeping.
pub struct SupervisorState {
    shards: Vec<ActorRef<ShardMsg>>,
    stats: ActorRef<StatsMsg>,
    store: SharedStore,
    batching: BatchConfig,
    recent_restarts: VecDeque<Instant>,
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
        let mut state = SupervisorState {
            shards: Vec::with_capacity(args.shard_count as usize),
            stats,
            store: args.store,
            batching: args.batching,
            recent_restarts: VecDeque::new(),
        };
        for shard in 0..args.shard_count {
            let shard_ref = state.spawn_shard(&myself, shard).await?;
            state.shards.push(shard_ref);
        }
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Route(shard, events, reply) => state.route(shard, events, reply),
            SupervisorMsg::StatsRef(reply) => {
                let _ = reply.send(state.stats.clone());
            }
            SupervisorMsg::LiveShards(reply) => {
                let _ = reply.send(state.live_shards());
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
        let Some(shard) = state.shard_of(&cell) else {
            return Ok(());
        };
        state.charge_restart()?;
        warn!(shard, reason = %reason, "shard died, restarting");
        let shard_ref = state.spawn_shard(&myself, shard).await?;
        state.shards[shard as usize] = shard_ref;
        let _ = state.stats.send_message(StatsMsg::ShardRestarted(shard));
        Ok(())
    }

    /// Graceful stop: let every shard commit what it holds, then stop the stats actor.
    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        for shard in &state.shards {
            let _ = shard.drain_and_wait(Some(CHILD_DRAIN_TIMEOUT)).await;
        }
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
        let args = ShardArgs {
            shard,
            store: self.store.clone(),
            stats: self.stats.clone(),
            batching: self.batching.clone(),
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
        while let Some(&oldest) = self.recent_restarts.front() {
            if now.duration_since(oldest) <= RESTART_WINDOW {
                break;
            }
            self.recent_restarts.pop_front();
        }
        if self.recent_restarts.len() >= MAX_RESTARTS_IN_WINDOW {
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
