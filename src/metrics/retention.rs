//! Metrics of retention: rows deleted by expiry and by purges, and how the last pruning pass
//! went (its duration, and how far past its deadline the most overdue row it deleted was).
//! Recorded by the pruner actor; registered at start so that `/metrics` lists them at zero.

use ::metrics::{Counter, Gauge, Key, Level, Metadata, Recorder};
use metrics_exporter_prometheus::PrometheusRecorder;

use super::registry::Metrics;

/// Rows deleted because their topic's retention ran out (by this instance).
pub const EVENTS_EXPIRED: &str = "aggregator_events_expired_total";
/// Rows deleted by purges of their topic (by this instance).
pub const EVENTS_PURGED: &str = "aggregator_events_purged_total";
/// Duration of the last complete pruning pass over every topic.
pub const PRUNE_DURATION: &str = "aggregator_prune_last_duration_seconds";
/// How far past its deadline the most overdue row of the last pass was when it was deleted (0
/// when the pass found nothing overdue): the pruner's lag.
pub const PRUNE_LAG: &str = "aggregator_prune_lag_seconds";

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn counter(recorder: &PrometheusRecorder, name: &'static str) -> Counter {
    recorder.register_counter(&Key::from_name(name), &METADATA)
}

fn gauge(recorder: &PrometheusRecorder, name: &'static str) -> Gauge {
    recorder.register_gauge(&Key::from_name(name), &METADATA)
}

/// Describes and registers the retention families (at zero).
pub(super) fn describe(recorder: &PrometheusRecorder) {
    recorder.describe_counter(
        EVENTS_EXPIRED.into(),
        None,
        "stored events deleted because their retention ran out".into(),
    );
    recorder.describe_counter(
        EVENTS_PURGED.into(),
        None,
        "stored events deleted by purges of their topic".into(),
    );
    recorder.describe_gauge(
        PRUNE_DURATION.into(),
        Some(::metrics::Unit::Seconds),
        "duration of the last complete pruning pass".into(),
    );
    recorder.describe_gauge(
        PRUNE_LAG.into(),
        Some(::metrics::Unit::Seconds),
        "how far past its deadline the most overdue row of the last pass was".into(),
    );
    counter(recorder, EVENTS_EXPIRED).absolute(0);
    counter(recorder, EVENTS_PURGED).absolute(0);
    gauge(recorder, PRUNE_DURATION).set(0.0);
    gauge(recorder, PRUNE_LAG).set(0.0);
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
