//! When a failed request is tried again, and how long the client waits first: a [`RetryPolicy`]
//! (plain data, chosen by the caller) and the [`Retrier`] that applies it to one request.
//!
//! The waits are capped exponential backoff with full jitter: the ceiling doubles from
//! [`BACKOFF_BASE`] up to [`BACKOFF_CAP`], and a `Retry-After` answer is a floor on top of which
//! the jitter goes, so that many clients do not come back in lockstep. A policy's `max_wait`
//! caps the whole wait, `Retry-After` included (a test that must not sleep a second per refusal
//! sets it low); when the cap bites, the wait is drawn between half the cap and the cap.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::error::{AttemptError, ClientError};

/// First backoff ceiling; doubles on every retry.
pub const BACKOFF_BASE: Duration = Duration::from_millis(50);
/// Largest backoff ceiling.
pub const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// What the client retries, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retry the statuses that mean "not now" (`429`, `502`, `503`, `504`).
    pub retry_statuses: bool,
    /// Retry attempts that got no complete answer (refused or cut connections, timeouts) while
    /// they have lasted less than this, in a row: any HTTP answer starts the count again.
    pub connection_errors_for: Duration,
    /// Give a request up once this long has passed since its first attempt.
    pub give_up_after: Duration,
    /// Cap of any one wait between attempts, `Retry-After` included.
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// Retries everything transient for up to `budget` per request, honouring `Retry-After` in
    /// full: what `aggregator publish` does, so that a stream survives a server restart.
    pub fn within(budget: Duration) -> Self {
        Self {
            retry_statuses: true,
            connection_errors_for: budget,
            give_up_after: budget,
            max_wait: Duration::MAX,
        }
    }

    /// Retries `429`/`503` and connection errors (the latter for up to 60 s in a row) until the
    /// request is acknowledged, for up to 120 s, waiting at most about 100 ms between attempts:
    /// a client that pushes a stream through faults as fast as the server lets it.
    pub fn until_acknowledged() -> Self {
        Self {
            retry_statuses: true,
            connection_errors_for: Duration::from_secs(60),
            give_up_after: Duration::from_secs(120),
            max_wait: Duration::from_millis(100),
        }
    }

    /// One attempt per request.
    pub fn never() -> Self {
        Self {
            retry_statuses: false,
            connection_errors_for: Duration::ZERO,
            give_up_after: Duration::ZERO,
            max_wait: Duration::ZERO,
        }
    }
}

/// The policy applied to one request: counts its failures and decides about each.
#[derive(Debug)]
pub struct Retrier {
    policy: RetryPolicy,
    started: Instant,
    /// Start of the current run of attempts without an HTTP answer.
    failing_since: Option<Instant>,
    failures: u32,
}

impl Retrier {
    /// The error of a request given up after `failure`, its last attempt.
    pub fn give_up(&self, failure: AttemptError, what: &str) -> ClientError {
        let what = what.to_string();
        match failure {
            AttemptError::Status { status, body, .. }
                if !StatusCode::from_u16(status).is_ok_and(is_retryable) =>
            {
                ClientError::Refused { what, status, body }
            }
            AttemptError::BadAnswer(reason) => ClientError::BadAnswer { what, reason },
            last => ClientError::GaveUp {
                what,
                attempts: self.failures(),
                elapsed: self.elapsed(),
                last: last.to_string(),
            },
        }
    }

    /// Starts the clock of one request.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            started: Instant::now(),
            failing_since: None,
            failures: 0,
        }
    }

    /// Attempts that failed so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Time since the first attempt.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// After a failed attempt: how long to wait before the next one, or `None` to give up.
    /// `unit` in `[0, 1)` draws the jitter.
    pub fn after_failure(&mut self, failure: &AttemptError, unit: f64) -> Option<Duration> {
        self.failures += 1;
        let retry_after = match failure {
            AttemptError::Connect(_) | AttemptError::Broken(_) => {
                let since = *self.failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.policy.connection_errors_for {
                    return None;
                }
                None
            }
            AttemptError::Status {
                status,
                retry_after,
                ..
            } => {
                self.failing_since = None;
                let transient = StatusCode::from_u16(*status).is_ok_and(is_retryable);
                if !(self.policy.retry_statuses && transient) {
                    return None;
                }
                *retry_after
            }
            // A success whose body is wrong will not get better.
            AttemptError::BadAnswer(_) => return None,
        };
        let left = self
            .policy
            .give_up_after
            .checked_sub(self.started.elapsed())
            .filter(|left| !left.is_zero())?;
        let wait = backoff_delay(self.failures - 1, retry_after, unit, self.policy.max_wait);
        Some(wait.min(left))
    }
}

/// Statuses that mean "not now" rather than "never".
pub fn is_retryable(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The wait before retry number `retry + 1`: full jitter (`unit` in `[0, 1)` of a ceiling that
/// doubles from [`BACKOFF_BASE`] up to [`BACKOFF_CAP`]) on top of `Retry-After` when given;
/// past `max_wait`, between half of `max_wait` and `max_wait`.
pub fn backoff_delay(
    retry: u32,
    retry_after: Option<Duration>,
    unit: f64,
    max_wait: Duration,
) -> Duration {
    let unit = unit.clamp(0.0, 1.0);
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << retry.min(16))
        .min(BACKOFF_CAP);
    let wait = retry_after.unwrap_or_default() + ceiling.mul_f64(unit);
    if wait <= max_wait {
        return wait;
    }
    max_wait.mul_f64(0.5 + unit / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_CAP: Duration = Duration::MAX;

    fn status(status: u16) -> AttemptError {
        AttemptError::Status {
            status,
            retry_after: None,
            body: String::new(),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        assert_eq!(backoff_delay(0, None, 0.0, NO_CAP), Duration::ZERO);
        assert_eq!(backoff_delay(0, None, 1.0, NO_CAP), BACKOFF_BASE);
        assert_eq!(backoff_delay(3, None, 1.0, NO_CAP), BACKOFF_BASE * 8);
        assert_eq!(backoff_delay(30, None, 1.0, NO_CAP), BACKOFF_CAP);
        assert_eq!(backoff_delay(3, None, 0.5, NO_CAP), BACKOFF_BASE * 4);
    }

    #[test]
    fn retry_after_is_a_floor_and_jitter_comes_on_top() {
        let floor = Duration::from_secs(1);
        assert_eq!(backoff_delay(0, Some(floor), 0.0, NO_CAP), floor);
        assert!(backoff_delay(5, Some(floor), 0.9, NO_CAP) > floor);
        assert!(backoff_delay(30, Some(floor), 0.99, NO_CAP) <= floor + BACKOFF_CAP);
    }

    #[test]
    fn max_wait_caps_retry_after_too() {
        let cap = Duration::from_millis(100);
        let wait = backoff_delay(0, Some(Duration::from_secs(1)), 0.2, cap);
        assert!(wait >= cap / 2 && wait <= cap, "{wait:?}");
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for code in [429, 502, 503, 504] {
            assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
            let mut retrier = Retrier::new(RetryPolicy::within(Duration::from_secs(5)));
            assert!(
                retrier.after_failure(&status(code), 0.5).is_some(),
                "{code}"
            );
        }
        for code in [400, 404, 413, 422, 500] {
            assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
            let mut retrier = Retrier::new(RetryPolicy::within(Duration::from_secs(5)));
            assert!(
                retrier.after_failure(&status(code), 0.5).is_none(),
                "{code}"
            );
        }
    }

    #[test]
    fn never_gives_up_after_the_first_failure_of_any_kind() {
        for failure in [status(503), AttemptError::Connect("refused".into())] {
            let mut retrier = Retrier::new(RetryPolicy::never());
            assert_eq!(retrier.after_failure(&failure, 0.5), None);
            assert_eq!(retrier.failures(), 1);
        }
    }

    #[test]
    fn connection_errors_are_retried_only_for_so_long_in_a_row() {
        let policy = RetryPolicy {
            connection_errors_for: Duration::from_millis(30),
            ..RetryPolicy::until_acknowledged()
        };
        let mut retrier = Retrier::new(policy);
        let cut = AttemptError::Broken("reset".into());
        assert!(retrier.after_failure(&cut, 0.5).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(retrier.after_failure(&status(503), 0.5).is_some()); // an answer: count again
        assert!(retrier.after_failure(&cut, 0.5).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(retrier.after_failure(&cut, 0.5).is_none());
    }
}
