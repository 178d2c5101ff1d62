//! [`Follower`]: one live tail's loop over the store. It reads the next page after its position,
//! hands it to the response, and, once caught up, waits for the store's commit signal (or the
//! poll period, or its connection closing) before reading again.
//!
//! A follower holds at most one page: the next one is read only after the response body took
//! every event of the last, and the body is polled only as fast as the client's socket drains.
//! A slow subscriber therefore never makes the server buffer: it simply reads further behind,
//! from the store.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tracing::{debug, error, warn};

use crate::store::{FollowQuery, FollowedEvent, SharedStore, StoreError};

/// Longest a caught-up follower waits before it looks again without a signal: the bound on a
/// tail's delay when a signal is lost (an instance killed between its commit and its `NOTIFY`,
/// a broken feed connection, a transaction below the horizon that ended without committing).
pub const POLL_PERIOD: Duration = Duration::from_millis(500);
/// Reads per second that all caught-up tails of this instance make together, at most. A tail
/// woken by a commit reads no sooner than `open tails / TAIL_READS_PER_SECOND` after its last
/// read, so a stream of small commits costs the store a bounded number of reads however many
/// tails are open (each read then returns more events). With one tail that is 0.5 ms; with
/// 200, 100 ms.
const TAIL_READS_PER_SECOND: u32 = 2_000;
/// Pause after a store error before the follower tries again (the client stays connected and
/// keeps receiving heartbeats meanwhile).
const RETRY_PERIOD: Duration = Duration::from_secs(1);

/// The live tails' slots (`--max-subscribers`): one per open tail, given back when it ends.
#[derive(Debug, Clone)]
pub struct TailSlots {
    slots: Arc<Semaphore>,
    capacity: usize,
}

impl TailSlots {
    /// `capacity` slots, all free.
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// How many tails may be open at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// A slot for one more tail, if one is free.
    pub fn take(&self) -> Option<TailSlot> {
        let permit = self.slots.clone().try_acquire_owned().ok()?;
        Some(TailSlot {
            slots: self.clone(),
            _permit: permit,
        })
    }

    /// How many tails are open now.
    fn open(&self) -> usize {
        self.capacity.saturating_sub(self.slots.available_permits())
    }
}

/// One open tail's slot; dropping it gives the slot back.
#[derive(Debug)]
pub struct TailSlot {
    slots: TailSlots,
    _permit: OwnedSemaphorePermit,
}

/// One subscriber's position and what it needs to move on.
pub struct Follower {
    store: SharedStore,
    query: FollowQuery,
    wake: watch::Receiver<u64>,
    /// Turns `true` when the connection closes (maximum age, server shutdown); `None` never
    /// does (an answer served outside the connection loop).
    closing: Option<watch::Receiver<bool>>,
    /// The subscriber's slot under `--max-subscribers`, given back when the stream ends.
    slot: TailSlot,
    last_read: Instant,
}

impl Follower {
    /// A follower that starts after `query.after`, holding `slot`.
    pub fn new(
        store: SharedStore,
        query: FollowQuery,
        closing: Option<watch::Receiver<bool>>,
        slot: TailSlot,
    ) -> Self {
        let wake = store.commit_signal();
        Self {
            store,
            query,
            wake,
            closing,
            slot,
            last_read: Instant::now(),
        }
    }

    /// The shortest time between two reads of a caught-up tail (see [`TAIL_READS_PER_SECOND`]).
    fn read_interval(&self) -> Duration {
        let open = u32::try_from(self.slot.slots.open().max(1)).unwrap_or(u32::MAX);
        Duration::from_secs(1) * open / TAIL_READS_PER_SECOND
    }

    /// The next events, waiting until there are some; `None` when the stream should end (the
    /// connection is closing, or the store failed in a way a retry cannot fix).
    pub async fn next_page(&mut self) -> Option<Vec<FollowedEvent>> {
        loop {
            if self
                .closing
                .as_ref()
                .is_some_and(|closing| *closing.borrow())
            {
                return None;
            }
            // Marked seen before the read, so a commit that lands after it wakes the wait.
            self.wake.borrow_and_update();
            let read = self.store.follow(&self.query).await;
            self.last_read = Instant::now();
            let pause = match read {
                Ok(events) => match events.last() {
                    Some(last) => {
                        self.query.after = last.position;
                        return Some(events);
                    }
                    None => POLL_PERIOD,
                },
                Err(err @ StoreError::Transient(_)) => {
                    warn!(error = %err, "live tail cannot read the store; retrying");
                    RETRY_PERIOD
                }
                Err(err) => {
                    error!(error = %err, "live tail ends: the store failed");
                    return None;
                }
            };
            if !self.wait(pause).await {
                return None;
            }
        }
    }

    /// Waits for a commit signal, paced by [`Follower::read_interval`], or `pause`; `false`
    /// when the connection is closing.
    async fn wait(&mut self, pause: Duration) -> bool {
        let next_read = self.last_read + self.read_interval();
        let wake = &mut self.wake;
        let signalled = async {
            // A store that dropped its signal can only be polled.
            if wake.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep_until(next_read).await;
        };
        let closing = async {
            match self.closing.as_mut() {
                // A dropped sender is a closed connection too.
                Some(closing) => {
                    let _ = closing.wait_for(|closing| *closing).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = signalled => true,
            () = tokio::time::sleep(pause) => true,
            () = closing => {
                debug!("live tail ends: its connection is closing");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Event;
    use crate::store::memory::MemoryStore;
    use crate::store::{CommitBatch, FeedPosition, Store};

    async fn commit(store: &MemoryStore, topic: &str, id: &str) {
        let event = Event {
            topic: topic.into(),
            event_id: id.into(),
            timestamp: chrono::Utc::now(),
            source: "unit-test".into(),
            payload: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
        };
        let candidates = [&event];
        store
            .commit(CommitBatch {
                shard: 0,
                candidates: &candidates,
                received: 1,
            })
            .await
            .unwrap();
    }

    fn follower(store: &MemoryStore, closing: watch::Receiver<bool>) -> Follower {
        let slot = TailSlots::new(4).take().unwrap();
        let query = FollowQuery {
            limit: 2,
            ..FollowQuery::default()
        };
        Follower::new(Arc::new(store.clone()), query, Some(closing), slot)
    }

    #[tokio::test(start_paused = true)]
    async fn a_caught_up_tail_wakes_on_a_commit_and_reads_on_from_its_position() {
        let store = MemoryStore::new();
        let (_closing, closing_rx) = watch::channel(false);
        commit(&store, "a", "1").await;
        commit(&store, "b", "1").await;
        commit(&store, "a", "2").await;
        let mut follower = follower(&store, closing_rx);

        let first = follower.next_page().await.unwrap();
        let second = follower.next_page().await.unwrap();
        let waiting = tokio::spawn(async move {
            let page = follower.next_page().await.unwrap();
            (page, follower)
        });
        tokio::task::yield_now().await;
        let committed_at = Instant::now();
        commit(&store, "c", "1").await;
        let (third, _) = waiting.await.unwrap();
        // Woken by the commit, not by the poll period (paused time only moves for timers).
        assert!(
            committed_at.elapsed() < POLL_PERIOD,
            "{:?}",
            committed_at.elapsed()
        );

        let seqs = |page: &[FollowedEvent]| page.iter().map(|f| f.event.seq).collect::<Vec<_>>();
        assert_eq!(seqs(&first), [1, 2], "a page holds at most the limit");
        assert_eq!(seqs(&second), [3]);
        assert_eq!(seqs(&third), [4]);
        assert_eq!(third[0].position, FeedPosition { tx: 0, seq: 4 });
    }

    #[tokio::test(start_paused = true)]
    async fn the_server_shutting_down_ends_a_waiting_tail() {
        let store = MemoryStore::new();
        let (closing, closing_rx) = watch::channel(false);
        let mut follower = follower(&store, closing_rx);
        let waiting = tokio::spawn(async move { follower.next_page().await });
        tokio::task::yield_now().await;
        closing.send(true).unwrap();
        assert!(waiting.await.unwrap().is_none());
    }
}
