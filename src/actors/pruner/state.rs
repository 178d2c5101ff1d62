//! The pruner's state and what its steps do: the walk (the sweep of the default retention,
//! then the topics a rule covers) and purges, each deletion bounded, paced and reported.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::ActorRef;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::pace::Pace;
use crate::actors::config::RetentionConfig;
use crate::actors::stats::StatsMsg;
use crate::metrics::Metrics;
use crate::retention::{Keep, RetentionPolicy, RuledTopics};
use crate::store::{
    FeedPosition, Removal, RemoveReport, RemoveRequest, SharedStore, StoreError, SweepRequest,
};

/// How long a purge waits before trying a topic that another instance is pruning right now.
const BUSY_RETRY: Duration = Duration::from_millis(20);

/// Topics read per page of a walk.
const TOPICS_PER_PAGE: u32 = 500;

/// A walk, under way.
pub(super) struct Walk {
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

impl Walk {
    /// A walk starting now: the sweep when the default expires, the topics when a rule does.
    pub(super) fn new(sweeping: bool, by_topic: bool) -> Self {
        Self {
            started: Instant::now(),
            sweeping,
            by_topic,
            queue: VecDeque::new(),
            after: None,
            listed_all: false,
            lag: Duration::ZERO,
        }
    }

    /// Keeps the lag of the most overdue row deleted so far, `report`'s included.
    fn note_lag(&mut self, report: &RemoveReport) {
        if let Some(overdue) = report.overdue {
            self.lag = self.lag.max(overdue);
        }
    }
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
    /// How long to wait after a full batch.
    pace: Pace,
    /// How often a walk starts (`None`: nothing expires, no walks).
    pub(super) interval: Option<Duration>,
    stats: ActorRef<StatsMsg>,
    metrics: Metrics,
    /// The walk under way, if any.
    pub(super) walk: Option<Walk>,
    /// Sends `PrunerMsg::Tick` every interval; aborted when the pruner stops.
    pub(super) ticker: Option<JoinHandle<()>>,
}

impl PrunerState {
    /// The state of a pruner that has not walked yet.
    pub(super) fn new(
        store: SharedStore,
        retention: RetentionConfig,
        stats: ActorRef<StatsMsg>,
        metrics: Metrics,
    ) -> Self {
        Self {
            interval: retention.interval(),
            batch_rows: retention.batch_rows.max(1),
            pace: Pace::new(store.has_one_writer(), store.commit_signal()),
            ruled: retention.policy.ruled_topics(),
            sweep_from: FeedPosition::START,
            policy: retention.policy,
            store,
            stats,
            metrics,
            walk: None,
            ticker: None,
        }
    }

    /// Starts a walk: the sweep when the default expires, the topics when a rule does.
    pub(super) fn start_walk(&mut self) {
        self.walk = Some(Walk::new(
            self.policy.default_keep() != Keep::Forever,
            self.policy.rules_expire_anything(),
        ));
    }

    /// [`PrunerState::step`]; a deletion that fails skips its topic for this walk (a sweep
    /// that fails, the rest of this walk's sweep), logged, so that one topic the store cannot
    /// prune does not stop the others from expiring. Only a failure to list topics ends the
    /// walk.
    pub(super) async fn step_or_skip(&mut self) -> Result<Option<Duration>, StoreError> {
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
        let (report, pause) = self.remove_batch(&topic, removal).await?;
        let Some(walk) = self.walk.as_mut() else {
            return Ok(None);
        };
        walk.note_lag(&report);
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
        let (report, pause) = self.pace.time(self.store.sweep(request)).await?;
        self.sweep_from = report.next;
        self.record(&report.removal, Removal::Expired { older_than });
        let Some(walk) = self.walk.as_mut() else {
            return Ok(None);
        };
        walk.note_lag(&report.removal);
        // Another instance sweeping right now covers the same rows.
        let more = !report.finished && !report.removal.busy;
        walk.sweeping = more;
        Ok(Some(if more { pause } else { Duration::ZERO }))
    }

    /// Deletes the rows of `topic` up to its last `seq` now, in paced batches.
    pub(super) async fn purge(&mut self, topic: &str) -> Result<PurgeOutcome, StoreError> {
        let up_to_seq = self.store.feed_end(Some(topic)).await?.seq;
        let removal = Removal::Purged { up_to_seq };
        let mut removed = 0;
        loop {
            let (report, pause) = self.remove_batch(topic, removal).await?;
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

    /// One bounded deletion, and the pause owed after it should another follow.
    async fn remove_batch(
        &mut self,
        topic: &str,
        removal: Removal,
    ) -> Result<(RemoveReport, Duration), StoreError> {
        let request = RemoveRequest {
            topic,
            removal,
            limit: self.batch_rows,
        };
        self.pace.time(self.store.remove(request)).await
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
