//! [`EventQuota`]: one key's publish rate, a token bucket (GCRA, from `governor`) counted in
//! events. A request takes as many tokens as it has events, all or none, before anything of
//! it is stored, so a refused request costs the store nothing.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, RateLimiter};

use super::file::Quota;

/// Why a key may not publish a request's events now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaExceeded {
    /// The bucket holds too few tokens: the events fit after `retry_after`.
    Wait {
        /// When the bucket will hold enough.
        retry_after: Duration,
    },
    /// The request has more events than the bucket can ever hold: it must be split.
    LargerThanBurst {
        /// Events in the request.
        events: u32,
        /// The bucket's size.
        burst: u32,
    },
}

/// One key's token bucket.
#[derive(Debug)]
pub struct EventQuota {
    quota: Quota,
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl EventQuota {
    /// A full bucket for `quota`.
    pub fn new(quota: Quota) -> Self {
        let rate =
            governor::Quota::per_second(quota.events_per_second).allow_burst(quota.burst_size());
        let clock = DefaultClock::default();
        Self {
            quota,
            limiter: RateLimiter::direct_with_clock(rate, clock.clone()),
            clock,
        }
    }

    /// The rate this bucket enforces.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Takes `events` tokens, or none and says why. Zero events always pass.
    pub fn take(&self, events: usize) -> Result<(), QuotaExceeded> {
        let count = u32::try_from(events).unwrap_or(u32::MAX);
        let Some(needed) = NonZeroU32::new(count) else {
            return Ok(());
        };
        match self.limiter.check_n(needed) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(QuotaExceeded::Wait {
                retry_after: not_until.wait_time_from(self.clock.now()),
            }),
            Err(_) => Err(QuotaExceeded::LargerThanBurst {
                events: count,
                burst: self.quota.burst_size().get(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(events_per_second: u32, burst: u32) -> EventQuota {
        EventQuota::new(Quota {
            events_per_second: NonZeroU32::new(events_per_second).unwrap(),
            burst: NonZeroU32::new(burst),
        })
    }

    #[test]
    fn a_full_bucket_takes_a_burst_then_asks_to_wait_about_one_refill() {
        let bucket = quota(10, 20);
        assert_eq!(bucket.take(20), Ok(()));
        match bucket.take(5) {
            Err(QuotaExceeded::Wait { retry_after }) => {
                assert!(retry_after > Duration::from_millis(400), "{retry_after:?}");
                assert!(retry_after <= Duration::from_millis(500), "{retry_after:?}");
            }
            other => panic!("expected a wait, got {other:?}"),
        }
        assert_eq!(bucket.take(0), Ok(()));
    }

    #[test]
    fn a_request_larger_than_the_burst_is_refused_without_taking_tokens() {
        let bucket = quota(10, 20);
        assert_eq!(
            bucket.take(21),
            Err(QuotaExceeded::LargerThanBurst {
                events: 21,
                burst: 20
            })
        );
        assert_eq!(bucket.take(20), Ok(()));
    }
}
