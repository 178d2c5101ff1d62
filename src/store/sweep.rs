//! The sweep of the default retention ([`SweepRequest`], [`SweepReport`]): the expired rows of
//! every topic no rule covers, in commit order (the order of [`FeedPosition`]). Rows of
//! different topics share pages in the order they were committed, so deleting in that order
//! dirties a few pages per thousand rows, where one topic's rows are spread over hundreds
//! (measured, DESIGN.md "Retention").

use std::time::Duration;

use super::feed::FeedPosition;
use super::removal::RemoveReport;
use crate::retention::RuledTopics;

/// One bounded sweep of the default retention: the next rows in commit order after `after`
/// (the order of [`FeedPosition`]), of which those due and not covered by a rule are deleted.
#[derive(Debug, Clone, Copy)]
pub struct SweepRequest<'a> {
    /// Where this sweep starts (strictly after); [`FeedPosition::START`] at first.
    pub after: FeedPosition,
    /// The default retention, by the store's clock.
    pub older_than: Duration,
    /// Topics left alone: a rule, not the default, decides their retention.
    pub except: &'a RuledTopics,
    /// At most this many rows examined, deleted or not.
    pub limit: u32,
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SweepReport {
    /// Rows deleted, lag, counters, and whether another instance is sweeping right now
    /// (PostgreSQL: then nothing was read).
    pub removal: RemoveReport,
    /// Where the next sweep starts: never past a swept row that is not yet due, so a position
    /// only skips rows that are gone or that a rule covers.
    pub next: FeedPosition,
    /// Whether the sweep reached a row not yet due, or the last row: the rest of this walk has
    /// nothing for it.
    pub finished: bool,
}
