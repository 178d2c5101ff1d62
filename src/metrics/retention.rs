//! Metrics of retention: rows deleted by expiry and by purges, and how the last pruning pass
//! went (its duration, and how far past its deadline the most overdue row it deleted was).
//! Recorded by the pruner actor; `registry.rs` names and registers them at start, so that
//! `/metrics` lists them at zero.

use super::registry::{
    counter, gauge, Metrics, EVENTS_EXPIRED, EVENTS_PURGED, PRUNE_DURATION, PRUNE_LAG,
};

impl Metrics {
    /// This instance deleted `expired` expired rows and `purged` purged rows.
    pub fn events_removed(&self, expired: u64, purged: u64) {
        counter(self.recorder(), EVENTS_EXPIRED, Vec::new()).increment(expired);
        counter(self.recorder(), EVENTS_PURGED, Vec::new()).increment(purged);
    }

    /// A pruning walk ended after `took` seconds, its most overdue row
    /// `lag` seconds past its deadline.
    pub fn prune_pass(&self, took: f64, lag: f64) {
        gauge(self.recorder(), PRUNE_DURATION, Vec::new()).set(took);
        gauge(self.recorder(), PRUNE_LAG, Vec::new()).set(lag);
    }
}
