//! The cluster watcher: a task that, every [`CLUSTER_REFRESH`], records this instance's
//! heartbeat and reads what every instance sharing the store has committed, and hands the view
//! to the stats actor. So `/stats` on every instance shows the same totals, topics and
//! instances, at most about one refresh stale.
//!
//! It also notices purges made by any instance (the summed `purged` counter grew) and calls
//! `on_purge`, with which the supervisor makes every shard forget the keys it remembers: a
//! purge on another instance deleted rows this instance's fast path may still hold. Then it
//! records in the store the `purged` total it has acted on ([`crate::store::Cluster::acknowledge_purges`]):
//! the instance that purged waits for every live instance to have done so before it answers.
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
pub fn spawn_watcher(
    store: SharedStore,
    stats: ActorRef<StatsMsg>,
    on_purge: impl Fn() + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CLUSTER_REFRESH);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut topics_after = 0;
        let mut purged_seen: Option<u64> = None;
        let mut views_failed = false;
        // The `purged` total last recorded as acted on.
        let mut acknowledged: Option<u64> = None;
        loop {
            ticks.tick().await;
            match store.cluster_view(topics_after).await {
                Ok(view) => {
                    topics_after = view.topics_cursor;
                    let purged = view.removals.total.purged;
                    // The first view is the baseline: it comes at start, before this instance
                    // remembers any key worth mentioning. Unless views failed until now: keys
                    // remembered meanwhile may have been purged elsewhere.
                    let news = match purged_seen {
                        Some(seen) => purged > seen,
                        None => views_failed,
                    };
                    if news {
                        on_purge();
                    }
                    purged_seen = Some(purged);
                    // After `on_purge` has queued the forgetting: a publish that reaches this
                    // instance once a purge has seen this acknowledgement is handled after it.
                    if acknowledged != Some(purged) {
                        match store.acknowledge_purges(purged).await {
                            Ok(()) => acknowledged = Some(purged),
                            Err(err) => {
                                warn!(error = %err, "cannot acknowledge purges; tried again after the next view");
                            }
                        }
                    }
                    if stats.send_message(StatsMsg::Cluster(view)).is_err() {
                        return;
                    }
                }
                Err(err) => {
                    views_failed = true;
                    warn!(error = %err, "cannot read the cluster's counters");
                }
            }
        }
    })
}
