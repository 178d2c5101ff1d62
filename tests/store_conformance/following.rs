//! Reading the live feed back: a follow query, one page checked against the page contract
//! ([`follow_page`]), paging until a count of events came ([`follow_until`]), and the checks
//! of follow order that the feed cases share.
//!
//! Across topics PostgreSQL follows only rows below the oldest transaction running anywhere in
//! the cluster, so a commit of another test may delay what is followable by a few
//! milliseconds: such reads poll ([`follow_until`]) within a bounded wait.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aggregator::event::TopicPrefixes;
use aggregator::store::{FeedPosition, FollowPage, FollowQuery, FollowedEvent, SharedStore};

/// Longest wait for events to become followable, or for a signal.
pub const WAIT: Duration = Duration::from_secs(10);

/// Pause between two reads of a feed that has nothing yet.
const POLL: Duration = Duration::from_millis(10);

/// A query after `after`, of `topic` (or every topic), `limit` per page, no byte budget.
pub fn after(topic: Option<&str>, after: FeedPosition, limit: u32) -> FollowQuery {
    FollowQuery {
        topic: topic.map(str::to_owned),
        topic_prefixes: TopicPrefixes::any(),
        source: None,
        after,
        limit,
        max_bytes: 0,
    }
}

/// One page of `query`, which must keep the page contract: at most `query.limit` events,
/// strictly after `query.after`, in increasing positions, and a `scanned_to` neither before
/// `after` nor before the last event.
pub async fn follow_page(store: &SharedStore, query: &FollowQuery) -> FollowPage {
    let page = store.follow(query).await.expect("follow");
    let events = &page.events;
    assert!(
        events.len() <= query.limit as usize,
        "{} events",
        events.len()
    );
    assert!(page.scanned_to >= query.after, "{page:?} before {query:?}");
    let positions: Vec<FeedPosition> = events.iter().map(|f| f.position).collect();
    assert!(
        positions.first().is_none_or(|first| *first > query.after),
        "{positions:?} not after {:?}",
        query.after
    );
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "positions do not increase: {positions:?}"
    );
    assert!(
        positions.last().is_none_or(|last| *last <= page.scanned_to),
        "scanned to {:?}, before its last event {positions:?}",
        page.scanned_to
    );
    page
}

/// The events of one page of `query` (see [`follow_page`]).
pub async fn follow(store: &SharedStore, query: &FollowQuery) -> Vec<FollowedEvent> {
    follow_page(store, query).await.events
}

/// Pages through `query` (each next page after the last one's `scanned_to`) until `count`
/// events came, polling while nothing is followable; fails past [`WAIT`] or past `count`.
pub async fn follow_until(
    store: &SharedStore,
    mut query: FollowQuery,
    count: usize,
) -> Vec<FollowedEvent> {
    let deadline = Instant::now() + WAIT;
    let mut followed = Vec::new();
    while followed.len() < count {
        let page = follow_page(store, &query).await;
        if page.scanned_to == query.after {
            assert!(
                Instant::now() < deadline,
                "{} of {count} events followed within {WAIT:?}",
                followed.len()
            );
            tokio::time::sleep(POLL).await;
        }
        query.after = page.scanned_to;
        followed.extend(page.events);
    }
    assert_eq!(followed.len(), count, "more events than committed");
    followed
}

/// `(topic, event_id)` of followed events, in follow order.
pub fn followed_keys(followed: &[FollowedEvent]) -> Vec<(String, String)> {
    followed
        .iter()
        .map(|f| (f.event.topic.clone(), f.event.event_id.clone()))
        .collect()
}

/// `(topic, event_id)` pairs from string pairs.
pub fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
    raw.iter()
        .map(|(topic, id)| (topic.to_string(), id.to_string()))
        .collect()
}

/// Asserts positions strictly increase, each position's `seq` is its event's, and within each
/// topic events come in `seq` order.
pub fn assert_follow_order(followed: &[FollowedEvent]) {
    let positions: Vec<FeedPosition> = followed.iter().map(|f| f.position).collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "positions do not increase: {positions:?}"
    );
    assert!(followed.iter().all(|f| f.position.seq == f.event.seq));
    let topics: HashSet<&str> = followed.iter().map(|f| f.event.topic.as_str()).collect();
    for topic in topics {
        let seqs: Vec<i64> = followed
            .iter()
            .filter(|f| f.event.topic == topic)
            .map(|f| f.event.seq)
            .collect();
        assert!(
            seqs.windows(2).all(|pair| pair[0] < pair[1]),
            "{topic} out of seq order: {seqs:?}"
        );
    }
}
