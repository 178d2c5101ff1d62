//! How long the pruner waits after a full batch ([`Pace`]): in proportion to the batch's time
//! while ingest is committing, not at all while nothing is committed.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// After a full batch, the pruner waits this many times as long as the batch took: deleting
/// then takes at most `1 / (1 + PAUSE_FACTOR)` of one connection, and ingest keeps the rest
/// and the other connections (measured in `benches/run.py`, DESIGN.md "Retention").
const PAUSE_FACTOR: u32 = 4;
/// The same on a store with one writer ([`crate::store::Ingest::has_one_writer`]): its share
/// of that writer is what ingest loses, so it is held to a tenth (measured as above: a fifth
/// cost the embedded store 13-17% of its ingest).
const ONE_WRITER_PAUSE_FACTOR: u32 = 9;

/// The pruner's pace.
pub(super) struct Pace {
    /// How many times as long as a full batch took the next one waits, while commits are
    /// being made.
    factor: u32,
    /// Changes with every commit (the store's commit signal).
    commits: watch::Receiver<u64>,
}

impl Pace {
    /// The pace for a store with one writer or several, following its commit signal.
    pub(super) fn new(one_writer: bool, commits: watch::Receiver<u64>) -> Self {
        let factor = if one_writer {
            ONE_WRITER_PAUSE_FACTOR
        } else {
            PAUSE_FACTOR
        };
        Self { factor, commits }
    }

    /// Runs one batch and returns what it did with the pause owed after it
    /// ([`Pace::pause_after`] the batch's time); a failed batch owes nothing.
    pub(super) async fn time<T, E>(
        &mut self,
        batch: impl Future<Output = Result<T, E>>,
    ) -> Result<(T, Duration), E> {
        let began = Instant::now();
        let done = batch.await?;
        Ok((done, self.pause_after(began.elapsed())))
    }

    /// The pause owed after a full batch that took `took`: `factor` times as long when
    /// something was committed since the last batch (the batch held commits up, or shared the
    /// database with them), none otherwise, so that an idle store is pruned at full speed and
    /// a busy one gives ingest the rest of its time.
    pub(super) fn pause_after(&mut self, took: Duration) -> Duration {
        // A closed signal means the store is going away: pace as if busy.
        let ingesting = self.commits.has_changed().unwrap_or(true);
        self.commits.mark_unchanged();
        if ingesting {
            took * self.factor
        } else {
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CommitSignal;

    const TOOK: Duration = Duration::from_millis(10);

    #[test]
    fn a_batch_after_commits_is_paced_and_one_after_none_is_not() {
        let signal = CommitSignal::default();
        let mut pace = Pace::new(false, signal.subscribe());

        let idle = pace.pause_after(TOOK);
        signal.notify();
        let busy = pace.pause_after(TOOK);
        let idle_again = pace.pause_after(TOOK);

        assert_eq!(idle, Duration::ZERO);
        assert_eq!(busy, TOOK * PAUSE_FACTOR);
        assert_eq!(idle_again, Duration::ZERO, "each commit counts once");
    }

    #[test]
    fn a_store_with_one_writer_is_held_to_a_tenth_of_it() {
        let signal = CommitSignal::default();
        let mut pace = Pace::new(true, signal.subscribe());
        signal.notify();

        assert_eq!(pace.pause_after(TOOK), TOOK * 9);
    }

    #[test]
    fn a_closed_signal_paces_as_if_busy() {
        let signal = CommitSignal::default();
        let mut pace = Pace::new(false, signal.subscribe());
        drop(signal);

        assert_eq!(pace.pause_after(TOOK), TOOK * PAUSE_FACTOR);
    }
}
