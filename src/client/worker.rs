//! The send loop: workers take requests from the shared [`Workload`], pace them, post them with
//! the retrying client and tally what came back. Several workers run concurrently; each keeps
//! its own [`Tally`], merged at the end, and only the key ledger is shared (locked once per
//! answer, never across an `.await`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use super::http::{Client, ClientError, PublishAnswer};
use super::progress::Counters;
use super::report::{Latencies, OutcomeCounts};
use super::workload::{Batch, GeneratedEvent, Workload};

/// What every worker shares.
pub struct Shared {
    /// The stream; a worker holds the lock only while it generates one request.
    pub workload: Mutex<Workload>,
    /// The HTTP client.
    pub client: Client,
    /// Optional events-per-second cap.
    pub pacer: Option<Pacer>,
    /// Which keys were acknowledged and which were reported new.
    pub ledger: Mutex<KeyLedger>,
    /// Live figures for the progress display.
    pub counters: Arc<Counters>,
    /// Set after the first failed request: the others finish and nobody takes more work.
    pub abort: AtomicBool,
}

/// One worker's results.
#[derive(Debug, Default)]
pub struct Tally {
    /// Events in acknowledged requests.
    pub sent: u64,
    /// Re-sent events among them.
    pub duplicates_sent: u64,
    /// Acknowledged requests.
    pub requests: u64,
    /// Extra attempts.
    pub retries: u64,
    /// Events of attempts that failed transiently and may have landed anyway.
    pub uncertain_events: u64,
    /// Requests that failed for good.
    pub failures: u64,
    /// The first failure, for the error message.
    pub first_failure: Option<String>,
    /// Outcomes reported per event.
    pub outcomes: OutcomeCounts,
    /// Answers that did not list the request's events in order.
    pub mismatched_answers: u64,
    /// Per-request latencies.
    pub latencies: Latencies,
}

impl Tally {
    /// Adds another worker's tally.
    pub fn merge(&mut self, other: Tally) {
        self.sent += other.sent;
        self.duplicates_sent += other.duplicates_sent;
        self.requests += other.requests;
        self.retries += other.retries;
        self.uncertain_events += other.uncertain_events;
        self.failures += other.failures;
        self.first_failure = self.first_failure.take().or(other.first_failure);
        self.outcomes.new += other.outcomes.new;
        self.outcomes.duplicate += other.outcomes.duplicate;
        self.mismatched_answers += other.mismatched_answers;
        self.latencies.merge(&other.latencies);
    }
}

/// Per key index: acknowledged at least once? reported new? A bit set each.
#[derive(Debug, Default)]
pub struct KeyLedger {
    acked: Vec<u64>,
    reported_new: Vec<u64>,
    /// Keys reported new by a second answer.
    pub new_twice: u64,
}

impl KeyLedger {
    /// Distinct keys acknowledged.
    pub fn distinct_acked(&self) -> u64 {
        self.acked
            .iter()
            .map(|word| u64::from(word.count_ones()))
            .sum()
    }

    fn ack(&mut self, key: u64) {
        set_bit(&mut self.acked, key);
    }

    fn mark_new(&mut self, key: u64) {
        if set_bit(&mut self.reported_new, key) {
            self.new_twice += 1;
        }
    }
}

/// Sets bit `index`; returns whether it was already set.
fn set_bit(bits: &mut Vec<u64>, index: u64) -> bool {
    let (word, mask) = ((index / 64) as usize, 1u64 << (index % 64));
    if bits.len() <= word {
        bits.resize(word + 1, 0);
    }
    let was_set = bits[word] & mask != 0;
    bits[word] |= mask;
    was_set
}

/// Spaces requests so that events go out at no more than `rate` per second, across workers.
#[derive(Debug)]
pub struct Pacer {
    per_event: Duration,
    /// Tokio's clock, so that tests can pause time.
    next_slot: Mutex<tokio::time::Instant>,
}

impl Pacer {
    /// A pacer for `rate` events per second (`rate` > 0, checked by the argument parser).
    pub fn new(rate: f64) -> Self {
        Self {
            per_event: Duration::from_secs_f64(1.0 / rate.max(1e-6)),
            next_slot: Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits for the slot of a request of `events` events.
    async fn wait(&self, events: usize) {
        let slot = {
            let mut next = lock(&self.next_slot);
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot
                + self
                    .per_event
                    .saturating_mul(u32::try_from(events).unwrap_or(u32::MAX));
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (counters and cursors).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One worker: takes requests until the stream ends or the run is aborted.
pub async fn work(shared: Arc<Shared>) -> Tally {
    let mut tally = Tally::default();
    while !shared.abort.load(Ordering::Relaxed) {
        let Some(batch) = lock(&shared.workload).next() else {
            break;
        };
        if let Some(pacer) = &shared.pacer {
            pacer.wait(batch.events.len()).await;
        }
        let len = batch.events.len() as u64;
        let started = Instant::now();
        let result = match encode(&batch) {
            Ok(body) => shared.client.publish(body).await,
            Err(err) => Err(ClientError::BadAnswer {
                what: "encoding a request".into(),
                reason: err.to_string(),
            }),
        };
        match result {
            Ok(delivery) => {
                tally.latencies.record(started.elapsed());
                let retries = u64::from(delivery.attempts - 1);
                tally.requests += 1;
                tally.sent += len;
                tally.duplicates_sent += batch.events.iter().filter(|e| e.duplicate).count() as u64;
                tally.retries += retries;
                tally.uncertain_events += retries * len;
                check_answer(&batch, &delivery.value, &shared.ledger, &mut tally);
                shared.counters.sent.fetch_add(len, Ordering::Relaxed);
                shared
                    .counters
                    .retries
                    .fetch_add(retries, Ordering::Relaxed);
            }
            Err(err) => {
                if let ClientError::GaveUp { attempts, .. } = &err {
                    tally.retries += u64::from(attempts.saturating_sub(1));
                    tally.uncertain_events += u64::from(*attempts) * len;
                }
                tally.failures += 1;
                tally.first_failure.get_or_insert_with(|| err.to_string());
                shared.counters.failures.fetch_add(1, Ordering::Relaxed);
                shared.abort.store(true, Ordering::Relaxed);
            }
        }
    }
    tally
}

/// Checks that the answer lists the request's events in order, and records the outcomes.
fn check_answer(
    batch: &Batch,
    answer: &PublishAnswer,
    ledger: &Mutex<KeyLedger>,
    tally: &mut Tally,
) {
    let listed_in_order = answer.received == batch.events.len() as u64
        && answer.results.len() == batch.events.len()
        && batch
            .events
            .iter()
            .zip(&answer.results)
            .all(|(sent, got)| sent.topic == got.topic && sent.event_id == got.event_id);
    if !listed_in_order {
        tally.mismatched_answers += 1;
    }
    let mut ledger = lock(ledger);
    for (event, result) in batch.events.iter().zip(&answer.results) {
        ledger.ack(event.key);
        match result.outcome.as_str() {
            "new" => {
                tally.outcomes.new += 1;
                ledger.mark_new(event.key);
            }
            "duplicate" => tally.outcomes.duplicate += 1,
            _ => tally.mismatched_answers += 1,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_counts_distinct_keys_and_double_news() {
        let mut ledger = KeyLedger::default();
        for key in [0, 1, 1, 64, 200, 0] {
            ledger.ack(key);
        }
        ledger.mark_new(1);
        ledger.mark_new(200);
        ledger.mark_new(1);
        assert_eq!(ledger.distinct_acked(), 4);
        assert_eq!(ledger.new_twice, 1);
    }

    #[tokio::test]
    async fn the_pacer_spaces_events_to_the_rate() {
        let pacer = Pacer::new(1_000.0);
        let started = Instant::now();
        for _ in 0..5 {
            pacer.wait(20).await; // 20 events each: 20 ms apart, the first at once
        }
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(79), "{elapsed:?}");
    }
}
