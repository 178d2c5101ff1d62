//! The store's vocabulary for deleting events: what the pruner asks ([`RemoveRequest`]), what
//! a deletion reports ([`RemoveReport`]), and the persisted counters of what was deleted
//! ([`RemovalCounters`]). Plain data shared by every backend and by the pruner actor.
//!
//! Deletions go two ways, both bounded per statement and counted in this instance's counter
//! row in the same transaction (so that after any crash `expired + purged` equals the rows
//! deleted): [`RemoveRequest`], the oldest rows of one topic in `seq` order, for purges and for
//! topics a retention rule covers; and the sweep of the default retention
//! ([`super::contract::SweepRequest`], beside the [`super::contract::Pruning::sweep`] that takes
//! it: it walks the feed's order, and the feed's vocabulary builds on this one).

use std::time::Duration;

use serde::Serialize;

/// Which rows of a topic to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Rows committed longer ago than this, by the store's clock (the one that wrote
    /// `received_at`). Counted as `expired`.
    Expired {
        /// The topic's retention.
        older_than: Duration,
    },
    /// Rows whose `seq` is at or below this (the topic's last `seq` when a purge began).
    /// Counted as `purged`.
    Purged {
        /// The highest `seq` deleted.
        up_to_seq: i64,
    },
}

/// One bounded deletion.
#[derive(Debug, Clone, Copy)]
pub struct RemoveRequest<'a> {
    /// The topic whose oldest rows go.
    pub topic: &'a str,
    /// Which of them.
    pub removal: Removal,
    /// At most this many rows, read from the start of the topic in `seq` order (rows among
    /// them that are not due are skipped, not deleted).
    pub limit: u32,
}

/// What one deletion did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RemoveReport {
    /// Rows deleted.
    pub removed: u64,
    /// For expiry: how long past its deadline the oldest deleted row was (the pruner's lag).
    pub overdue: Option<Duration>,
    /// This instance's counter row after the deletion (`None` when nothing was deleted and so
    /// nothing written).
    pub counters_after: Option<RemovalCounters>,
    /// Another instance is pruning this topic right now (PostgreSQL): nothing was read; the
    /// topic is left to it.
    pub busy: bool,
}

/// Persisted counts of deleted rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RemovalCounters {
    /// Rows deleted because their topic's retention ran out.
    pub expired: u64,
    /// Rows deleted by a purge of their topic.
    pub purged: u64,
}

impl RemovalCounters {
    /// Adds another set (another instance's row).
    pub fn add(&mut self, other: RemovalCounters) {
        self.expired += other.expired;
        self.purged += other.purged;
    }

    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.expired + self.purged
    }

    /// Whether `self` is a later snapshot of the same (only growing) row than `other`.
    pub fn is_newer_than(&self, other: &RemovalCounters) -> bool {
        self.total() > other.total()
    }

    /// Component-wise difference, saturating at zero.
    pub fn saturating_sub(&self, other: &RemovalCounters) -> RemovalCounters {
        RemovalCounters {
            expired: self.expired.saturating_sub(other.expired),
            purged: self.purged.saturating_sub(other.purged),
        }
    }
}

/// The removal counters as read back: summed over every instance, and this instance's row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemovalTotals {
    /// Sum over every instance sharing the store.
    pub total: RemovalCounters,
    /// This process's own row.
    pub own: RemovalCounters,
}
