//! `PrunerActor`: deletes what the retention policy says has expired, and purges a topic when
//! an operator asks.
//!
//! Every [`RetentionConfig::interval`] it starts a *walk* unless one is still under way. A walk
//! goes one step per message, so a purge or a stop never waits behind a whole walk. It first
//! *sweeps* the default retention: each step examines the next `batch_rows` rows in commit
//! order from where the last sweep stopped and deletes the expired ones whose topic no rule
//! covers ([`crate::store::Pruning::sweep`]), until it meets a row not yet due. Then, when some
//! rule expires anything, it visits every topic the store knows (a page of topics at a time)
//! and deletes up to `batch_rows` expired rows of each topic a rule covers per step
//! ([`crate::store::Pruning::remove`]; a topic with nothing due costs one index probe). The
//! sweep exists because rows of one topic are spread over the whole table: deleting them topic
//! by topic dirtied a page for every one or two rows (DESIGN.md "Retention"). After a full
//! batch (more may be due) the next step waits four times as long as the batch took when
//! something was committed meanwhile, so deletion takes at most a fifth of one database
//! connection's time while ingest goes on; on the embedded store, whose one writer also makes
//! every commit, nine times as long: a tenth of that writer. With nothing committed it does
//! not wait at all: an idle store is pruned at full speed (`pruner/pace.rs`).
//!
//! A purge deletes the topic's rows up to its last `seq` at the moment the purge began, in the
//! same bounded, paced batches, inside the handler (the caller waits for the count). Every
//! deletion reports the instance's removal counter row to the stats actor, the same way shards
//! report their counter rows, so `/stats` stays exact. A deletion that fails is logged and its
//! topic skipped until the next walk; a failure to list topics ends the walk.

use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::warn;

mod pace;
mod state;

pub use state::{PrunerState, PurgeOutcome};

use super::config::RetentionConfig;
use super::stats::StatsMsg;
use crate::metrics::Metrics;
use crate::store::{SharedStore, StoreError};

/// The pruner's behaviour.
pub struct PrunerActor;

/// Messages of the pruner.
pub enum PrunerMsg {
    /// The interval passed: start a walk unless one is under way.
    Tick,
    /// Take the next step of the walk under way.
    Step,
    /// Delete every row of the topic committed before now; answered with the count.
    Purge(String, RpcReplyPort<Result<PurgeOutcome, StoreError>>),
}

/// Start-up arguments.
pub struct PrunerArgs {
    /// Where rows are deleted.
    pub store: SharedStore,
    /// The policy and the pace.
    pub retention: RetentionConfig,
    /// Receives this instance's removal counter row after each deletion.
    pub stats: ActorRef<StatsMsg>,
    /// The app's registry (rows deleted, last walk's duration and lag).
    pub metrics: Metrics,
}

impl Actor for PrunerActor {
    type Msg = PrunerMsg;
    type State = PrunerState;
    type Arguments = PrunerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: PrunerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(PrunerState::new(
            args.store,
            args.retention,
            args.stats,
            args.metrics,
        ))
    }

    /// Nothing expires without a finite retention: no walks then, only purges.
    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut PrunerState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(interval) = state.interval {
            let _ = myself.send_message(PrunerMsg::Tick);
            state.ticker = Some(myself.send_interval(interval, || PrunerMsg::Tick));
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: PrunerMsg,
        state: &mut PrunerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PrunerMsg::Tick if state.walk.is_none() => {
                state.start_walk();
                let _ = myself.send_message(PrunerMsg::Step);
            }
            PrunerMsg::Tick => {}
            PrunerMsg::Step => match state.step_or_skip().await {
                Ok(Some(Duration::ZERO)) => {
                    let _ = myself.send_message(PrunerMsg::Step);
                }
                Ok(Some(pause)) => {
                    myself.send_after(pause, || PrunerMsg::Step);
                }
                Ok(None) => {}
                Err(err) => {
                    warn!(error = %err, "pruning step failed; the next interval starts over");
                    state.walk = None;
                }
            },
            PrunerMsg::Purge(topic, reply) => {
                let _ = reply.send(state.purge(&topic).await);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut PrunerState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(ticker) = state.ticker.take() {
            ticker.abort();
        }
        Ok(())
    }
}

/// Spawns the pruner, linked to `supervisor`, which restarts it when it dies.
pub async fn spawn_pruner(
    supervisor: ActorCell,
    store: &SharedStore,
    retention: &RetentionConfig,
    stats: &ActorRef<StatsMsg>,
    metrics: &Metrics,
) -> Result<ActorRef<PrunerMsg>, ActorProcessingErr> {
    let args = PrunerArgs {
        store: store.clone(),
        retention: retention.clone(),
        stats: stats.clone(),
        metrics: metrics.clone(),
    };
    let (pruner, _) = Actor::spawn_linked(None, PrunerActor, args, supervisor).await?;
    Ok(pruner)
}
