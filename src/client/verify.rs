//! Verification of the server's counting, from `/stats` read before and after the run.
//!
//! Deltas rather than absolute values, so a server that already holds data can be checked. The
//! checks assume this publisher is the only one writing during the run: anybody else's events
//! move the same counters and make the deltas disagree.
//!
//! - `unique_processed` grows by exactly the distinct keys sent (0 for a `--replay`);
//! - `received` grows by at least the events acknowledged and at most that plus the events of
//!   attempts that failed transiently (such an attempt may have landed before its answer was
//!   lost, or committed after its 503);
//! - afterwards `received == unique_processed + duplicate_dropped`;
//! - the per-event outcomes agree: each key is reported `new` at most once, and, when no
//!   attempt was uncertain, exactly the expected number of keys were reported `new`;
//! - every answer listed the request's events, in order.
//!
//! [`verify`] is a pure function so that it can be tested with deliberately wrong numbers.

use std::fmt;

use super::stats::ServerCounters;

/// What the publisher itself knows about its run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunFacts {
    /// Events in acknowledged requests, duplicates included.
    pub sent: u64,
    /// Keys the server should store for the first time: the distinct keys sent, or 0 on replay.
    pub expected_new: u64,
    /// Events in attempts that failed transiently and may nevertheless have been processed.
    pub uncertain_events: u64,
    /// Requests that never got an accepted answer.
    pub failures: u64,
    /// Events the answers reported `new`.
    pub reported_new: u64,
    /// Keys reported `new` by more than one answer.
    pub keys_reported_new_twice: u64,
    /// Answers whose `results` did not list the request's events in order.
    pub mismatched_answers: u64,
}

/// One thing that did not add up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// Some requests failed; what they did is unknown, so exact checks are impossible.
    #[error("{0} request(s) failed, so the server's counts cannot be checked exactly")]
    Failures(u64),
    /// `unique_processed` did not grow by the expected amount.
    #[error(
        "unique_processed grew by {actual}, expected exactly {expected} (distinct new keys sent)"
    )]
    UniqueDelta {
        /// Expected growth.
        expected: u64,
        /// Observed growth (negative if the counter went backwards).
        actual: i128,
    },
    /// `received` grew by less than what was acknowledged, or by more than could have landed.
    #[error("received grew by {actual}, expected between {low} and {high} (events sent, plus retried ones)")]
    ReceivedDelta {
        /// Events acknowledged.
        low: u64,
        /// Plus every uncertain attempt.
        high: u64,
        /// Observed growth.
        actual: i128,
    },
    /// The counters after the run do not add up.
    #[error("after the run received ({received}) != unique_processed ({unique_processed}) + duplicate_dropped ({duplicate_dropped})")]
    Unbalanced {
        /// `received` after.
        received: u64,
        /// `unique_processed` after.
        unique_processed: u64,
        /// `duplicate_dropped` after.
        duplicate_dropped: u64,
    },
    /// The per-event outcomes reported a different number of new keys.
    #[error("the answers reported {actual} events new, expected {low}..={high}")]
    ReportedNew {
        /// Fewest acceptable.
        low: u64,
        /// Most acceptable.
        high: u64,
        /// Reported.
        actual: u64,
    },
    /// The same key was reported new twice: exactly-once broken.
    #[error("{0} key(s) were reported new more than once")]
    NewTwice(u64),
    /// Answers that did not match their request.
    #[error("{0} answer(s) did not list the request's events in order")]
    MismatchedAnswers(u64),
}

/// The run's verification failed; the report lists why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct VerificationError {
    /// Everything that did not add up.
    pub mismatches: Vec<Mismatch>,
}

impl fmt::Display for VerificationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "verification failed")?;
        for (index, mismatch) in self.mismatches.iter().enumerate() {
            let separator = if index == 0 { ": " } else { "; " };
            write!(f, "{separator}{mismatch}")?;
        }
        Ok(())
    }
}

/// Checks the server's counters against what the publisher knows; empty means verified.
pub fn verify(before: ServerCounters, after: ServerCounters, facts: &RunFacts) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    let delta = |after: u64, before: u64| i128::from(after) - i128::from(before);
    if facts.failures > 0 {
        mismatches.push(Mismatch::Failures(facts.failures));
    }
    let unique = delta(after.unique_processed, before.unique_processed);
    // With failures, keys of failed requests may or may not be stored: no exact expectation.
    if facts.failures == 0 && unique != i128::from(facts.expected_new) {
        mismatches.push(Mismatch::UniqueDelta {
            expected: facts.expected_new,
            actual: unique,
        });
    }
    let received = delta(after.received, before.received);
    let (low, high) = (facts.sent, facts.sent + facts.uncertain_events);
    if facts.failures == 0 && !(i128::from(low)..=i128::from(high)).contains(&received) {
        mismatches.push(Mismatch::ReceivedDelta {
            low,
            high,
            actual: received,
        });
    }
    if u128::from(after.received)
        != u128::from(after.unique_processed) + u128::from(after.duplicate_dropped)
    {
        mismatches.push(Mismatch::Unbalanced {
            received: after.received,
            unique_processed: after.unique_processed,
            duplicate_dropped: after.duplicate_dropped,
        });
    }
    // A "new" answer lost to a retry shows up as "duplicate" in the retry's answer.
    let high_new = facts.expected_new;
    let low_new = high_new.saturating_sub(facts.uncertain_events);
    if facts.failures == 0 && !(low_new..=high_new).contains(&facts.reported_new) {
        mismatches.push(Mismatch::ReportedNew {
            low: low_new,
            high: high_new,
            actual: facts.reported_new,
        });
    }
    if facts.keys_reported_new_twice > 0 {
        mismatches.push(Mismatch::NewTwice(facts.keys_reported_new_twice));
    }
    if facts.mismatched_answers > 0 {
        mismatches.push(Mismatch::MismatchedAnswers(facts.mismatched_answers));
    }
    mismatches
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: ServerCounters = ServerCounters {
        received: 1_000,
        unique_processed: 700,
        duplicate_dropped: 300,
    };

    fn clean_run() -> RunFacts {
        RunFacts {
            sent: 5_000,
            expected_new: 4_000,
            reported_new: 4_000,
            ..RunFacts::default()
        }
    }

    fn after(received: u64, unique: u64) -> ServerCounters {
        ServerCounters {
            received: BEFORE.received + received,
            unique_processed: BEFORE.unique_processed + unique,
            duplicate_dropped: BEFORE.duplicate_dropped + received - unique,
        }
    }

    #[test]
    fn a_server_that_counts_right_is_verified_even_with_earlier_data() {
        assert_eq!(verify(BEFORE, after(5_000, 4_000), &clean_run()), vec![]);
    }

    #[test]
    fn a_server_that_under_counts_unique_events_fails() {
        let mismatches = verify(BEFORE, after(5_000, 3_999), &clean_run());
        assert_eq!(
            mismatches,
            vec![Mismatch::UniqueDelta {
                expected: 4_000,
                actual: 3_999
            }]
        );
    }

    #[test]
    fn a_server_that_loses_or_invents_received_events_fails() {
        for received in [4_999, 5_001] {
            let mismatches = verify(BEFORE, after(received, 4_000), &clean_run());
            assert!(
                matches!(mismatches[..], [Mismatch::ReceivedDelta { .. }]),
                "{received}: {mismatches:?}"
            );
        }
    }

    #[test]
    fn retried_attempts_widen_the_received_window_but_not_the_unique_count() {
        let facts = RunFacts {
            uncertain_events: 100,
            reported_new: 3_950, // some "new" answers were lost to retries
            ..clean_run()
        };
        assert_eq!(verify(BEFORE, after(5_100, 4_000), &facts), vec![]);
        assert!(!verify(BEFORE, after(5_101, 4_000), &facts).is_empty());
        assert!(!verify(BEFORE, after(5_050, 4_001), &facts).is_empty());
    }

    #[test]
    fn counters_that_do_not_add_up_fail() {
        let mut broken = after(5_000, 4_000);
        broken.duplicate_dropped -= 1;
        assert!(matches!(
            verify(BEFORE, broken, &clean_run())[..],
            [Mismatch::Unbalanced { .. }]
        ));
    }

    #[test]
    fn counters_that_go_backwards_fail_without_overflow() {
        let mismatches = verify(BEFORE, ServerCounters::default(), &clean_run());
        assert!(mismatches.contains(&Mismatch::UniqueDelta {
            expected: 4_000,
            actual: -700
        }));
    }

    #[test]
    fn outcomes_that_disagree_with_the_keys_sent_fail() {
        let facts = RunFacts {
            reported_new: 4_001,
            keys_reported_new_twice: 1,
            mismatched_answers: 2,
            ..clean_run()
        };
        let mismatches = verify(BEFORE, after(5_000, 4_000), &facts);
        assert_eq!(mismatches.len(), 3, "{mismatches:?}");
    }

    #[test]
    fn a_replay_expects_no_new_keys() {
        let facts = RunFacts {
            expected_new: 0,
            reported_new: 0,
            ..clean_run()
        };
        assert_eq!(verify(BEFORE, after(5_000, 0), &facts), vec![]);
        assert!(!verify(BEFORE, after(5_000, 4_000), &facts).is_empty());
    }

    #[test]
    fn failed_requests_make_a_run_unverifiable() {
        let facts = RunFacts {
            failures: 1,
            ..clean_run()
        };
        assert_eq!(
            verify(BEFORE, after(4_900, 3_950), &facts),
            vec![Mismatch::Failures(1)]
        );
    }

    #[test]
    fn the_error_message_lists_every_mismatch() {
        let error = VerificationError {
            mismatches: vec![Mismatch::Failures(2), Mismatch::NewTwice(1)],
        };
        assert_eq!(
            error.to_string(),
            "verification failed: 2 request(s) failed, so the server's counts cannot be checked \
             exactly; 1 key(s) were reported new more than once"
        );
    }
}
