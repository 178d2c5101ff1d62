//! The publishing client of the suite: sends a generated stream (distinct keys spread over many
//! topics, plus duplicates that re-send earlier keys) in batches from concurrent workers,
//! retries what a policy allows, and records what the server acknowledged.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::db::Key;

/// The stream to send.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Events in the stream, duplicates included.
    pub events: usize,
    /// Topics the distinct keys are spread over (round robin).
    pub topics: usize,
    /// Share of events that re-send an earlier key.
    pub duplicate_ratio: f64,
    /// Events per request.
    pub batch_size: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Pause of each worker after each batch (to stretch a stream over a fault).
    pub pace: Duration,
    /// Seed of the generator (the stream is reproducible).
    pub seed: u64,
}

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

/// Live progress, readable while the stream runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Events in acknowledged (200) requests.
    pub acked_events: AtomicU64,
    /// Requests answered 200.
    pub ok_responses: AtomicU64,
    /// Answers 429 / 503 / 500.
    pub status_429: AtomicU64,
    pub status_503: AtomicU64,
    pub status_500: AtomicU64,
    /// Any other non-200 status.
    pub status_other: AtomicU64,
    /// Attempts that failed without an HTTP answer.
    pub connection_errors: AtomicU64,
    /// Of those, attempts that failed after the connection was made (request or answer cut).
    pub broken_requests: AtomicU64,
    /// Attempts beyond the first of a batch.
    pub retries: AtomicU64,
    /// Batches given up (not acknowledged).
    pub failed_batches: AtomicU64,
    /// 200 answers whose body did not match the request.
    pub bad_answers: AtomicU64,
    /// Every worker is done.
    pub finished: AtomicBool,
}

/// The final account of a stream.
#[derive(Debug)]
pub struct Report {
    /// Distinct keys in the stream.
    pub distinct: HashSet<Key>,
    /// Events in the stream (each batch counted once).
    pub events_sent: u64,
    /// Keys of every acknowledged request.
    pub acked: HashSet<Key>,
    /// Counters as they ended.
    pub progress: Arc<Progress>,
    /// Wall time of the stream.
    pub elapsed: Duration,
}

impl Report {
    pub fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }

    /// One line for the test log.
    pub fn summary(&self) -> String {
        let p = &self.progress;
        format!(
            "events sent {}, distinct {}, acked keys {}, ok responses {}, retries {}, \
             429: {}, 503: {}, 500: {}, other: {}, connection errors {} (broken requests {}), \
             failed batches {}, {:.1} s",
            self.events_sent,
            self.distinct.len(),
            self.acked.len(),
            Self::count(&p.ok_responses),
            Self::count(&p.retries),
            Self::count(&p.status_429),
            Self::count(&p.status_503),
            Self::count(&p.status_500),
            Self::count(&p.status_other),
            Self::count(&p.connection_errors),
            Self::count(&p.broken_requests),
            Self::count(&p.failed_batches),
            self.elapsed.as_secs_f64(),
        )
    }
}

struct Batch {
    keys: Vec<Key>,
    body: Vec<u8>,
}

/// A stream being sent in the background.
pub struct Publisher {
    pub progress: Arc<Progress>,
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
        let acked = Arc::new(Mutex::new(HashSet::new()));
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
                };
                let (batches, next, acked) = (batches.clone(), next.clone(), acked.clone());
                let pace = spec.pace;
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        let Some(batch) = batches.get(index) else {
                            break;
                        };
                        if worker.send(batch).await {
                            mine.extend(batch.keys.iter().cloned());
                        }
                        if !pace.is_zero() {
                            tokio::time::sleep(pace).await;
                        }
                    }
                    acked.lock().unwrap().extend(mine);
                })
            })
            .collect();
        let done = progress.clone();
        let handle = tokio::spawn(async move {
            for worker in workers {
                worker.await.unwrap();
            }
            done.finished.store(true, Ordering::SeqCst);
            let acked = std::mem::take(&mut *acked.lock().unwrap());
            Report {
                distinct,
                events_sent,
                acked,
                progress: done,
                elapsed: started.elapsed(),
            }
        });
        Self { progress, handle }
    }

    /// Events acknowledged so far.
    pub fn acked_events(&self) -> u64 {
        self.progress.acked_events.load(Ordering::SeqCst)
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
}

enum Attempt {
    Acknowledged,
    Retry(Duration),
    GiveUp,
}

impl Worker {
    /// Sends one batch under the retry policy; tells whether it was acknowledged.
    async fn send(&self, batch: &Batch) -> bool {
        let started = Instant::now();
        let mut failing_since: Option<Instant> = None;
        for attempt in 0u32.. {
            if attempt > 0 {
                self.progress.retries.fetch_add(1, Ordering::SeqCst);
            }
            let outcome = match self.attempt(batch).await {
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
                Attempt::Acknowledged => return true,
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
        false
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

/// The stream: new keys go round robin over the topics; with probability `duplicate_ratio` an
/// event re-sends a random earlier key instead (in the same batch or an earlier one).
fn generate(spec: &StreamSpec) -> (Vec<Batch>, HashSet<Key>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
    let mut distinct: Vec<Key> = Vec::new();
    let mut stream: Vec<Key> = Vec::with_capacity(spec.events);
    for _ in 0..spec.events {
        if !distinct.is_empty() && rng.gen_bool(spec.duplicate_ratio) {
            let earlier = rng.gen_range(0..distinct.len());
            stream.push(distinct[earlier].clone());
        } else {
            let n = distinct.len();
            let key = (format!("topic-{}", n % spec.topics), format!("event-{n}"));
            distinct.push(key.clone());
            stream.push(key);
        }
    }
    let batches = stream
        .chunks(spec.batch_size)
        .map(|keys| {
            let events: Vec<Value> = keys
                .iter()
                .map(|(topic, id)| {
                    json!({"topic": topic, "event_id": id, "timestamp": "2024-05-01T12:00:00Z",
                           "source": "fault-suite", "payload": {"id": id, "level": "info"}})
                })
                .collect();
            Batch {
                keys: keys.to_vec(),
                body: serde_json::to_vec(&json!({ "events": events })).unwrap(),
            }
        })
        .collect();
    (batches, distinct.into_iter().collect())
}
