//! What a [`super::Publisher`] counts while its stream runs, and the final account of a stream.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::db::Key;

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
