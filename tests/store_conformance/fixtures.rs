//! Building events, committing them, and reading everything back.

use aggregator::event::Event;
use aggregator::store::{
    CommitBatch, EventQuery, PagePosition, ShardCounters, SharedStore, StoredEvent, StoredTotals,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::value::RawValue;

/// 2024-05-01T12:00:00Z: the default event timestamp.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

/// An event with default timestamp, source and payload.
pub fn event(topic: &str, event_id: &str) -> Event {
    event_with(topic, event_id, base_time(), "svc", r#"{"n":1}"#)
}

/// An event with every field chosen.
pub fn event_with(
    topic: &str,
    event_id: &str,
    ts: DateTime<Utc>,
    source: &str,
    payload: &str,
) -> Event {
    Event {
        topic: topic.into(),
        event_id: event_id.into(),
        timestamp: ts,
        source: source.into(),
        payload: RawValue::from_string(payload.into()).unwrap(),
    }
}

/// Commits `events` as candidates with `received = events.len()`; returns `is_new`.
pub async fn commit(store: &SharedStore, shard: u32, events: &[Event]) -> Vec<bool> {
    commit_received(store, shard, events, events.len() as u64).await
}

/// Commits `events` as candidates acknowledging `received` events in total.
pub async fn commit_received(
    store: &SharedStore,
    shard: u32,
    events: &[Event],
    received: u64,
) -> Vec<bool> {
    let candidates: Vec<&Event> = events.iter().collect();
    let report = store
        .commit(CommitBatch {
            shard,
            candidates: &candidates,
            received,
        })
        .await
        .expect("commit");
    assert_eq!(
        report.is_new.len(),
        events.len(),
        "one outcome per candidate"
    );
    report.is_new
}

/// Every page of `query` (its `after` is overwritten), checking each page's size and cursor.
pub async fn list_all(store: &SharedStore, mut query: EventQuery) -> Vec<StoredEvent> {
    let mut all = Vec::new();
    query.after = None;
    loop {
        let page = store.query(&query).await.expect("query");
        assert!(page.events.len() <= query.limit as usize);
        all.extend(page.events.iter().cloned());
        match page.next {
            Some(next) => {
                assert_eq!(
                    page.events.len(),
                    query.limit as usize,
                    "only full pages have a next"
                );
                assert_eq!(
                    Some(&next),
                    page.events.last().map(PagePosition::after).as_ref()
                );
                query.after = Some(next);
            }
            None => return all,
        }
    }
}

/// A query for everything, `limit` per page.
pub fn everything(limit: u32) -> EventQuery {
    EventQuery {
        limit,
        ..EventQuery::default()
    }
}

/// `(topic, event_id)` of stored events, in listing order.
pub fn keys(events: &[StoredEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|event| (event.topic.clone(), event.event_id.clone()))
        .collect()
}

/// The sum of every shard's counters.
pub fn total(totals: &StoredTotals) -> ShardCounters {
    let mut sum = ShardCounters::default();
    for stored in &totals.shards {
        sum.add(stored.total);
    }
    sum
}

/// The counters of one shard (zero when it never committed).
pub fn shard(totals: &StoredTotals, shard: u32) -> ShardCounters {
    totals
        .shards
        .iter()
        .find(|stored| stored.shard == shard)
        .map(|stored| stored.total)
        .unwrap_or_default()
}

/// Counters from their three values.
pub fn counters(received: u64, unique_processed: u64, duplicate_dropped: u64) -> ShardCounters {
    ShardCounters {
        received,
        unique_processed,
        duplicate_dropped,
    }
}
