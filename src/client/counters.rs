//! What a stream counts while it runs ([`LiveCounters`], bumped by the workers, read by the
//! progress display and by whoever started the stream, as a [`StreamCounts`] snapshot), and the
//! [`Gate`] that holds a stream's attempts back while it is paused.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::error::AttemptError;

/// How often a held-back attempt, or [`Gate::close`], looks again.
const GATE_POLL: Duration = Duration::from_millis(5);

/// The live figures of a stream; every field only grows.
#[derive(Debug, Default)]
pub struct LiveCounters {
    acked_events: AtomicU64,
    ok_responses: AtomicU64,
    status_429: AtomicU64,
    status_503: AtomicU64,
    status_500: AtomicU64,
    status_other: AtomicU64,
    connection_errors: AtomicU64,
    broken_requests: AtomicU64,
    retries: AtomicU64,
    failed_batches: AtomicU64,
    mismatched_answers: AtomicU64,
}

/// A snapshot of a stream's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounts {
    /// Events in requests answered `200`.
    pub acked_events: u64,
    /// Requests answered `200`.
    pub ok_responses: u64,
    /// Attempts answered `429`.
    pub status_429: u64,
    /// Attempts answered `503`.
    pub status_503: u64,
    /// Attempts answered `500`.
    pub status_500: u64,
    /// Attempts answered with any other status but `200`.
    pub status_other: u64,
    /// Attempts that got no complete HTTP answer.
    pub connection_errors: u64,
    /// Of those, attempts that failed after the connection was made (request or answer cut,
    /// timeout): they may have been processed.
    pub broken_requests: u64,
    /// Attempts beyond the first of a request.
    pub retries: u64,
    /// Requests given up (never acknowledged).
    pub failed_batches: u64,
    /// `200` answers that did not list the request's events in order, or could not be read.
    pub mismatched_answers: u64,
}

impl LiveCounters {
    /// The figures now.
    pub fn snapshot(&self) -> StreamCounts {
        let read = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        StreamCounts {
            acked_events: read(&self.acked_events),
            ok_responses: read(&self.ok_responses),
            status_429: read(&self.status_429),
            status_503: read(&self.status_503),
            status_500: read(&self.status_500),
            status_other: read(&self.status_other),
            connection_errors: read(&self.connection_errors),
            broken_requests: read(&self.broken_requests),
            retries: read(&self.retries),
            failed_batches: read(&self.failed_batches),
            mismatched_answers: read(&self.mismatched_answers),
        }
    }

    /// Events acknowledged so far.
    pub fn acked_events(&self) -> u64 {
        self.acked_events.load(Ordering::SeqCst)
    }

    /// A request of `events` events was answered `200`.
    pub(crate) fn acknowledged(&self, events: u64) {
        self.ok_responses.fetch_add(1, Ordering::SeqCst);
        self.acked_events.fetch_add(events, Ordering::SeqCst);
    }

    /// One attempt failed this way.
    pub(crate) fn attempt_failed(&self, failure: &AttemptError) {
        let counter = match failure {
            AttemptError::Connect(_) => &self.connection_errors,
            AttemptError::Broken(_) => {
                self.broken_requests.fetch_add(1, Ordering::SeqCst);
                &self.connection_errors
            }
            AttemptError::Status { status: 429, .. } => &self.status_429,
            AttemptError::Status { status: 503, .. } => &self.status_503,
            AttemptError::Status { status: 500, .. } => &self.status_500,
            AttemptError::Status { .. } => &self.status_other,
            AttemptError::BadAnswer(_) => &self.mismatched_answers,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    /// An attempt is about to be made again.
    pub(crate) fn retrying(&self) {
        self.retries.fetch_add(1, Ordering::SeqCst);
    }

    /// A request was given up.
    pub(crate) fn gave_up(&self) {
        self.failed_batches.fetch_add(1, Ordering::SeqCst);
    }

    /// A `200` did not list the request's events in order.
    pub(crate) fn mismatched(&self) {
        self.mismatched_answers.fetch_add(1, Ordering::SeqCst);
    }
}

impl fmt::Display for StreamCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "acked events {}, ok responses {}, retries {}, 429: {}, 503: {}, 500: {}, other: {}, \
             connection errors {} (broken requests {}), failed batches {}, mismatched answers {}",
            self.acked_events,
            self.ok_responses,
            self.retries,
            self.status_429,
            self.status_503,
            self.status_500,
            self.status_other,
            self.connection_errors,
            self.broken_requests,
            self.failed_batches,
            self.mismatched_answers,
        )
    }
}

/// Holds attempts back while closed, and knows how many are under way.
#[derive(Debug, Default)]
pub struct Gate {
    closed: AtomicBool,
    in_flight: AtomicUsize,
}

/// An attempt under way; dropping it (also when the attempt is cancelled) lets the gate know.
#[derive(Debug)]
pub struct Passage<'a> {
    gate: &'a Gate,
}

impl Drop for Passage<'_> {
    fn drop(&mut self) {
        self.gate.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gate {
    /// Waits until the gate is open and counts one more attempt under way.
    pub async fn enter(&self) -> Passage<'_> {
        loop {
            // Count first, then look: `close` sets the flag first, then looks at the count, so
            // (with SeqCst) either this attempt sees the gate closed or `close` sees it.
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            if !self.closed.load(Ordering::SeqCst) {
                return Passage { gate: self };
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep(GATE_POLL).await;
        }
    }

    /// Closes the gate and waits until no attempt is under way. Attempts time out, so this
    /// returns within one attempt timeout.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(GATE_POLL).await;
        }
    }

    /// Lets attempts go again.
    pub fn open(&self) {
        self.closed.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;

    #[tokio::test]
    async fn a_closed_gate_waits_for_the_attempt_under_way_and_holds_new_ones() {
        let gate = Arc::new(Gate::default());
        let passage = gate.enter().await;
        let closing = tokio::spawn({
            let gate = gate.clone();
            async move { gate.close().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !closing.is_finished(),
            "closed while an attempt was under way"
        );
        drop(passage);
        closing.await.unwrap();
        let held = tokio::time::timeout(Duration::from_millis(30), gate.enter()).await;
        assert!(held.is_err(), "an attempt passed a closed gate");
        gate.open();
        let _passage = gate.enter().await;
    }

    #[test]
    fn failures_are_counted_by_kind() {
        let counters = LiveCounters::default();
        counters.attempt_failed(&AttemptError::Broken("cut".into()));
        counters.attempt_failed(&AttemptError::Connect("refused".into()));
        for status in [429, 503, 500, 404] {
            counters.attempt_failed(&AttemptError::Status {
                status,
                retry_after: None,
                body: String::new(),
            });
        }
        counters.acknowledged(10);
        let counts = counters.snapshot();
        assert_eq!((counts.connection_errors, counts.broken_requests), (2, 1));
        assert_eq!(
            (
                counts.status_429,
                counts.status_503,
                counts.status_500,
                counts.status_other
            ),
            (1, 1, 1, 1)
        );
        assert_eq!((counts.ok_responses, counts.acked_events), (1, 10));
    }
}
