//! The cluster watcher: a task that, every [`CLUSTER_REFRESH`], records this instance's
//! heartbeat and reads what every instance sharing the store has committed, and hands the view
//! to the stats actor. So `/stats` on every instance shows the same totals, topics and
//! instances, at most about one refresh stale.
//!
//! A task, not the stats actor itself: a slow or unreachable store then delays the next view,
//! never a `/stats` answer. The supervisor spawns it beside the stats actor and aborts it when
//! the tree stops.

use std::time::Duration;

use ractor::ActorRef;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::warn;

use super::stats::StatsMsg;
use crate::store::SharedStore;

/// How often every instance reads the others' counters.
pub const CLUSTER_REFRESH: Duration = Duration::from_secs(1);

/// Starts the watcher; it ends when the stats actor is gone.
pub fn spawn_watcher(store: SharedStore, stats: ActorRef<StatsMsg>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CLUSTER_REFRESH);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut topics_after = 0;
        loop {
            ticks.tick().await;
            match store.cluster_view(topics_after).await {
                Ok(view) => {
                    topics_after = view.topics_cursor;
                    if stats.send_message(StatsMsg::Cluster(view)).is_err() {
                        return;
                    }
                }
                Err(err) => warn!(error = %err, "cannot read the cluster's counters"),
            }
        }
    })
}
