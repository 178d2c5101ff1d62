//! [`MemoryStore`]: a [`Store`](super::Store) that keeps everything in this process's memory,
//! for the unit tests of the actors. It is NOT durable: whatever it holds is gone with the
//! process, so it is never offered as a backend. It keeps the contract otherwise (atomic
//! commits, a key new exactly once, per-shard counter rows), records every call, and lets a
//! test fail a commit or hold every commit until released.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

use super::contract::{Backend, Cluster, Ingest, Reads};
use super::error::{Cause, StoreError};
use super::feed::{CommitSignal, FeedPosition, FollowPage, FollowQuery, FollowScan, FollowedEvent};
use super::model::{
    ClusterView, CommitBatch, CommitReport, EventPage, EventQuery, ListingOrder, ShardCounters,
    ShardId, StoredEvent, StoredShard, StoredTotals,
};
use super::removal::{RemovalCounters, RemovalTotals};

mod removal;

/// What one commit asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitCall {
    /// The committing shard.
    pub shard: ShardId,
    /// `(topic, event_id)` of every candidate, in batch order.
    pub candidates: Vec<(String, String)>,
    /// Events acknowledged by the commit.
    pub received: u64,
}

#[derive(Default)]
struct Contents {
    /// `(topic, event_id)` → the stored event.
    rows: BTreeMap<(String, String), StoredEvent>,
    counters: BTreeMap<ShardId, ShardCounters>,
    removals: RemovalCounters,
    next_seq: i64,
    commits: Vec<CommitCall>,
    own_counter_reads: usize,
    follow_reads: usize,
    /// Errors the next commits fail with, first in first out.
    failures: VecDeque<StoreError>,
    /// A commit with a candidate whose event id contains this is refused as input.
    poison: Option<String>,
}

/// An in-memory, non-durable [`Store`](super::Store) for tests.
#[derive(Clone)]
pub struct MemoryStore {
    contents: Arc<Mutex<Contents>>,
    /// Commits take a read guard; [`MemoryStore::hold_commits`] takes the write guard.
    commit_gate: Arc<RwLock<()>>,
    timeout: Duration,
    signal: CommitSignal,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            contents: Arc::default(),
            commit_gate: Arc::default(),
            timeout: Duration::from_millis(100),
            signal: CommitSignal::default(),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn contents(&self) -> MutexGuard<'_, Contents> {
        self.contents.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every commit so far, in the order they started (failed and held ones included).
    pub fn commits(&self) -> Vec<CommitCall> {
        self.contents().commits.clone()
    }

    /// How many times a shard re-read its counter row.
    pub fn own_counter_reads(&self) -> usize {
        self.contents().own_counter_reads
    }

    /// How many times a live tail read the feed.
    pub fn follow_reads(&self) -> usize {
        self.contents().follow_reads
    }

    /// Rows stored.
    pub fn row_count(&self) -> usize {
        self.contents().rows.len()
    }

    /// The counter row of `shard`.
    pub fn counters(&self, shard: ShardId) -> ShardCounters {
        self.contents()
            .counters
            .get(&shard)
            .copied()
            .unwrap_or_default()
    }

    /// The next commit fails with `error` and changes nothing.
    pub fn fail_next_commit(&self, error: StoreError) {
        self.contents().failures.push_back(error);
    }

    /// Refuses (as [`StoreError::Rejected`], changing nothing) every commit that holds an event
    /// whose id contains `marker`, as PostgreSQL refuses a whole statement for one bad value.
    pub fn refuse_event_ids_containing(&self, marker: &str) {
        self.contents().poison = Some(marker.to_owned());
    }

    /// Holds every commit that starts from now on until the returned guard is dropped.
    pub async fn hold_commits(&self) -> OwnedRwLockWriteGuard<()> {
        self.commit_gate.clone().write_owned().await
    }
}

#[async_trait]
impl Backend for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn operation_timeout(&self) -> Duration {
        self.timeout
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl Ingest for MemoryStore {
    async fn commit(&self, batch: CommitBatch<'_>) -> Result<CommitReport, StoreError> {
        // Recorded before the gate, so a test can see a held commit has started.
        self.contents().commits.push(CommitCall {
            shard: batch.shard,
            candidates: batch
                .candidates
                .iter()
                .map(|event| (event.topic.clone(), event.event_id.clone()))
                .collect(),
            received: batch.received,
        });
        let _held = self.commit_gate.read().await;
        let mut contents = self.contents();
        if let Some(error) = contents.failures.pop_front() {
            return Err(error);
        }
        if let Some(marker) = &contents.poison {
            if batch.candidates.iter().any(|e| e.event_id.contains(marker)) {
                return Err(StoreError::Rejected(Cause::message("poison value")));
            }
        }
        let mut is_new = Vec::with_capacity(batch.candidates.len());
        for event in batch.candidates {
            let key = (event.topic.clone(), event.event_id.clone());
            let new = !contents.rows.contains_key(&key);
            if new {
                contents.next_seq += 1;
                let stored = StoredEvent {
                    seq: contents.next_seq,
                    topic: event.topic.clone(),
                    event_id: event.event_id.clone(),
                    timestamp: event.timestamp,
                    source: event.source.clone(),
                    payload: event.payload.clone(),
                    received_at: Utc::now(),
                };
                contents.rows.insert(key, stored);
            }
            is_new.push(new);
        }
        let new = is_new.iter().filter(|&&new| new).count() as u64;
        let row = contents.counters.entry(batch.shard).or_default();
        row.add(ShardCounters {
            received: batch.received,
            unique_processed: new,
            duplicate_dropped: batch.received.saturating_sub(new),
        });
        let counters_after = *row;
        self.signal.notify();
        Ok(CommitReport {
            is_new,
            counters_after,
        })
    }

    async fn own_counters(&self, shard: ShardId) -> Result<ShardCounters, StoreError> {
        let mut contents = self.contents();
        contents.own_counter_reads += 1;
        Ok(contents.counters.get(&shard).copied().unwrap_or_default())
    }

    async fn load_counters(&self) -> Result<StoredTotals, StoreError> {
        let contents = self.contents();
        let shards = contents
            .counters
            .iter()
            .map(|(&shard, &total)| StoredShard {
                shard,
                total,
                own: total,
            })
            .collect();
        let mut topics: Vec<String> = contents.rows.keys().map(|(t, _)| t.clone()).collect();
        topics.dedup();
        Ok(StoredTotals {
            shards,
            topics,
            removals: RemovalTotals {
                total: contents.removals,
                own: contents.removals,
            },
        })
    }
}

#[async_trait]
impl Reads for MemoryStore {
    async fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let contents = self.contents();
        let mut events: Vec<StoredEvent> = contents
            .rows
            .values()
            .filter(|event| query.topic.as_ref().is_none_or(|t| *t == event.topic))
            .filter(|event| query.topic_prefixes.contains(&event.topic))
            .filter(|event| query.source.as_ref().is_none_or(|s| *s == event.source))
            .filter(|event| query.since.is_none_or(|since| event.timestamp >= since))
            .filter(|event| query.until.is_none_or(|until| event.timestamp < until))
            .filter(|event| query.filter.as_ref().is_none_or(|q| event.matches(q)))
            .filter(|event| match query.order {
                ListingOrder::ByTopic => query.after.as_ref().is_none_or(|after| {
                    (event.topic.as_str(), event.seq) > (after.topic.as_str(), after.seq)
                }),
                ListingOrder::Oldest => query.after_time.is_none_or(|after| {
                    (event.timestamp, event.seq) > (after.timestamp, after.seq)
                }),
                ListingOrder::Newest => query.after_time.is_none_or(|after| {
                    (event.timestamp, event.seq) < (after.timestamp, after.seq)
                }),
            })
            .cloned()
            .collect();
        match query.order {
            ListingOrder::ByTopic => events
                .sort_by(|left, right| (&left.topic, left.seq).cmp(&(&right.topic, right.seq))),
            ListingOrder::Oldest => {
                events.sort_by_key(|event| (event.timestamp, event.seq));
            }
            ListingOrder::Newest => {
                events.sort_by_key(|event| std::cmp::Reverse((event.timestamp, event.seq)));
            }
        }
        events.truncate(query.limit as usize + 1);
        Ok(EventPage::from_fetched(
            events,
            query.limit,
            query.max_bytes,
            false,
        ))
    }

    /// One process, one lock: `seq` is commit order across topics, as on the embedded store.
    /// The rows examined are the next [`FollowQuery::scan_rows`] of the topic (or of all).
    async fn follow(&self, query: &FollowQuery) -> Result<FollowPage, StoreError> {
        let mut contents = self.contents();
        contents.follow_reads += 1;
        let mut candidates: Vec<&StoredEvent> = contents
            .rows
            .values()
            .filter(|event| query.topic.as_ref().is_none_or(|t| *t == event.topic))
            .filter(|event| event.seq > query.after.seq)
            .collect();
        candidates.sort_by_key(|event| event.seq);
        let mut scan = FollowScan::new(query);
        for event in candidates.into_iter().take(query.scan_rows() as usize) {
            if scan.is_full() {
                break;
            }
            let position = FeedPosition {
                tx: 0,
                seq: event.seq,
            };
            let matches = query.topic_prefixes.contains(&event.topic)
                && query.source.as_ref().is_none_or(|s| *s == event.source);
            if !matches {
                scan.skip(position);
                continue;
            }
            if !scan.fits(event.payload.get().len()) {
                break;
            }
            scan.push(FollowedEvent {
                position,
                event: event.clone(),
            });
        }
        Ok(scan.finish())
    }

    async fn feed_end(&self, topic: Option<&str>) -> Result<FeedPosition, StoreError> {
        let contents = self.contents();
        let seq = contents
            .rows
            .values()
            .filter(|event| topic.is_none_or(|t| t == event.topic))
            .map(|event| event.seq)
            .max()
            .unwrap_or(0);
        Ok(FeedPosition { tx: 0, seq })
    }

    fn commit_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signal.subscribe()
    }
}

#[async_trait]
impl Cluster for MemoryStore {
    async fn cluster_view(&self, topics_after: i64) -> Result<ClusterView, StoreError> {
        let totals = self.load_counters().await?;
        Ok(ClusterView {
            shards: totals.shards,
            new_topics: Vec::new(),
            topics_cursor: topics_after,
            instances: Vec::new(),
            removals: totals.removals,
        })
    }
}
