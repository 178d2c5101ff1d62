//! [`Reads`]: reading stored events back, as the `GET /events` listing pages them and as the
//! live tail follows them (the follow order is defined in `store/feed.rs`), and the signal
//! that wakes a tail when there may be more.

use async_trait::async_trait;

use super::backend::Backend;
use crate::store::error::StoreError;
use crate::store::feed::{FeedPosition, FollowPage, FollowQuery};
use crate::store::model::{EventPage, EventQuery};

/// Listing and the live feed.
///
/// - within a topic, `query` returns events in commit order (the `seq` column).
#[async_trait]
pub trait Reads: Backend {
    /// Lists stored events in `(topic, seq)` order. Every filter, `topic_prefixes` included,
    /// applies before the page is cut, so a page is short only when nothing matches after it.
    async fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError>;

    /// The next events after `query.after` in follow order (see `store/feed.rs`), only those
    /// that no commit still under way can precede, and only of topics inside
    /// `query.topic_prefixes`. Examines at most [`FollowQuery::scan_rows`] rows, matching or
    /// not, and reports in [`FollowPage::scanned_to`] how far it looked: a follower resumes
    /// strictly after it, so rows that did not match are not read again.
    async fn follow(&self, query: &FollowQuery) -> Result<FollowPage, StoreError>;

    /// The position after everything followable now, in one topic or across all: where a live
    /// tail that wants only new events starts.
    async fn feed_end(&self, topic: Option<&str>) -> Result<FeedPosition, StoreError>;

    /// Changes whenever the store may hold events a follower has not seen: after this
    /// process's commits and, on PostgreSQL, after other instances' (LISTEN/NOTIFY).
    fn commit_signal(&self) -> tokio::sync::watch::Receiver<u64>;
}
