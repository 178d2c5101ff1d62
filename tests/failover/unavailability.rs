//! The unavailability a fault caused, measured from the [`probe`](crate::probe)'s readings: how
//! long `/ready` was not 200 and how long acknowledgements stood still.

use std::time::{Duration, Instant};

use crate::probe::{Sample, PROBE_INTERVAL};

/// The unavailability seen after the fault.
pub struct Unavailability {
    /// First and last reading of `/ready` that was not 200, from the fault.
    not_ready: Option<(Duration, Duration)>,
    /// Readings of `/ready` that were not 200 (503s, and no answer).
    not_ready_samples: usize,
    /// Of those, readings with no answer at all.
    unanswered: usize,
    /// First reading of `/ready` that was 200 again after the last that was not.
    ready_again: Option<Duration>,
    /// Longest time the stream's acknowledged count stood still (while it had events left).
    longest_stall: Duration,
}

impl Unavailability {
    /// Measures from `samples` taken at and after `fault_at`, of a stream of `events` events
    /// (a count that stands still because every event is acknowledged is no stall).
    pub fn measure(samples: &[Sample], fault_at: Instant, events: u64) -> Self {
        let after: Vec<&Sample> = samples
            .iter()
            .filter(|sample| sample.at >= fault_at)
            .collect();
        let not_ready: Vec<&&Sample> = after
            .iter()
            .filter(|sample| sample.ready != Some(200))
            .collect();
        let since = |sample: &Sample| sample.at.duration_since(fault_at);
        let window = match (not_ready.first(), not_ready.last()) {
            (Some(first), Some(last)) => Some((since(first), since(last))),
            _ => None,
        };
        let ready_again = not_ready.last().and_then(|last| {
            after
                .iter()
                .find(|sample| sample.at > last.at && sample.ready == Some(200))
                .map(|sample| since(sample))
        });
        let mut longest_stall = Duration::ZERO;
        let mut moved_at = fault_at;
        let mut acked = after.first().map_or(0, |sample| sample.acked);
        for sample in &after {
            if sample.acked != acked {
                acked = sample.acked;
                moved_at = sample.at;
            } else if acked < events {
                longest_stall = longest_stall.max(sample.at.duration_since(moved_at));
            }
        }
        Self {
            not_ready: window,
            not_ready_samples: not_ready.len(),
            unanswered: not_ready
                .iter()
                .filter(|sample| sample.ready.is_none())
                .count(),
            ready_again,
            longest_stall,
        }
    }
}

impl std::fmt::Display for Unavailability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |duration: Duration| duration.as_millis();
        match self.not_ready {
            Some((first, last)) => write!(
                f,
                "unavailability: /ready not 200 from {} ms to {} ms after the fault ({} readings \
                 every {} ms, {} unanswered), 200 again at {} ms",
                ms(first),
                ms(last),
                self.not_ready_samples,
                ms(PROBE_INTERVAL),
                self.unanswered,
                self.ready_again.map_or("-".into(), |at| ms(at).to_string()),
            )?,
            None => write!(f, "unavailability: /ready never other than 200")?,
        }
        write!(
            f,
            "; longest stall of acknowledgements {} ms",
            ms(self.longest_stall)
        )
    }
}
