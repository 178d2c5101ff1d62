//! [`Pacer`]: spaces the requests of all of a stream's workers so that events go out at no more
//! than a given rate (`publish --rate`).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

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
    pub async fn wait(&self, events: usize) {
        let slot = {
            // A slot is a plain instant: a panicked holder cannot leave it inconsistent.
            let mut next = self
                .next_slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pacer_spaces_events_to_the_rate() {
        let pacer = Pacer::new(1_000.0);
        let started = std::time::Instant::now();
        for _ in 0..5 {
            pacer.wait(20).await; // 20 events each: 20 ms apart, the first at once
        }
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(79), "{elapsed:?}");
    }
}
