//! The publishing client of the suite: sends a generated stream (distinct keys spread over many
//! topics, plus duplicates that re-send earlier keys) in batches from concurrent workers,
//! retries what a policy allows, and records what the server acknowledged. A test may hold
//! every request back for a while ([`Publisher::pause`]) to check the store at rest.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::report::{Progress, Report};
use super::stream::{generate, Batch, StreamSpec};
use crate::common::db::Key;
use crate::common::wait::wait_until;

/// How long [`Publisher::pause`] waits for the requests in flight (the client times out at 30 s).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(40);

/// What the client retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retry `429` and `503`.
    pub retry_statuses: bool,
    /// Retry connection errors while they last at most this long in a row.
    pub connection_errors_for: Duration,
    /// Give a batch up after this long in total.
    pub give_up_after: Duration,
    /// Cap of any wait between attempts (`Retry-After` included), before jitter.
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// Retries 429/503 and connection errors (the latter for up to 60 s in a row) until the
    /// batch is acknowledged; waits at most ~100 ms between attempts.
    pub fn until_acknowledged() -> Self {
        Self {
            retry_statuses: true,
            connection_errors_for: Duration::from_secs(60),
            give_up_after: Duration::from_secs(120),
            max_wait: Duration::from_millis(100),
        }
    }

    /// One attempt per batch.
    pub fn never() -> Self {
        Self {
            retry_statuses: false,
            connection_errors_for: Duration::ZERO,
            give_up_after: Duration::ZERO,
            max_wait: Duration::ZERO,
        }
    }
}

/// What the workers share with the test while the stream runs.
#[derive(Default)]
struct Shared {
    /// Keys of every request answered 200 so far.
    acked: Mutex<HashSet<Key>>,
    /// No request may start while set.
    paused: AtomicBool,
    /// Requests under way.
    in_flight: AtomicUsize,
}

impl Shared {
    /// Waits until requests may be sent and counts one more under way.
    async fn enter(&self) {
        loop {
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            if !self.paused.load(Ordering::SeqCst) {
                return;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Counts one request under way less.
    fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stream being sent in the background.
pub struct Publisher {
    /// Live counters.
    pub progress: Arc<Progress>,
    shared: Arc<Shared>,
    handle: JoinHandle<Report>,
}

impl Publisher {
    /// Generates the stream and starts sending it to `base_url` at once.
    pub fn start(base_url: &str, spec: StreamSpec, policy: RetryPolicy) -> Self {
        let (batches, distinct) = generate(&spec);
        let events_sent = batches.iter().map(|b| b.keys.len() as u64).sum();
        let progress = Arc::new(Progress::default());
        let batches = Arc::new(batches);
        let next = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared::default());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let url = format!("{base_url}/publish");
        let started = Instant::now();
        let workers: Vec<_> = (0..spec.concurrency)
            .map(|_| {
                let worker = Worker {
                    client: client.clone(),
                    url: url.clone(),
                    policy,
                    progress: progress.clone(),
                    shared: shared.clone(),
                };
                let (batches, next) = (batches.clone(), next.clone());
                let pace = spec.pace;
                tokio::spawn(async move {
                    loop {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        let Some(batch) = batches.get(index) else {
                            break;
                        };
                        worker.send(batch).await;
                        if !pace.is_zero() {
                            tokio::time::sleep(pace).await;
                        }
                    }
                })
            })
            .collect();
        let done = progress.clone();
        let acked = shared.clone();
        let handle = tokio::spawn(async move {
            for worker in workers {
                worker.await.unwrap();
            }
            done.finished.store(true, Ordering::SeqCst);
            let acked = std::mem::take(&mut *acked.acked.lock().unwrap());
            Report {
                distinct,
                events_sent,
                acked,
                progress: done,
                elapsed: started.elapsed(),
            }
        });
        Self {
            progress,
            shared,
            handle,
        }
    }

    /// Events acknowledged so far.
    pub fn acked_events(&self) -> u64 {
        self.progress.acked_events.load(Ordering::SeqCst)
    }

    /// Waits until at least `target` events are acknowledged, at most `timeout`; tells whether
    /// they were.
    pub async fn wait_for_acked(&self, target: u64, timeout: Duration) -> bool {
        wait_until(
            || {
                let done = self.acked_events() >= target;
                async move { done }
            },
            timeout,
        )
        .await
    }

    /// Keys of every request acknowledged so far.
    pub fn acked_keys(&self) -> HashSet<Key> {
        self.shared.acked.lock().unwrap().clone()
    }

    /// Holds every request back (first attempts and retries alike) until [`Publisher::resume`],
    /// and waits until none is under way any more: from then on the server gets nothing.
    pub async fn pause(&self) {
        self.shared.paused.store(true, Ordering::SeqCst);
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while self.shared.in_flight.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(
            drained.is_ok(),
            "requests still under way {DRAIN_TIMEOUT:?} after the pause"
        );
    }

    /// Lets requests go again after [`Publisher::pause`].
    pub fn resume(&self) {
        self.shared.paused.store(false, Ordering::SeqCst);
    }

    /// Whether every batch has been dealt with.
    pub fn is_finished(&self) -> bool {
        self.progress.finished.load(Ordering::SeqCst)
    }

    /// Waits for the end of the stream, at most `timeout`.
    pub async fn finish(self, timeout: Duration) -> Report {
        tokio::time::timeout(timeout, self.handle)
            .await
            .unwrap_or_else(|_| panic!("the stream did not finish within {timeout:?}"))
            .unwrap()
    }
}

struct Worker {
    client: reqwest::Client,
    url: String,
    policy: RetryPolicy,
    progress: Arc<Progress>,
    shared: Arc<Shared>,
}

enum Attempt {
    Acknowledged,
    Retry(Duration),
    GiveUp,
}

impl Worker {
    /// Sends one batch under the retry policy; its keys are recorded if it is acknowledged.
    async fn send(&self, batch: &Batch) {
        let started = Instant::now();
        let mut failing_since: Option<Instant> = None;
        for attempt in 0u32.. {
            if attempt > 0 {
                self.progress.retries.fetch_add(1, Ordering::SeqCst);
            }
            self.shared.enter().await;
            let attempted = self.attempt(batch).await;
            self.shared.leave();
            let outcome = match attempted {
                Ok(outcome) => {
                    failing_since = None;
                    outcome
                }
                Err(()) => {
                    self.progress
                        .connection_errors
                        .fetch_add(1, Ordering::SeqCst);
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() < self.policy.connection_errors_for {
                        let backoff = Duration::from_millis(10 << attempt.min(4));
                        Attempt::Retry(backoff)
                    } else {
                        Attempt::GiveUp
                    }
                }
            };
            match outcome {
                Attempt::Acknowledged => return,
                Attempt::Retry(_) if started.elapsed() >= self.policy.give_up_after => break,
                Attempt::Retry(wait) => {
                    let capped = wait.min(self.policy.max_wait);
                    let jitter = rand::thread_rng().gen_range(0.5..1.0);
                    tokio::time::sleep(capped.mul_f64(jitter)).await;
                }
                Attempt::GiveUp => break,
            }
        }
        self.progress.failed_batches.fetch_add(1, Ordering::SeqCst);
    }

    /// One request. `Err` when no complete HTTP answer came back.
    async fn attempt(&self, batch: &Batch) -> Result<Attempt, ()> {
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(batch.body.clone())
            .send()
            .await
            .map_err(|err| self.broken_unless_connect(&err))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map_err(|err| self.broken_unless_connect(&err))?;
        let p = &self.progress;
        let counter = match status {
            200 => {
                self.check_answer(batch, &body);
                let mut acked = self.shared.acked.lock().unwrap();
                acked.extend(batch.keys.iter().cloned());
                drop(acked);
                p.ok_responses.fetch_add(1, Ordering::SeqCst);
                p.acked_events
                    .fetch_add(batch.keys.len() as u64, Ordering::SeqCst);
                return Ok(Attempt::Acknowledged);
            }
            429 => &p.status_429,
            503 => &p.status_503,
            500 => &p.status_500,
            _ => &p.status_other,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        if (status == 429 || status == 503) && self.policy.retry_statuses {
            let wait = retry_after.unwrap_or(Duration::from_secs(1));
            Ok(Attempt::Retry(wait))
        } else {
            Ok(Attempt::GiveUp)
        }
    }

    /// Counts an error that struck after the connection was made.
    fn broken_unless_connect(&self, err: &reqwest::Error) {
        if !err.is_connect() {
            self.progress.broken_requests.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A 200 must account for every event of the request, in order.
    fn check_answer(&self, batch: &Batch, body: &[u8]) {
        let answer: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let results = answer["results"].as_array().cloned().unwrap_or_default();
        let matches = answer["received"].as_u64() == Some(batch.keys.len() as u64)
            && results.len() == batch.keys.len()
            && results
                .iter()
                .zip(&batch.keys)
                .all(|(result, (topic, id))| {
                    result["topic"] == topic.as_str() && result["event_id"] == id.as_str()
                });
        if !matches {
            self.progress.bad_answers.fetch_add(1, Ordering::SeqCst);
        }
    }
}
