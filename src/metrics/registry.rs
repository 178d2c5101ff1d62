//! The metrics registry: every metric name, and one-line helpers for the code that records them.
//!
//! Each running app owns its own [`Metrics`]: a Prometheus recorder that is *not*
//! installed as the process-global `metrics` recorder. Tests run many apps in one process, and
//! a global recorder would mix their figures; with one registry per app, `GET /metrics` of an
//! app shows that app's figures only. The price is that call sites hold a [`Metrics`] handle
//! (cheap to clone) instead of using the `metrics::counter!` macros.
//!
//! Who records what:
//! - the HTTP layer: responses by status and publish latency (a middleware in `http/`), events
//!   by outcome per shard once a publish is answered (`ActorTree::ingest`);
//! - the store wrapper ([`super::instrumented`]): commit batch size, commit latency, errors;
//! - the supervisor: shard restarts; the shards: fast-path hits ([`Metrics::fastpath_hits`]);
//! - the pruner: rows expired and purged, the last walk's duration and lag
//!   ([`Metrics::events_removed`], [`Metrics::prune_pass`]);
//! - `GET /metrics` itself: the in-flight gauge, read from the shards' semaphores at scrape time.
//!
//! Label cardinality is bounded: `shard` (at most `--shards`), `status` (HTTP codes), `op`
//! (nine store operations), `key` (API key names, bounded by the keys file). Topics are never
//! labels.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use ::metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use tracing::warn;

pub use super::store_op::StoreOp;
use crate::store::ShardId;

/// Events acknowledged to publishers (new + duplicate), label `shard`.
pub const EVENTS_RECEIVED: &str = "aggregator_events_received_total";
/// Events stored for the first time, label `shard`.
pub const EVENTS_NEW: &str = "aggregator_events_new_total";
/// Events dropped as duplicates, label `shard`.
pub const EVENTS_DUPLICATE: &str = "aggregator_events_duplicate_total";
/// Duplicates answered from the shard's in-memory fast path, label `shard`.
pub const FASTPATH_HITS: &str = "aggregator_fastpath_hits_total";
/// Events admitted to a shard and not yet answered (buffered or committing), label `shard`.
pub const SHARD_INFLIGHT: &str = "aggregator_shard_inflight_events";
/// Shard actors restarted by the supervisor, label `shard`.
pub const SHARD_RESTARTS: &str = "aggregator_shard_restarts_total";
/// Time from receiving a `POST /publish` to answering it, whatever the answer.
pub const PUBLISH_DURATION: &str = "aggregator_publish_request_duration_seconds";
/// Events per group commit (the commit's `received`, duplicates included).
pub const COMMIT_BATCH_EVENTS: &str = "aggregator_commit_batch_events";
/// Duration of one group commit in the store, failed ones included.
pub const COMMIT_DURATION: &str = "aggregator_commit_duration_seconds";
/// Store operations that failed, label `op` (see [`StoreOp`]).
pub const STORE_ERRORS: &str = "aggregator_store_errors_total";
/// HTTP responses sent, label `status` (the numeric code).
pub const HTTP_RESPONSES: &str = "aggregator_http_responses_total";
/// Answers to requests made with an API key, labels `key` (its name) and `status`.
pub const KEY_REQUESTS: &str = "aggregator_key_requests_total";
/// Events an API key published that were acknowledged (new or duplicate), label `key`.
pub const KEY_EVENTS: &str = "aggregator_key_events_total";
/// Requests answered `401`, label `reason` (`missing` or `unknown`).
pub const AUTH_REFUSALS: &str = "aggregator_auth_refusals_total";

/// Rows deleted because their topic's retention ran out (by this instance).
pub const EVENTS_EXPIRED: &str = "aggregator_events_expired_total";
/// Rows deleted by purges of their topic (by this instance).
pub const EVENTS_PURGED: &str = "aggregator_events_purged_total";
/// Duration of the last complete pruning walk (the sweep and the visits of topics).
pub const PRUNE_DURATION: &str = "aggregator_prune_last_duration_seconds";
/// How far past its deadline the most overdue row of the last pass was when it was deleted (0
/// when the pass found nothing overdue): the pruner's lag.
pub const PRUNE_LAG: &str = "aggregator_prune_lag_seconds";

/// Buckets of the latency histograms, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of the batch-size histogram, in events.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];
/// How often histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Handles of the metrics labelled by shard, registered once so that recording is a lookup
/// into a `Vec`.
struct ShardHandles {
    received: Counter,
    new: Counter,
    duplicate: Counter,
    fastpath_hits: Counter,
    inflight: Gauge,
    restarts: Counter,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    shards: Vec<ShardHandles>,
    publish_duration: Histogram,
    commit_batch_events: Histogram,
    commit_duration: Histogram,
    /// Indexed by [`StoreOp::index`].
    store_errors: [Counter; StoreOp::COUNT],
    /// One handle per HTTP status (100 to 599), registered on its first answer: every request
    /// counts its status, and a handle saves it building and looking up a labelled key.
    http_responses: Box<[OnceLock<Counter>]>,
}

/// The statuses with a cached handle in [`Inner::http_responses`].
const HTTP_STATUSES: std::ops::Range<u16> = 100..600;

/// One app's metrics registry. Cheap to clone; every clone records into the same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("shards", &self.inner.shards.len())
            .finish()
    }
}

impl Metrics {
    /// A fresh registry for an app with `shard_count` shards. Every family is registered at
    /// once, so that `/metrics` lists them (at zero) before the first event.
    pub fn new(shard_count: u32) -> Self {
        let recorder = build_recorder();
        describe(&recorder);
        describe_retention(&recorder);
        let handle = recorder.handle();
        let shards = (0..shard_count)
            .map(|shard| {
                let labels = || vec![Label::new("shard", shard.to_string())];
                ShardHandles {
                    received: counter(&recorder, EVENTS_RECEIVED, labels()),
                    new: counter(&recorder, EVENTS_NEW, labels()),
                    duplicate: counter(&recorder, EVENTS_DUPLICATE, labels()),
                    fastpath_hits: counter(&recorder, FASTPATH_HITS, labels()),
                    inflight: gauge(&recorder, SHARD_INFLIGHT, labels()),
                    restarts: counter(&recorder, SHARD_RESTARTS, labels()),
                }
            })
            .collect();
        let histogram = |name| recorder.register_histogram(&key(name, Vec::new()), &METADATA);
        let publish_duration = histogram(PUBLISH_DURATION);
        let commit_batch_events = histogram(COMMIT_BATCH_EVENTS);
        let commit_duration = histogram(COMMIT_DURATION);
        let store_errors = StoreOp::ALL
            .map(|op| counter(&recorder, STORE_ERRORS, vec![Label::new("op", op.label())]));
        Self {
            inner: Arc::new(Inner {
                shards,
                publish_duration,
                commit_batch_events,
                commit_duration,
                store_errors,
                http_responses: HTTP_STATUSES.map(|_| OnceLock::new()).collect(),
                recorder,
                handle,
            }),
        }
    }

    /// Folds pending histogram samples into their buckets every few seconds, so that memory
    /// stays bounded when nobody scrapes. The task ends by itself once every clone of this
    /// registry is dropped.
    pub fn spawn_upkeep(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(UPKEEP_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                inner.handle.run_upkeep();
            }
        })
    }

    /// The registry in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        self.inner.handle.render()
    }

    /// A publish was answered 2xx: `new` of its `received` events on `shard` were stored, the
    /// rest were duplicates.
    pub fn events_answered(&self, shard: ShardId, received: usize, new: usize) {
        if let Some(handles) = self.shard(shard) {
            handles.received.increment(received as u64);
            handles.new.increment(new as u64);
            handles
                .duplicate
                .increment(received.saturating_sub(new) as u64);
        }
    }

    /// The shard answered `hits` duplicates of one commit from its in-memory fast path.
    pub fn fastpath_hits(&self, shard: ShardId, hits: u64) {
        if let Some(handles) = self.shard(shard) {
            handles.fastpath_hits.increment(hits);
        }
    }

    /// The supervisor restarted `shard`.
    pub fn shard_restarted(&self, shard: ShardId) {
        if let Some(handles) = self.shard(shard) {
            handles.restarts.increment(1);
        }
    }

    /// `events` events are admitted to `shard` and not answered yet.
    pub fn set_inflight(&self, shard: ShardId, events: usize) {
        if let Some(handles) = self.shard(shard) {
            handles.inflight.set(events as f64);
        }
    }

    /// A group commit of `received` events took `took` (successful or not).
    pub fn commit_finished(&self, received: u64, took: Duration) {
        self.inner.commit_batch_events.record(received as f64);
        self.inner.commit_duration.record(took.as_secs_f64());
    }

    /// A store operation failed.
    pub fn store_error(&self, op: StoreOp) {
        self.inner.store_errors[op.index()].increment(1);
    }

    /// A `POST /publish` was answered after `took`.
    pub fn publish_answered(&self, took: Duration) {
        self.inner.publish_duration.record(took.as_secs_f64());
    }

    /// An HTTP response with this status code was sent.
    pub fn http_response(&self, status: u16) {
        let register = || {
            let labels = vec![Label::new("status", status.to_string())];
            counter(&self.inner.recorder, HTTP_RESPONSES, labels)
        };
        let cached = status
            .checked_sub(HTTP_STATUSES.start)
            .and_then(|offset| self.inner.http_responses.get(usize::from(offset)));
        match cached {
            Some(slot) => slot.get_or_init(register).increment(1),
            None => register().increment(1),
        }
    }

    // API keys: answers per key name and status, events published per key, requests refused
    // before any key was recognised. Key names come from the keys file, so the label's
    // cardinality is bounded by it; keys themselves never appear. Registered on first use.

    /// A request made with the key `name` was answered `status`.
    pub fn key_answered(&self, name: &str, status: u16) {
        let labels = vec![
            Label::new("key", name.to_owned()),
            Label::new("status", status.to_string()),
        ];
        counter(self.recorder(), KEY_REQUESTS, labels).increment(1);
    }

    /// The key `name` published `events` events that were acknowledged.
    pub fn key_published(&self, name: &str, events: usize) {
        let labels = vec![Label::new("key", name.to_owned())];
        counter(self.recorder(), KEY_EVENTS, labels).increment(events as u64);
    }

    /// A request was answered `401`, for `reason` (`missing` or `unknown`).
    pub fn auth_refused(&self, reason: &'static str) {
        let labels = vec![Label::new("reason", reason)];
        counter(self.recorder(), AUTH_REFUSALS, labels).increment(1);
    }

    // Retention, recorded by the pruner actor: rows deleted by expiry and by purges, and how the
    // last pruning pass went (its duration, and how far past its deadline the most overdue row
    // it deleted was). Registered at start (`describe_retention`), so that `/metrics` lists them at zero.

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

    /// The recorder, for the families registered on use (the API keys' above).
    fn recorder(&self) -> &PrometheusRecorder {
        &self.inner.recorder
    }

    fn shard(&self, shard: ShardId) -> Option<&ShardHandles> {
        let handles = self.inner.shards.get(shard as usize);
        debug_assert!(handles.is_some(), "shard {shard} has no metrics");
        handles
    }
}

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn key(name: &'static str, labels: Vec<Label>) -> Key {
    Key::from_parts(name, labels)
}

fn counter(recorder: &PrometheusRecorder, name: &'static str, labels: Vec<Label>) -> Counter {
    recorder.register_counter(&key(name, labels), &METADATA)
}

/// A gauge handle on `recorder` (registered on first use).
fn gauge(recorder: &PrometheusRecorder, name: &'static str, labels: Vec<Label>) -> Gauge {
    recorder.register_gauge(&key(name, labels), &METADATA)
}

fn build_recorder() -> PrometheusRecorder {
    let with_buckets = |builder: PrometheusBuilder, name: &str, buckets: &[f64]| {
        builder.set_buckets_for_metric(Matcher::Full(name.into()), buckets)
    };
    let builder = Ok(PrometheusBuilder::new())
        .and_then(|b| with_buckets(b, PUBLISH_DURATION, LATENCY_BUCKETS))
        .and_then(|b| with_buckets(b, COMMIT_DURATION, LATENCY_BUCKETS))
        .and_then(|b| with_buckets(b, COMMIT_BATCH_EVENTS, BATCH_BUCKETS));
    match builder {
        Ok(builder) => builder.build_recorder(),
        // Only an empty bucket list is refused, and ours are non-empty constants; should that
        // ever change, latencies are still exported (as summaries) rather than failing start.
        Err(err) => {
            warn!(error = %err, "histogram buckets refused, exporting summaries");
            PrometheusBuilder::new().build_recorder()
        }
    }
}

fn describe(recorder: &PrometheusRecorder) {
    let counters = [
        (EVENTS_RECEIVED, "events acknowledged to publishers"),
        (EVENTS_NEW, "events stored for the first time"),
        (EVENTS_DUPLICATE, "events dropped as duplicates"),
        (
            FASTPATH_HITS,
            "duplicates answered from the in-memory fast path",
        ),
        (SHARD_RESTARTS, "shard actors restarted by the supervisor"),
        (STORE_ERRORS, "failed store operations"),
        (HTTP_RESPONSES, "HTTP responses sent, by status code"),
        (
            KEY_REQUESTS,
            "answers to requests made with an API key, by key name and status",
        ),
        (
            KEY_EVENTS,
            "events published with an API key and acknowledged, by key name",
        ),
        (
            AUTH_REFUSALS,
            "requests refused for a missing or unknown API key",
        ),
    ];
    for (name, help) in counters {
        recorder.describe_counter(name.into(), None, help.into());
    }
    recorder.describe_gauge(
        SHARD_INFLIGHT.into(),
        None,
        "events admitted to a shard and not yet answered".into(),
    );
    let histograms = [
        (PUBLISH_DURATION, Unit::Seconds, "POST /publish latency"),
        (
            COMMIT_DURATION,
            Unit::Seconds,
            "group commit latency in the store",
        ),
        (COMMIT_BATCH_EVENTS, Unit::Count, "events per group commit"),
    ];
    for (name, unit, help) in histograms {
        recorder.describe_histogram(name.into(), Some(unit), help.into());
    }
}

/// Describes and registers the retention families (at zero).
fn describe_retention(recorder: &PrometheusRecorder) {
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
    counter(recorder, EVENTS_EXPIRED, Vec::new()).absolute(0);
    counter(recorder, EVENTS_PURGED, Vec::new()).absolute(0);
    gauge(recorder, PRUNE_DURATION, Vec::new()).set(0.0);
    gauge(recorder, PRUNE_LAG, Vec::new()).set(0.0);
}
