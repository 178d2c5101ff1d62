//! The store's vocabulary: what a shard commits, what a commit reports, the counters, and the
//! shapes of a listing. Plain data shared by every backend and by their callers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

use super::removal::RemovalTotals;
use crate::event::{Event, TopicPrefixes};
use crate::query::words::payload_words;
use crate::query::{EventView, Query};

/// Index of a shard actor; also the key of its counter row.
pub type ShardId = u32;

/// One group commit from one shard.
#[derive(Debug)]
pub struct CommitBatch<'a> {
    /// The shard whose counter row takes the deltas.
    pub shard: ShardId,
    /// Distinct keys to insert if absent, in the order the shard received them.
    pub candidates: &'a [&'a Event],
    /// Every event this commit acknowledges, including the duplicates the shard already resolved
    /// in memory; `received - new` of them are counted as duplicates.
    pub received: u64,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReport {
    /// `is_new[i]` tells whether `candidates[i]` was inserted by this commit.
    pub is_new: Vec<bool>,
    /// This process's counter row of the shard as it stands after the commit. Live counters are
    /// kept from these snapshots rather than from deltas, so a commit whose answer was lost (a
    /// timeout, a killed shard) is counted as soon as the shard's next commit reports.
    pub counters_after: ShardCounters,
}

impl CommitReport {
    /// Number of rows this commit inserted.
    pub fn new_count(&self) -> u64 {
        self.is_new.iter().filter(|&&new| new).count() as u64
    }
}

/// Persisted counters of one shard, summed over every aggregator instance that wrote them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ShardCounters {
    /// Events acknowledged by this shard.
    pub received: u64,
    /// Events stored for the first time.
    pub unique_processed: u64,
    /// Events dropped because their key was already stored.
    pub duplicate_dropped: u64,
}

impl ShardCounters {
    /// Adds another set of counters (a commit's delta, or another instance's row).
    pub fn add(&mut self, other: ShardCounters) {
        self.received += other.received;
        self.unique_processed += other.unique_processed;
        self.duplicate_dropped += other.duplicate_dropped;
    }
}

impl ShardCounters {
    /// Whether `self` is a later snapshot of the same monotonic counter row than `other`.
    /// Every field only grows, so the snapshot with more `received` is the newer one.
    pub fn is_newer_than(&self, other: &ShardCounters) -> bool {
        self.received > other.received
    }

    /// Component-wise difference; saturates at zero so a stale snapshot never goes negative.
    pub fn saturating_sub(&self, other: &ShardCounters) -> ShardCounters {
        ShardCounters {
            received: self.received.saturating_sub(other.received),
            unique_processed: self.unique_processed.saturating_sub(other.unique_processed),
            duplicate_dropped: self
                .duplicate_dropped
                .saturating_sub(other.duplicate_dropped),
        }
    }
}

/// Persisted counters of one shard at start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredShard {
    /// The shard's index.
    pub shard: ShardId,
    /// Sum of the shard's rows over every instance sharing the store.
    pub total: ShardCounters,
    /// This process's own row (what [`CommitReport::counters_after`] will continue from).
    pub own: ShardCounters,
}

/// Everything the stats actor needs at start.
#[derive(Debug, Clone, Default)]
pub struct StoredTotals {
    /// Counters per shard (shards that never committed are absent).
    pub shards: Vec<StoredShard>,
    /// Every topic that has at least one stored event, sorted.
    pub topics: Vec<String>,
    /// Rows deleted by retention and purges.
    pub removals: RemovalTotals,
}

/// Filters and page position for `GET /events`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// Only this topic.
    pub topic: Option<String>,
    /// Only topics inside these prefixes (every topic when empty); applies with or without
    /// `topic`. Filtered in the store, so pages stay full and cursors keep working.
    pub topic_prefixes: TopicPrefixes,
    /// Only this source.
    pub source: Option<String>,
    /// Only events whose timestamp is at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only events whose timestamp is before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only events that match this search query (`q`); every event when `None`.
    pub filter: Option<Query>,
    /// The order of the listing, and so of its positions.
    pub order: ListingOrder,
    /// In time order: resume strictly after this position (`after` is for topic order).
    pub after_time: Option<TimePosition>,
    /// Resume strictly after this position.
    pub after: Option<PagePosition>,
    /// Page size, already clamped by the HTTP layer.
    pub limit: u32,
    /// Page budget in payload bytes: a page ends before the event that would take it past
    /// this (it always holds at least one event). `0` means no byte budget.
    pub max_bytes: usize,
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListingOrder {
    /// By topic, and within a topic in commit order: `(topic, seq)` (positions:
    /// [`PagePosition`]).
    #[default]
    ByTopic,
    /// Oldest timestamp first: `(ts, seq)` (positions: [`TimePosition`]).
    Oldest,
    /// Newest timestamp first: `(ts, seq)` descending (positions: [`TimePosition`]).
    Newest,
}

/// A position in time order `(ts, seq)` (`seq` is unique across topics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimePosition {
    /// Timestamp of the last event of the previous page.
    pub timestamp: DateTime<Utc>,
    /// Its commit sequence number.
    pub seq: i64,
}

impl TimePosition {
    /// The position of `event`.
    pub fn of(event: &StoredEvent) -> Self {
        Self {
            timestamp: event.timestamp,
            seq: event.seq,
        }
    }
}

/// A position in the listing order `(topic, seq)`: what an opaque cursor decodes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePosition {
    /// Topic of the last event of the previous page.
    pub topic: String,
    /// Its commit sequence number.
    pub seq: i64,
}

impl PagePosition {
    /// The position just after `event`.
    pub fn after(event: &StoredEvent) -> Self {
        Self {
            topic: event.topic.clone(),
            seq: event.seq,
        }
    }
}

/// An event as stored, for listing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredEvent {
    /// Commit sequence number: increases with commit order within a topic.
    pub seq: i64,
    /// The event's topic.
    pub topic: String,
    /// The event's id.
    pub event_id: String,
    /// The publisher's timestamp, in UTC.
    pub timestamp: DateTime<Utc>,
    /// The producing service.
    pub source: String,
    /// The payload exactly as published.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    /// When the aggregator committed it.
    pub received_at: DateTime<Utc>,
}

impl StoredEvent {
    /// Whether the event matches `query`, evaluated in memory (`query/eval.rs`): what a live
    /// tail keeps, and the model of every store's search.
    pub fn matches(&self, query: &Query) -> bool {
        if matches!(query, Query::All) {
            return true;
        }
        let text = self.payload.get();
        // A stored payload is valid JSON; were it not, it would hold no field.
        let payload = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
        let words = payload_words(text);
        query.matches(&EventView {
            topic: &self.topic,
            event_id: &self.event_id,
            source: &self.source,
            timestamp: self.timestamp,
            payload: &payload,
            words: &words,
        })
    }
}

/// One page of events.
#[derive(Debug, Clone)]
pub struct EventPage {
    /// The events, in `(topic, seq)` order.
    pub events: Vec<StoredEvent>,
    /// Where the next page starts, when there is one.
    pub next: Option<PagePosition>,
}

impl EventPage {
    /// Makes a page of the events fetched in listing order (at most `limit + 1`): the events
    /// that fit in `limit` and `max_bytes` of payload, and a next position when `more` events
    /// match beyond the fetched ones or some fetched ones did not fit.
    pub fn from_fetched(
        mut events: Vec<StoredEvent>,
        limit: u32,
        max_bytes: usize,
        more: bool,
    ) -> Self {
        let fetched = events.len();
        let mut fit = 0;
        let mut bytes = 0usize;
        for event in events.iter().take(limit as usize) {
            bytes = bytes.saturating_add(event.payload.get().len());
            if fit > 0 && max_bytes > 0 && bytes > max_bytes {
                break;
            }
            fit += 1;
        }
        events.truncate(fit);
        let next = if more || fit < fetched {
            events.last().map(PagePosition::after)
        } else {
            None
        };
        Self { events, next }
    }
}

/// One aggregator instance sharing the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InstanceInfo {
    /// Its `--instance-id`.
    pub instance: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// Whether its last heartbeat is recent enough (a few refresh periods, by the store's
    /// clock) for it to look alive.
    pub alive: bool,
}

/// What every instance sharing the store has committed, as of one read: what keeps `/stats`
/// the same on every instance.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// Counters per shard (shards that never committed are absent).
    pub shards: Vec<StoredShard>,
    /// Topics first committed after the position asked for, in that order.
    pub new_topics: Vec<String>,
    /// Where the next read of new topics starts.
    pub topics_cursor: i64,
    /// Every instance sharing the store.
    pub instances: Vec<InstanceInfo>,
    /// Rows deleted by retention and purges, by every instance and by this one.
    pub removals: RemovalTotals,
}
