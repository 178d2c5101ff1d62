//! Metrics of retention: rows deleted by expiry and by purges, and how the last pruning pass
//! went (its duration, and how far past its deadline the most overdue row it deleted was).
//! Recorded by the pruner actor; `registry.rs` names and registers them at start, so that
//! `/metrics` lists them at zero.

use ::metrics::{Counter, Gauge, Key, Level, Metadata, Recorder};
use metrics_exporter_prometheus::PrometheusRecorder;

use super::registry::{Metrics, EVENTS_EXPIRED, EVENTS_PURGED, PRUNE_DURATION, PRUNE_LAG};

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn counter(recorder: &PrometheusRecorder, name: &'static str) -> Counter {
    recorder.register_counter(&Key::from_name(name), &METADATA)
}

fn gauge(recorder: &PrometheusRecorder, name: &'static str) -> Gauge {
    recorder.register_gauge(&Key::from_name(name), &METADATA)
}

impl Metrics {
    /// This instance deleted `expired` expired rows and `purged` purged rows.
    pub fn events_removed(&self, expired: u64, purged: u64) {
        counter(self.recorder(), EVENTS_EXPIRED).increment(expired);
        counter(self.recorder(), EVENTS_PURGED).increment(purged);
    }

    /// A pruning pass over every topic ended after `took` seconds, its most overdue row
    /// `lag` seconds past its deadline.
    pub fn prune_pass(&self, took: f64, lag: f64) {
        gauge(self.recorder(), PRUNE_DURATION).set(took);
        gauge(self.recorder(), PRUNE_LAG).set(lag);
    }
}
