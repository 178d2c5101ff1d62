//! [`Stream`]: a generated workload sent in the background by concurrent workers, watched and
//! steered while it runs, and accounted for when it ends ([`StreamReport`]).
//!
//! `aggregator publish` ([`super::run`]) is one stream with a progress display and `/stats`
//! verification around it; the fault tests start streams against servers they break, read the
//! live [`StreamCounts`], [`Stream::pause`] them to look at a store at rest, and compare the
//! acknowledged keys with what was stored. Keys are `(topic, event_id)` pairs, named from the
//! workload's key indexes by [`key_for`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::access::ClientAccess;
use super::config::{DEFAULT_CONCURRENCY, DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_FOR};
use super::counters::{Gate, LiveCounters, StreamCounts};
use super::error::ClientError;
use super::http::Client;
use super::ledger::KeyLedger;
use super::pacer::Pacer;
use super::retry::RetryPolicy;
use super::worker::{self, lock, Shared, Tally};
use super::workload::{key_for, Workload, WorkloadSpec};

/// The identity of an event: `(topic, event_id)`.
pub type Key = (String, String);

/// How a stream is sent (what is sent is its [`WorkloadSpec`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    /// Workers, hence requests in flight at once.
    pub concurrency: usize,
    /// Pause of each worker after each request (stretches a stream over a fault).
    pub pace: Duration,
    /// Cap on events sent per second over all workers (none when `None`).
    pub rate: Option<f64>,
    /// What is retried.
    pub retry: RetryPolicy,
    /// Timeout of one attempt.
    pub request_timeout: Duration,
    /// Stop taking new requests once one is given up (`publish` does: its verification is
    /// void anyway); otherwise the rest of the stream is still sent.
    pub stop_on_failure: bool,
    /// The API key sent and the CA certificate trusted.
    pub access: ClientAccess,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            pace: Duration::ZERO,
            rate: None,
            retry: RetryPolicy::within(DEFAULT_RETRY_FOR),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            stop_on_failure: false,
            access: ClientAccess::default(),
        }
    }
}

/// A stream being sent in the background. Dropping it stops its workers.
pub struct Stream {
    spec: WorkloadSpec,
    shared: Arc<Shared>,
    workers: JoinSet<Tally>,
    started: Instant,
}

impl Stream {
    /// Starts sending `spec` to the aggregator at `base_url` at once (inside a tokio runtime).
    pub fn start(
        base_url: &str,
        spec: WorkloadSpec,
        config: StreamConfig,
    ) -> Result<Self, ClientError> {
        let client = Client::new(
            base_url,
            config.request_timeout,
            config.retry,
            &config.access,
        )?;
        let concurrency = config.concurrency.max(1);
        let shared = Arc::new(Shared {
            workload: Mutex::new(Workload::new(spec.clone())),
            client,
            pacer: config.rate.map(Pacer::new),
            pace: config.pace,
            ledger: Mutex::new(KeyLedger::default()),
            counters: Arc::new(LiveCounters::default()),
            gate: Gate::default(),
            stop_on_failure: config.stop_on_failure,
            abort: AtomicBool::new(false),
            workers_left: AtomicUsize::new(concurrency),
        });
        let started = Instant::now();
        let mut workers = JoinSet::new();
        for _ in 0..concurrency {
            workers.spawn(worker::work(shared.clone()));
        }
        Ok(Self {
            spec,
            shared,
            workers,
            started,
        })
    }

    /// What is being sent.
    pub fn spec(&self) -> &WorkloadSpec {
        &self.spec
    }

    /// The live counters (for a progress display).
    pub fn live_counters(&self) -> Arc<LiveCounters> {
        self.shared.counters.clone()
    }

    /// The figures so far.
    pub fn counts(&self) -> StreamCounts {
        self.shared.counters.snapshot()
    }

    /// Events acknowledged so far.
    pub fn acked_events(&self) -> u64 {
        self.shared.counters.acked_events()
    }

    /// Waits until at least `target` events are acknowledged, at most `timeout`; tells whether
    /// they were.
    pub async fn wait_for_acked(&self, target: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.acked_events() < target {
            if tokio::time::Instant::now() >= deadline || self.is_finished() {
                return self.acked_events() >= target;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Keys of every request acknowledged so far.
    pub fn acked_keys(&self) -> HashSet<Key> {
        let ledger = lock(&self.shared.ledger).clone();
        keys_of(&self.spec, ledger.acked_indexes())
    }

    /// Holds every request back (first attempts and retries alike) until [`Stream::resume`],
    /// and waits until none is under way any more: from then on the server gets nothing.
    /// Returns within one attempt timeout.
    pub async fn pause(&self) {
        self.shared.gate.close().await;
    }

    /// Lets requests go again after [`Stream::pause`].
    pub fn resume(&self) {
        self.shared.gate.open();
    }

    /// Whether every worker is done (the stream is sent, or aborted).
    pub fn is_finished(&self) -> bool {
        self.shared.workers_left.load(Ordering::SeqCst) == 0
    }

    /// Waits for the end of the stream.
    pub async fn finish(mut self) -> Result<StreamReport, ClientError> {
        let mut tally = Tally::default();
        while let Some(joined) = self.workers.join_next().await {
            let worker = joined.map_err(|err| ClientError::WorkerPanicked(err.to_string()))?;
            tally.merge(worker);
        }
        let elapsed = self.started.elapsed();
        let ledger = std::mem::take(&mut *lock(&self.shared.ledger));
        Ok(StreamReport {
            spec: self.spec,
            counts: self.shared.counters.snapshot(),
            elapsed,
            tally,
            ledger,
        })
    }

    /// [`Stream::finish`], waiting at most `timeout`; past it the workers are stopped.
    pub async fn finish_within(self, timeout: Duration) -> Result<StreamReport, ClientError> {
        tokio::time::timeout(timeout, self.finish())
            .await
            .map_err(|_| ClientError::Unfinished(timeout))?
    }
}

/// The final account of a stream.
#[derive(Debug)]
pub struct StreamReport {
    /// What was sent.
    pub spec: WorkloadSpec,
    /// The counters as they ended.
    pub counts: StreamCounts,
    /// Wall time from the start to the last worker's end.
    pub elapsed: Duration,
    /// What the workers measured beyond the counters.
    pub tally: Tally,
    /// Which keys were acknowledged and reported new.
    pub ledger: KeyLedger,
}

impl StreamReport {
    /// Events in the stream, duplicates included (each request counted once).
    pub fn events_in_stream(&self) -> u64 {
        self.spec.events
    }

    /// Every distinct key of the stream, acknowledged or not.
    pub fn distinct_keys(&self) -> HashSet<Key> {
        keys_of(&self.spec, 0..self.spec.planned_distinct())
    }

    /// Keys of every acknowledged request.
    pub fn acked_keys(&self) -> HashSet<Key> {
        keys_of(&self.spec, self.ledger.acked_indexes())
    }

    /// One line for a log.
    pub fn summary(&self) -> String {
        format!(
            "events in stream {}, distinct {}, acked keys {}, {}, {:.1} s",
            self.spec.events,
            self.spec.planned_distinct(),
            self.ledger.distinct_acked(),
            self.counts,
            self.elapsed.as_secs_f64(),
        )
    }
}

fn keys_of(spec: &WorkloadSpec, indexes: impl Iterator<Item = u64>) -> HashSet<Key> {
    indexes.map(|index| key_for(spec, index)).collect()
}
