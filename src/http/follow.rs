//! [`Follower`]: one live tail's loop over the store. It reads the next page after its position,
//! hands it to the response, and, once caught up, waits for the store's commit signal (or the
//! poll period, or its connection closing) before reading again. Its position is how far the
//! store looked, not its last event: a filtered tail moves past the rows it did not want.
//!
//! A follower holds at most one page: the next one is read only after the response body took
//! every event of the last, and the body is polled only as fast as the client's socket drains.
//! A slow subscriber therefore never makes the server buffer: it simply reads further behind,
//! from the store.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::auth::{AccessControl, Caller};
use crate::query::Query;
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
    /// Who opened the tail, checked before each read: the tail ends once its key is revoked
    /// or changed. `None` checks nothing.
    grant: Option<(Caller, Arc<AccessControl>)>,
    /// Only events matching this search query are sent, evaluated in memory on each page
    /// read (the store's reads stay the plain follow order); `None` sends every event.
    filter: Option<Query>,
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
            grant: None,
            filter: None,
        }
    }

    /// Sends only the events that match `filter`.
    pub fn matching(mut self, filter: Option<Query>) -> Self {
        self.filter = filter;
        self
    }

    /// Ends the tail before the first read after `access` stops granting what `caller` had.
    pub fn while_granted(mut self, caller: Caller, access: Arc<AccessControl>) -> Self {
        self.grant = Some((caller, access));
        self
    }

    fn still_granted(&self) -> bool {
        self.grant
            .as_ref()
            .is_none_or(|(caller, access)| access.still_grants(caller))
    }

    /// The shortest time between two reads of a caught-up tail (see [`TAIL_READS_PER_SECOND`]).
    fn read_interval(&self) -> Duration {
        let open = u32::try_from(self.slot.slots.open().max(1)).unwrap_or(u32::MAX);
        Duration::from_secs(1) * open / TAIL_READS_PER_SECOND
    }

    /// The next events, waiting until there are some; `None` when the stream should end (the
    /// connection is closing, or the store failed in a way a retry cannot fix).
    ///
    /// The position moves to how far each read looked
    /// ([`crate::store::FollowPage::scanned_to`]), past rows that did not match the tail's
    /// filters, so no read examines them again. A read that moved on without a match may have
    /// stopped at its scan bound with more rows behind: the next read comes as soon as the
    /// pacing allows, without waiting for a commit.
    pub async fn next_page(&mut self) -> Option<Vec<FollowedEvent>> {
        loop {
            if self
                .closing
                .as_ref()
                .is_some_and(|closing| *closing.borrow())
            {
                return None;
            }
            if !self.still_granted() {
                info!("live tail ends: its API key was revoked or changed");
                return None;
            }
            // Marked seen before the read, so a commit that lands after it wakes the wait.
            self.wake.borrow_and_update();
            let read = self.store.follow(&self.query).await;
            self.last_read = Instant::now();
            let next = match read {
                Ok(mut page) => {
                    debug_assert!(page.scanned_to >= self.query.after);
                    let moved = page.scanned_to > self.query.after;
                    self.query.after = page.scanned_to.max(self.query.after);
                    if let Some(filter) = &self.filter {
                        page.events = matching(page.events, filter).await;
                    }
                    if !page.events.is_empty() {
                        return Some(page.events);
                    }
                    if moved {
                        Next::Paced
                    } else {
                        Next::Signalled(POLL_PERIOD)
                    }
                }
                Err(err @ StoreError::Transient(_)) => {
                    warn!(error = %err, "live tail cannot read the store; retrying");
                    Next::Signalled(RETRY_PERIOD)
                }
                Err(err) => {
                    error!(error = %err, "live tail ends: the store failed");
                    return None;
                }
            };
            let open = match next {
                Next::Paced => self.pace().await,
                Next::Signalled(pause) => self.wait(pause).await,
            };
            if !open {
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
        tokio::select! {
            () = signalled => true,
            () = tokio::time::sleep(pause) => true,
            () = closed(&mut self.closing) => {
                debug!("live tail ends: its connection is closing");
                false
            }
        }
    }

    /// Waits only for [`Follower::read_interval`] after the last read; `false` when the
    /// connection is closing.
    async fn pace(&mut self) -> bool {
        let next_read = self.last_read + self.read_interval();
        tokio::select! {
            () = tokio::time::sleep_until(next_read) => true,
            () = closed(&mut self.closing) => {
                debug!("live tail ends: its connection is closing");
                false
            }
        }
    }
}

/// What a follower waits for before its next read.
enum Next {
    /// Only its turn under [`TAIL_READS_PER_SECOND`]: the last read moved on without a match.
    Paced,
    /// A commit signal (then its turn), or this long.
    Signalled(Duration),
}

/// The events of `events` that match `filter`, judged on a blocking thread: a page may hold
/// megabytes of payloads to walk, and the executor's threads also answer health checks.
async fn matching(events: Vec<FollowedEvent>, filter: &Query) -> Vec<FollowedEvent> {
    let filter = filter.clone();
    let judged = tokio::task::spawn_blocking(move || {
        events
            .into_iter()
            .filter(|followed| followed.event.matches(&filter))
            .collect()
    });
    // A cancelled judgement (the runtime shutting down) sends nothing rather than everything.
    judged.await.unwrap_or_default()
}

/// Resolves when `closing` turns `true` or its sender is dropped (a closed connection too);
/// never for `None`.
async fn closed(closing: &mut Option<watch::Receiver<bool>>) {
    match closing.as_mut() {
        Some(closing) => {
            let _ = closing.wait_for(|closing| *closing).await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
