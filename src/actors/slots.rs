//! `CommitSlots`: how many commits of one shard index may run at once, across the shard's
//! incarnations.
//!
//! A shard pipelines its commits: the next batch goes to the store while the previous one
//! waits for its disk flush. Each running commit holds one slot until it has reported to the
//! stats actor and answered its requests (it tells its shard just after). The slots belong to the shard *index*, not to one incarnation, so a restarted
//! shard counts the commits its killed predecessor left running. Reading the shard's counter
//! row back (a resync) takes every slot, so that no commit of the shard runs meanwhile and the
//! row read is exactly what the live counters must show.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The commit slots of one shard index; clones share them.
#[derive(Debug, Clone)]
pub struct CommitSlots {
    slots: Arc<Semaphore>,
    count: u32,
}

impl CommitSlots {
    /// `count` slots (at least 1).
    pub fn new(count: usize) -> Self {
        let count = u32::try_from(count.max(1)).unwrap_or(u32::MAX);
        Self {
            slots: Arc::new(Semaphore::new(count as usize)),
            count,
        }
    }

    /// How many commits may run at once.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    /// One slot, waiting for a running commit to end when all are taken. `None` only if the
    /// slots were closed, which nothing does.
    pub async fn one(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().acquire_owned().await.ok()
    }

    /// Every slot: returns once no commit of this shard index is running. (`None` as above.)
    pub async fn all(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().acquire_many_owned(self.count).await.ok()
    }
}
