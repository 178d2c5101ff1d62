//! The one send loop of the client: workers take requests from the shared [`Workload`], pace
//! them, post them (each attempt through the stream's [`Gate`], retried under the stream's
//! policy), count every attempt in the [`LiveCounters`] and record what was acknowledged in the
//! [`KeyLedger`]. Several workers run concurrently; each keeps its own [`Tally`], merged when
//! the stream is finished. Shared state is locked briefly and never across an `.await`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use rand::Rng;
use serde::Serialize;
use serde_json::value::RawValue;

use super::counters::{Gate, LiveCounters};
use super::error::{AttemptError, ClientError};
use super::http::{Client, PublishAnswer};
use super::ledger::KeyLedger;
use super::pacer::Pacer;
use super::report::{Latencies, OutcomeCounts};
use super::retry::Retrier;
use super::workload::{Batch, GeneratedEvent, Workload};

/// What every worker of a stream shares.
pub struct Shared {
    /// The stream; a worker holds the lock only while it generates one request.
    pub workload: Mutex<Workload>,
    /// The HTTP client, with the stream's retry policy.
    pub client: Client,
    /// Optional events-per-second cap over all workers.
    pub pacer: Option<Pacer>,
    /// Pause of each worker after each request.
    pub pace: Duration,
    /// Which keys were acknowledged and which were reported new.
    pub ledger: Mutex<KeyLedger>,
    /// Live figures.
    pub counters: Arc<LiveCounters>,
    /// Held closed while the stream is paused.
    pub gate: Gate,
    /// Stop taking work after the first request given up.
    pub stop_on_failure: bool,
    /// Set after the first request given up when `stop_on_failure`.
    pub abort: AtomicBool,
    /// Workers still running.
    pub workers_left: AtomicUsize,
}

/// One worker's results, beyond the live counters.
#[derive(Debug, Default)]
pub struct Tally {
    /// Re-sent events among the acknowledged ones.
    pub duplicates_sent: u64,
    /// Events of failed attempts, which may have been processed anyway.
    pub uncertain_events: u64,
    /// The first request given up, for the error message.
    pub first_failure: Option<String>,
    /// Outcomes reported per event.
    pub outcomes: OutcomeCounts,
    /// Per-request latencies, from the first attempt to the accepted answer.
    pub latencies: Latencies,
}

impl Tally {
    /// Adds another worker's tally.
    pub fn merge(&mut self, other: Tally) {
        self.duplicates_sent += other.duplicates_sent;
        self.uncertain_events += other.uncertain_events;
        self.first_failure = self.first_failure.take().or(other.first_failure);
        self.outcomes.new += other.outcomes.new;
        self.outcomes.duplicate += other.outcomes.duplicate;
        self.latencies.merge(&other.latencies);
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (bit sets, a cursor).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One worker: takes requests until the stream ends or is aborted.
pub async fn work(shared: Arc<Shared>) -> Tally {
    let mut tally = Tally::default();
    while !shared.abort.load(Ordering::SeqCst) {
        let Some(batch) = lock(&shared.workload).next() else {
            break;
        };
        if let Some(pacer) = &shared.pacer {
            pacer.wait(batch.events.len()).await;
        }
        send(&shared, &batch, &mut tally).await;
        if !shared.pace.is_zero() {
            tokio::time::sleep(shared.pace).await;
        }
    }
    shared.workers_left.fetch_sub(1, Ordering::SeqCst);
    tally
}

/// Sends one request under the stream's policy and accounts for it.
async fn send(shared: &Shared, batch: &Batch, tally: &mut Tally) {
    let len = batch.events.len() as u64;
    let started = Instant::now();
    let body = match encode(batch) {
        Ok(body) => body,
        Err(err) => {
            let reason = format!("cannot encode a request: {err}");
            return give_up(shared, tally, reason);
        }
    };
    let mut retrier = Retrier::new(shared.client.policy());
    loop {
        let attempted = {
            let _passage = shared.gate.enter().await;
            shared.client.publish_once(body.clone()).await
        };
        let failure = match attempted {
            Ok(answer) => {
                tally.latencies.record(started.elapsed());
                tally.duplicates_sent += batch.events.iter().filter(|e| e.duplicate).count() as u64;
                record_answer(shared, batch, &answer, tally);
                shared.counters.acknowledged(len);
                return;
            }
            Err(failure) => failure,
        };
        shared.counters.attempt_failed(&failure);
        if !matches!(failure, AttemptError::Connect(_)) {
            // Only a refused connection certainly carried nothing to the server.
            tally.uncertain_events += len;
        }
        let unit: f64 = rand::thread_rng().gen();
        match retrier.after_failure(&failure, unit) {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                shared.counters.retrying();
            }
            None => {
                let err: ClientError = retrier.give_up(failure, "POST /publish");
                return give_up(shared, tally, err.to_string());
            }
        }
    }
}

fn give_up(shared: &Shared, tally: &mut Tally, reason: String) {
    shared.counters.gave_up();
    tally.first_failure.get_or_insert(reason);
    if shared.stop_on_failure {
        shared.abort.store(true, Ordering::SeqCst);
    }
}

/// A `200` means every event of the request is committed: all its keys are acknowledged. The
/// answer must list the request's events in order; their outcomes are recorded.
fn record_answer(shared: &Shared, batch: &Batch, answer: &PublishAnswer, tally: &mut Tally) {
    let listed_in_order = answer.received == batch.events.len() as u64
        && answer.results.len() == batch.events.len()
        && batch
            .events
            .iter()
            .zip(&answer.results)
            .all(|(sent, got)| sent.topic == got.topic && sent.event_id == got.event_id);
    let mut mismatches = u64::from(!listed_in_order);
    {
        let mut ledger = lock(&shared.ledger);
        for event in &batch.events {
            ledger.ack(event.key);
        }
        for (event, result) in batch.events.iter().zip(&answer.results) {
            match result.outcome.as_str() {
                "new" => {
                    tally.outcomes.new += 1;
                    ledger.mark_new(event.key);
                }
                "duplicate" => tally.outcomes.duplicate += 1,
                _ => mismatches += 1,
            }
        }
    }
    for _ in 0..mismatches {
        shared.counters.mismatched();
    }
}

/// An event as it goes on the wire; the payload is inserted verbatim.
#[derive(Serialize)]
struct WireEvent<'a> {
    topic: &'a str,
    event_id: &'a str,
    timestamp: &'a str,
    source: &'a str,
    payload: &'a RawValue,
}

#[derive(Serialize)]
struct WireBatch<'a> {
    events: Vec<WireEvent<'a>>,
}

/// One event as a bare object; more as `{"events": [...]}`.
pub fn encode(batch: &Batch) -> Result<Bytes, serde_json::Error> {
    let events = batch
        .events
        .iter()
        .map(wire_event)
        .collect::<Result<Vec<_>, _>>()?;
    let body = match events.as_slice() {
        [single] => serde_json::to_vec(single)?,
        _ => serde_json::to_vec(&WireBatch { events })?,
    };
    Ok(Bytes::from(body))
}

fn wire_event(event: &GeneratedEvent) -> Result<WireEvent<'_>, serde_json::Error> {
    Ok(WireEvent {
        topic: &event.topic,
        event_id: &event.event_id,
        timestamp: &event.timestamp,
        source: &event.source,
        payload: serde_json::from_str(&event.payload)?,
    })
}
