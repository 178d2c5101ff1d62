//! `PrunerActor`: deletes what the retention policy says has expired, and purges a topic when
//! an operator asks.
//!
//! Every [`RetentionConfig::interval`] it starts a *walk* unless one is still under way. A walk
//! goes one step per message, so a purge or a stop never waits behind a whole walk. It first
//! *sweeps* the default retention: each step examines the next `batch_rows` rows in commit
//! order from where the last sweep stopped and deletes the expired ones whose topic no rule
//! covers ([`crate::store::Store::sweep`]), until it meets a row not yet due. Then, when some
//! rule expires anything, it visits every topic the store knows (a page of topics at a time)
//! and deletes up to `batch_rows` expired rows of each topic a rule covers per step
//! ([`crate::store::Store::remove`]; a topic with nothing due costs one index probe). The
//! sweep exists because rows of one topic are spread over the whole table: deleting them topic
//! by topic dirtied a page for every one or two rows (DESIGN.md "Retention"). After a full
//! batch (more may be due) the next step waits [`PAUSE_FACTOR`] times as long as the batch
//! took, so deletion takes at most a fifth of one database connection's time (of the embedded
//! store's one writer).
//!
//! A purge deletes the topic's rows up to its last `seq` at the moment the purge began, in the
//! same bounded, paced batches, inside the handler (the caller waits for the count). Every
//! deletion reports the instance's removal counter row to the stats actor, the same way shards
//! report their counter rows, so `/stats` stays exact. A deletion that fails is logged and its
//! topic skipped until the next walk; a failure to list topics ends the walk.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::config::RetentionConfig;
use super::stats::StatsMsg;
use crate::metrics::Metrics;
use crate::retention::{Keep, RetentionPolicy, RuledTopics};
use crate::store::{
    FeedPosition, Removal, RemoveReport, RemoveRequest, SharedStore, StoreError, SweepRequest,
};

/// Topics read per page of a walk.
const TOPICS_PER_PAGE: u32 = 500;
/// After a full batch, the pruner waits this many times as long as the batch took: deleting
/// then takes at most `1 / (1 + PAUSE_FACTOR)` of one connection (of the embedded store's one
/// writer), and ingest keeps the rest (measured in `benches/run.py`, DESIGN.md "Retention").
const PAUSE_FACTOR: u32 = 4;
/// How long a purge waits before trying a topic that another instance is pruning right now.
const BUSY_RETRY: Duration = Duration::from_millis(20);

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

/// What a purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeOutcome {
    /// Rows deleted.
    pub removed: u64,
    /// The topic's last `seq` when the purge began: every row at or below it is gone, every
    /// row above it (committed after) is kept.
    pub up_to_seq: i64,
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

/// A walk, under way.
struct Walk {
    /// When it began, for its duration.
    started: Instant,
    /// Whether the sweep of the default retention is still under way (it comes first).
    sweeping: bool,
    /// Whether topics are visited after the sweep (some rule expires something).
    by_topic: bool,
    /// Topics still to visit, the current one first.
    queue: VecDeque<String>,
    /// Where the next page of topics starts.
    after: Option<String>,
    /// Whether the last page was read.
    listed_all: bool,
    /// How far past its deadline the most overdue row deleted so far was.
    lag: Duration,
}

/// The pruner's state.
pub struct PrunerState {
    store: SharedStore,
    policy: Arc<RetentionPolicy>,
    /// The topics a rule covers: the sweep leaves them to the visits of topics.
    ruled: RuledTopics,
    /// Where the next sweep starts: every row before it is gone or covered by a rule. From
    /// the start after a restart (the first sweep then passes over the rules' rows again).
    sweep_from: FeedPosition,
    /// Most rows one deletion removes (one sweep examines).
    batch_rows: u32,
    /// How often a walk starts (`None`: nothing expires, no walks).
    interval: Option<Duration>,
    stats: ActorRef<StatsMsg>,
    metrics: Metrics,
    /// The walk under way, if any.
    walk: Option<Walk>,
    /// Sends [`PrunerMsg::Tick`] every interval; aborted when the pruner stops.
    ticker: Option<JoinHandle<()>>,
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
        Ok(PrunerState {
            interval: args.retention.interval(),
            batch_rows: args.retention.batch_rows.max(1),
            ruled: args.retention.policy.ruled_topics(),
            sweep_from: FeedPosition::START,
            policy: args.retention.policy,
            store: args.store,
            stats: args.stats,
            metrics: args.metrics,
            walk: None,
            ticker: None,
        })
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
                state.walk = Some(Walk {
                    started: Instant::now(),
                    sweeping: state.policy.default_keep() != Keep::Forever,
                    by_topic: state.policy.rules_expire_anything(),
                    queue: VecDeque::new(),
                    after: None,
                    listed_all: false,
                    lag: Duration::ZERO,
                });
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

/// One bounded deletion, and the pause owed after it should another follow: [`PAUSE_FACTOR`]
/// times as long as it took.
async fn remove_batch(
    store: &SharedStore,
    topic: &str,
    removal: Removal,
    limit: u32,
) -> Result<(RemoveReport, Duration), StoreError> {
    let began = Instant::now();
    let request = RemoveRequest {
        topic,
        removal,
        limit,
    };
    let report = store.remove(request).await?;
    Ok((report, began.elapsed() * PAUSE_FACTOR))
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

impl PrunerState {
    /// [`PrunerState::step`]; a deletion that fails skips its topic for this walk (a sweep
    /// that fails, the rest of this walk's sweep), logged, so that one topic the store cannot
    /// prune does not stop the others from expiring. Only a failure to list topics ends the
    /// walk.
    async fn step_or_skip(&mut self) -> Result<Option<Duration>, StoreError> {
        match self.step().await {
            Err(err) if self.walk.as_ref().is_some_and(|walk| walk.sweeping) => {
                warn!(error = %err, "sweeping the default retention failed; resumed next walk");
                if let Some(walk) = self.walk.as_mut() {
                    walk.sweeping = false;
                }
                Ok(Some(Duration::ZERO))
            }
            Err(err)
                if self
                    .walk
                    .as_ref()
                    .is_some_and(|walk| !walk.queue.is_empty()) =>
            {
                if let Some(topic) = self.walk.as_mut().and_then(|walk| walk.queue.pop_front()) {
                    warn!(topic = %topic, error = %err, "pruning a topic failed; skipped until the next walk");
                }
                Ok(Some(Duration::ZERO))
            }
            other => other,
        }
    }

    /// One step of the walk: `Some(pause)` before the next one, `None` when the walk ended.
    async fn step(&mut self) -> Result<Option<Duration>, StoreError> {
        let Some(walk) = self.walk.as_mut() else {
            return Ok(None);
        };
        if walk.sweeping {
            return self.sweep().await;
        }
        let Some(topic) = walk.queue.front().cloned() else {
            if walk.listed_all || !walk.by_topic {
                let took = walk.started.elapsed();
                debug!(took = ?took, lag = ?walk.lag, "pruning walk ended");
                self.metrics
                    .prune_pass(took.as_secs_f64(), walk.lag.as_secs_f64());
                self.walk = None;
                return Ok(None);
            }
            let page = self
                .store
                .topics_after(walk.after.as_deref(), TOPICS_PER_PAGE)
                .await?;
            walk.listed_all = page.len() < TOPICS_PER_PAGE as usize;
            walk.after = page.last().cloned();
            walk.queue.extend(page);
            return Ok(Some(Duration::ZERO));
        };
        let Some(Keep::For(older_than)) = self.policy.rule_for(&topic) else {
            walk.queue.pop_front();
            return Ok(Some(Duration::ZERO));
        };
        let removal = Removal::Expired { older_than };
        let (report, pause) = remove_batch(&self.store, &topic, removal, self.batch_rows).await?;
        if let Some(overdue) = report.overdue {
            walk.lag = walk.lag.max(overdue);
        }
        let more = !report.busy && report.removed >= u64::from(self.batch_rows);
        if !more {
            walk.queue.pop_front();
        }
        self.record(&report, removal);
        Ok(Some(if more { pause } else { Duration::ZERO }))
    }

    /// One sweep of the default retention from where the last one stopped.
    async fn sweep(&mut self) -> Result<Option<Duration>, StoreError> {
        let Keep::For(older_than) = self.policy.default_keep() else {
            if let Some(walk) = self.walk.as_mut() {
                walk.sweeping = false;
            }
            return Ok(Some(Duration::ZERO));
        };
        let request = SweepRequest {
            after: self.sweep_from,
            older_than,
            except: &self.ruled,
            limit: self.batch_rows,
        };
        let began = Instant::now();
        let report = self.store.sweep(request).await?;
        let pause = began.elapsed() * PAUSE_FACTOR;
        self.sweep_from = report.next;
        self.record(&report.removal, Removal::Expired { older_than });
        let Some(walk) = self.walk.as_mut() else {
            return Ok(None);
        };
        if let Some(overdue) = report.removal.overdue {
            walk.lag = walk.lag.max(overdue);
        }
        // Another instance sweeping right now covers the same rows.
        let more = !report.finished && !report.removal.busy;
        walk.sweeping = more;
        Ok(Some(if more { pause } else { Duration::ZERO }))
    }

    /// Deletes the rows of `topic` up to its last `seq` now, in paced batches.
    async fn purge(&mut self, topic: &str) -> Result<PurgeOutcome, StoreError> {
        let up_to_seq = self.store.feed_end(Some(topic)).await?.seq;
        let removal = Removal::Purged { up_to_seq };
        let mut removed = 0;
        loop {
            let (report, pause) =
                remove_batch(&self.store, topic, removal, self.batch_rows).await?;
            self.record(&report, removal);
            removed += report.removed;
            if report.busy {
                tokio::time::sleep(BUSY_RETRY).await;
                continue;
            }
            if report.removed < u64::from(self.batch_rows) {
                return Ok(PurgeOutcome { removed, up_to_seq });
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Counts a deletion in the metrics and hands the counter row to the stats actor.
    fn record(&self, report: &RemoveReport, removal: Removal) {
        if report.removed == 0 {
            return;
        }
        match removal {
            Removal::Expired { .. } => self.metrics.events_removed(report.removed, 0),
            Removal::Purged { .. } => self.metrics.events_removed(0, report.removed),
        }
        if let Some(counters) = report.counters_after {
            let _ = self.stats.send_message(StatsMsg::Removed(counters));
        }
    }
}
