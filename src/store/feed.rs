//! The live feed's vocabulary: where a follower stands ([`FeedPosition`]), what it asks for
//! ([`FollowQuery`]), what it gets ([`FollowPage`] of [`FollowedEvent`]s), and the signal that
//! tells followers the store may hold something new ([`CommitSignal`]). `GET /events/stream` is
//! built on these; [`FollowScan`] is the page-filling bookkeeping the backends that filter in
//! Rust share.
//!
//! The follow order must never let an event commit *behind* a follower, or the follower would
//! skip it. Within a topic, `seq` already follows commit order on both backends (the topic's
//! head row serialises its commits). Across topics:
//! - the embedded store has one writer committing one transaction at a time, so `seq` alone is
//!   commit order;
//! - on PostgreSQL several processes commit at once and a lower `seq` can become visible after a
//!   higher one. Each row records its transaction id (`tx`), and a follower reads, in
//!   `(tx, seq)` order, only rows below the oldest transaction still running anywhere (the
//!   visibility horizon, `pg_snapshot_xmin`): every transaction below it has ended, so nothing
//!   can later appear before the follower's position.
//!
//! A read examines at most [`FollowQuery::scan_rows`] rows in follow order and reports how far
//! it looked ([`FollowPage::scanned_to`]), so a filtered tail (a source, a key's topic
//! prefixes) that matches few rows still moves on: each read costs a bounded number of rows,
//! instead of re-reading everything committed since its last match.

use std::sync::Arc;

use tokio::sync::watch;

use super::model::StoredEvent;
use crate::event::TopicPrefixes;

/// A position in the follow order; a follower asks for what comes strictly after it.
///
/// In one topic, `seq` within the topic (the order of `GET /events`) and `tx` is 0. Across
/// topics, `(tx, seq)` on PostgreSQL (`tx` is the committing transaction's id; rows stored
/// before the column existed have 0) and `seq` on the embedded store (`tx` is 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedPosition {
    /// The committing transaction (0 where the order is by `seq` alone).
    pub tx: i64,
    /// The event's commit sequence number.
    pub seq: i64,
}

impl FeedPosition {
    /// Before every stored event.
    pub const START: Self = Self { tx: 0, seq: 0 };
}

/// What a follower asks for: the next events after its position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowQuery {
    /// Only this topic (ordered by `seq`); `None` follows every topic.
    pub topic: Option<String>,
    /// Only topics inside these prefixes (every topic when empty); applies with or without
    /// `topic`.
    pub topic_prefixes: TopicPrefixes,
    /// Only this source.
    pub source: Option<String>,
    /// Strictly after this position.
    pub after: FeedPosition,
    /// Most events to return.
    pub limit: u32,
    /// Payload bytes budget: the answer ends before the event that would pass it (it holds at
    /// least one event). `0` means no byte budget.
    pub max_bytes: usize,
}

/// Rows a follow read may examine per event it may return (see [`FollowQuery::scan_rows`]).
pub const FOLLOW_SCAN_FACTOR: u32 = 10;

impl FollowQuery {
    /// The most rows one read examines, matching or not: [`FOLLOW_SCAN_FACTOR`] × `limit`. It
    /// bounds the cost of a read whose filters match little or nothing.
    pub fn scan_rows(&self) -> u32 {
        self.limit.saturating_mul(FOLLOW_SCAN_FACTOR)
    }
}

/// One answer of `Reads::follow`.
#[derive(Debug, Clone, Default)]
pub struct FollowPage {
    /// The matching events, in follow order: at most `limit`, within the byte budget.
    pub events: Vec<FollowedEvent>,
    /// Where the next read may start (strictly after it) without missing a matching event: the
    /// last row examined, matching or not; the last event's position when the page stopped
    /// early for its limit or byte budget; the query's `after` when nothing was examined. Never
    /// before `after` nor before the last event.
    pub scanned_to: FeedPosition,
}

/// One event in follow order, with the position just after it.
#[derive(Debug, Clone)]
pub struct FollowedEvent {
    /// Where a follower that has seen this event stands.
    pub position: FeedPosition,
    /// The event.
    pub event: StoredEvent,
}

/// Fills a [`FollowPage`] from rows read in follow order after `query.after` (at most
/// [`FollowQuery::scan_rows`] of them), for the backends that test the filters row by row.
/// Every row passed to [`FollowScan::skip`] or [`FollowScan::push`] counts as examined; a
/// matching row that [`FollowScan::fits`] refuses is not, and the scan stops there, as it does
/// once the page [`FollowScan::is_full`]: a page cut by its limit or byte budget then resumes
/// right after its last event.
#[derive(Debug)]
pub(crate) struct FollowScan {
    limit: usize,
    max_bytes: usize,
    bytes: usize,
    page: FollowPage,
}

impl FollowScan {
    /// An empty page after `query.after`.
    pub(crate) fn new(query: &FollowQuery) -> Self {
        Self {
            limit: usize::try_from(query.limit).unwrap_or(usize::MAX),
            max_bytes: query.max_bytes,
            bytes: 0,
            page: FollowPage {
                events: Vec::new(),
                scanned_to: query.after,
            },
        }
    }

    /// A row examined that does not match.
    pub(crate) fn skip(&mut self, position: FeedPosition) {
        self.examined(position);
    }

    /// Whether the page holds its limit of events: the scan stops before the next row, which
    /// could only be skipped or refused.
    pub(crate) fn is_full(&self) -> bool {
        self.page.events.len() >= self.limit
    }

    /// Whether a matching row of `payload_bytes` still fits the page: within the limit, and
    /// within the byte budget (or the page's first event). `false` ends the scan.
    pub(crate) fn fits(&self, payload_bytes: usize) -> bool {
        let within_budget = self.max_bytes == 0
            || self.page.events.is_empty()
            || self.bytes.saturating_add(payload_bytes) <= self.max_bytes;
        self.page.events.len() < self.limit && within_budget
    }

    /// A matching row, which [`FollowScan::fits`] accepted.
    pub(crate) fn push(&mut self, followed: FollowedEvent) {
        debug_assert!(self.fits(followed.event.payload.get().len()));
        self.bytes = self
            .bytes
            .saturating_add(followed.event.payload.get().len());
        self.examined(followed.position);
        self.page.events.push(followed);
    }

    /// The page, resuming after the last row examined.
    pub(crate) fn finish(self) -> FollowPage {
        self.page
    }

    fn examined(&mut self, position: FeedPosition) {
        debug_assert!(position > self.page.scanned_to, "rows out of follow order");
        self.page.scanned_to = position;
    }
}

/// Changes whenever the store may hold events a follower has not seen yet. Followers wait on
/// it instead of polling tightly; it may fire without anything new (they then find nothing).
#[derive(Debug, Clone)]
pub struct CommitSignal(Arc<watch::Sender<u64>>);

impl Default for CommitSignal {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }
}

impl CommitSignal {
    /// Tells every follower to look again.
    pub fn notify(&self) {
        self.0
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// A receiver that sees each later [`CommitSignal::notify`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    fn at(seq: i64) -> FeedPosition {
        FeedPosition { tx: 0, seq }
    }

    /// A followed event at `seq` with a payload of exactly `bytes` bytes (at least 2).
    fn followed(seq: i64, bytes: usize) -> FollowedEvent {
        let payload = format!("\"{}\"", "x".repeat(bytes - 2));
        FollowedEvent {
            position: at(seq),
            event: StoredEvent {
                seq,
                topic: "t".into(),
                event_id: seq.to_string(),
                timestamp: chrono::Utc::now(),
                source: "svc".into(),
                payload: RawValue::from_string(payload).unwrap(),
                received_at: chrono::Utc::now(),
            },
        }
    }

    fn query(limit: u32, max_bytes: usize) -> FollowQuery {
        FollowQuery {
            after: at(5),
            limit,
            max_bytes,
            ..FollowQuery::default()
        }
    }

    #[test]
    fn a_read_examines_ten_rows_per_event_it_may_return() {
        assert_eq!(query(100, 0).scan_rows(), 1_000);
        assert_eq!(query(0, 0).scan_rows(), 0);
        assert_eq!(query(u32::MAX, 0).scan_rows(), u32::MAX);
    }

    #[test]
    fn a_scan_resumes_after_the_last_row_examined_matching_or_not() {
        let nothing = FollowScan::new(&query(10, 0)).finish();
        let mut scan = FollowScan::new(&query(10, 0));
        scan.skip(at(6));
        scan.push(followed(7, 10));
        scan.skip(at(9));
        let page = scan.finish();

        assert!(nothing.events.is_empty());
        assert_eq!(
            nothing.scanned_to,
            at(5),
            "nothing examined: the query's after"
        );
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.scanned_to, at(9));
    }

    #[test]
    fn a_full_page_refuses_the_next_match_and_resumes_after_its_last_event() {
        let mut by_limit = FollowScan::new(&query(2, 0));
        by_limit.push(followed(6, 10));
        by_limit.skip(at(7));
        by_limit.push(followed(8, 10));
        let mut by_bytes = FollowScan::new(&query(10, 25));
        by_bytes.push(followed(6, 10));
        by_bytes.push(followed(7, 10));
        let mut first = FollowScan::new(&query(10, 1));

        assert!(by_limit.is_full());
        assert!(!by_limit.fits(1));
        assert!(!by_bytes.is_full());
        assert!(!by_bytes.fits(6));
        assert!(by_bytes.fits(5), "up to the budget exactly");
        assert!(first.fits(100), "a page holds at least one event");
        first.push(followed(6, 100));
        assert!(!first.fits(2));
        assert_eq!(by_limit.finish().scanned_to, at(8));
        assert_eq!(by_bytes.finish().scanned_to, at(7));
    }
}
