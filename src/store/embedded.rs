//! Embedded backend: one SQLite file (`<data_dir>/aggregator.db`), nothing to install. The
//! zero-setup default when no database URL is configured.
//!
//! Same semantics as [`super::postgres::PostgresStore`], checked by the same conformance tests:
//! a commit inserts the absent candidates (`ON CONFLICT (topic, event_id) DO NOTHING`, one
//! changed row means new) and adds the counter deltas to the shard's row in the same
//! transaction, and is on disk before it is answered.
//!
//! Threads: all writes go through one dedicated writer thread ([`writer`]) that owns the only
//! read-write connection and group-commits whatever the shards queued. Reads (`query`,
//! `load_counters`, `ping`) run in `spawn_blocking` on read-only connections ([`connection`]),
//! which in WAL mode see the last committed snapshot without queueing behind writes. Every
//! operation is bounded by the store timeout, like PostgreSQL's.

mod connection;
mod errors;
mod feed;
mod options;
mod prefix_filter;
mod rows;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};
use tokio::sync::{mpsc, oneshot};

use super::bounded::bounded;
use super::contract::Store;
use super::error::StoreError;
use super::feed::{CommitSignal, FeedPosition, FollowPage, FollowQuery};
use super::model::{
    ClusterView, CommitBatch, CommitReport, EventPage, EventQuery, InstanceInfo, ShardCounters,
    ShardId, StoredShard, StoredTotals,
};
use connection::ReadPool;
pub use options::{EmbeddedOptions, SyncMode};
use writer::{CommitJob, Job, OwnedEvent};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "aggregator.db";
/// The instance name an embedded store reports: one process owns the file.
const EMBEDDED_INSTANCE: &str = "embedded";

/// Distinct topics by a loose index scan over `UNIQUE (topic, event_id)`: one index probe per
/// topic instead of a scan of every row, so start-up stays fast with millions of events.
const TOPICS_SQL: &str = "\
WITH RECURSIVE t(topic) AS (
    SELECT min(topic) FROM events
    UNION ALL
    SELECT (SELECT min(topic) FROM events WHERE topic > t.topic) FROM t WHERE t.topic IS NOT NULL
)
SELECT topic FROM t WHERE topic IS NOT NULL";

const SELECT_EVENTS: &str =
    "SELECT seq, topic, event_id, ts, source, payload, received_at FROM events WHERE 1";

const COUNTERS_SQL: &str = "\
SELECT shard, received, unique_processed, duplicate_dropped FROM shard_counters ORDER BY shard";

const OWN_COUNTERS_SQL: &str =
    "SELECT received, unique_processed, duplicate_dropped FROM shard_counters WHERE shard = ?1";

/// The SQLite [`Store`].
pub struct EmbeddedStore {
    /// Feeds the writer thread; the thread stops when the store (and so this sender) is dropped.
    jobs: mpsc::Sender<Job>,
    readers: Arc<ReadPool>,
    timeout: Duration,
    /// When this store was opened (the one instance's start, for `/stats`).
    started_at: DateTime<Utc>,
    /// Fired by the writer thread after each commit.
    signal: CommitSignal,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the database file at `path`, applies pending migrations and
    /// starts the writer thread. The parent directory must exist.
    pub async fn open(
        path: impl Into<PathBuf>,
        options: EmbeddedOptions,
    ) -> Result<Self, StoreError> {
        let path = path.into();
        let writer_path = path.clone();
        let conn =
            blocking(move || connection::open_writer(&writer_path, options.sync, options.timeout))
                .await?;
        let signal = CommitSignal::default();
        let jobs = writer::spawn(conn, signal.clone())?;
        Ok(Self {
            jobs,
            readers: Arc::new(ReadPool::new(path, options.timeout)),
            timeout: options.timeout,
            started_at: Utc::now(),
            signal,
        })
    }

    /// Runs `operation` under the store timeout (see [`bounded`]).
    async fn bounded<T>(
        &self,
        operation: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        bounded(self.timeout, operation).await
    }

    /// Runs a read on a pooled read-only connection, off the async executor.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = Arc::clone(&self.readers);
        self.bounded(blocking(move || readers.with_reader(read)))
            .await
    }

    async fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.send(job).await.map_err(|_| writer_stopped())
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn operation_timeout(&self) -> Duration {
        self.timeout
    }

    async fn commit(&self, batch: CommitBatch<'_>) -> Result<CommitReport, StoreError> {
        let received = i64::try_from(batch.received)
            .map_err(|_| StoreError::corrupt(format!("batch of {} events", batch.received)))?;
        let candidates = batch
            .candidates
            .iter()
            .map(|event| OwnedEvent {
                topic: event.topic.clone(),
                event_id: event.event_id.clone(),
                ts_micros: event.timestamp.timestamp_micros(),
                source: event.source.clone(),
                payload: event.payload.get().to_owned(),
            })
            .collect();
        let (reply, answer) = oneshot::channel();
        let job = Job::Commit(CommitJob {
            shard: i64::from(batch.shard),
            received,
            candidates,
            reply,
        });
        self.bounded(async {
            self.send(job).await?;
            answer.await.map_err(|_| writer_stopped())?
        })
        .await
    }

    async fn own_counters(&self, shard: ShardId) -> Result<ShardCounters, StoreError> {
        let shard = i64::from(shard);
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(OWN_COUNTERS_SQL)?;
            let mut rows = statement.query([shard])?;
            match rows.next()? {
                Some(row) => counters_at(row, 0),
                None => Ok(ShardCounters::default()),
            }
        })
        .await
    }

    async fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let query = query.clone();
        self.read(move |conn| query_events(conn, &query)).await
    }

    async fn load_counters(&self) -> Result<StoredTotals, StoreError> {
        self.read(load_totals).await
    }

    /// One process owns an embedded store: the cluster is this instance, its topics are the
    /// ones it committed itself (already known to its stats actor), and only the counter rows
    /// are read back (not the topics, which this runs every second).
    async fn cluster_view(&self, topics_after: i64) -> Result<ClusterView, StoreError> {
        let shards = self.read(load_shards).await?;
        Ok(ClusterView {
            shards,
            new_topics: Vec::new(),
            topics_cursor: topics_after,
            instances: vec![InstanceInfo {
                instance: EMBEDDED_INSTANCE.into(),
                started_at: self.started_at,
                heartbeat_at: Utc::now(),
                alive: true,
            }],
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.bounded(async {
            let (reply, answer) = oneshot::channel();
            self.send(Job::Ping(reply)).await?;
            answer.await.map_err(|_| writer_stopped())
        })
        .await?;
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
                row.get::<_, i64>(0)
            })?;
            Ok(())
        })
        .await
    }

    async fn follow(&self, query: &FollowQuery) -> Result<FollowPage, StoreError> {
        let query = query.clone();
        self.read(move |conn| feed::follow(conn, &query)).await
    }

    async fn feed_end(&self, topic: Option<&str>) -> Result<FeedPosition, StoreError> {
        let topic = topic.map(str::to_owned);
        self.read(move |conn| feed::end(conn, topic.as_deref()))
            .await
    }

    fn commit_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signal.subscribe()
    }
}

fn query_events(conn: &Connection, query: &EventQuery) -> Result<EventPage, StoreError> {
    let mut params: Vec<Value> = Vec::new();
    let mut bind = |value: Value| {
        params.push(value);
        format!("?{}", params.len())
    };
    let mut filters = String::new();
    if let Some(topic) = &query.topic {
        filters.push_str(&format!(
            " AND topic = {}",
            bind(Value::Text(topic.clone()))
        ));
    }
    // The exact test, then its span, which lets the listing seek the `(topic, seq)` index.
    filters.push_str(&prefix_filter::topic_prefixes(
        &query.topic_prefixes,
        &mut bind,
    ));
    filters.push_str(&prefix_filter::topic_span(&query.topic_prefixes, &mut bind));
    if let Some(source) = &query.source {
        filters.push_str(&format!(
            " AND source = {}",
            bind(Value::Text(source.clone()))
        ));
    }
    if let Some(since) = query.since {
        let since = bind(Value::Integer(since.timestamp_micros()));
        filters.push_str(&format!(" AND ts >= {since}"));
    }
    if let Some(until) = query.until {
        let until = bind(Value::Integer(until.timestamp_micros()));
        filters.push_str(&format!(" AND ts < {until}"));
    }
    let mut sql = match &query.after {
        None => format!("{SELECT_EVENTS}{filters}"),
        // `(topic, seq) > (?, ?)` is correct but SQLite does not seek the (topic, seq) index on
        // both columns with it: it scans the cursor's topic from its start (measured: 400 ms
        // per page deep into a topic of 1M rows). The rest of the cursor's topic plus the
        // following topics, as two index ranges merged in order, costs one seek each.
        Some(after) => {
            let topic = bind(Value::Text(after.topic.clone()));
            let seq = bind(Value::Integer(after.seq));
            format!(
                "{SELECT_EVENTS}{filters} AND topic = {topic} AND seq > {seq} \
                 UNION ALL {SELECT_EVENTS}{filters} AND topic > {topic}"
            )
        }
    };
    // One row more than asked tells whether a next page exists without a count query.
    let fetch = bind(Value::Integer(i64::from(query.limit) + 1));
    sql.push_str(&format!(" ORDER BY topic, seq LIMIT {fetch}"));

    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params_from_iter(params))?;
    let mut events = Vec::new();
    let mut bytes = 0usize;
    let mut cut_by_bytes = false;
    while let Some(row) = rows.next()? {
        let payload_text: String = row.get(5)?;
        // Stop reading at the byte budget, so huge payloads never pile up in memory.
        bytes = bytes.saturating_add(payload_text.len());
        if !events.is_empty() && query.max_bytes > 0 && bytes > query.max_bytes {
            cut_by_bytes = true;
            break;
        }
        events.push(rows::stored_event(row, payload_text)?);
    }
    Ok(EventPage::from_fetched(
        events,
        query.limit,
        query.max_bytes,
        cut_by_bytes,
    ))
}

/// A counter column, which can never be negative.
fn counter(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("negative counter {value}")))
}

/// Reads three counter columns starting at `first`.
fn counters_at(row: &rusqlite::Row<'_>, first: usize) -> Result<ShardCounters, StoreError> {
    Ok(ShardCounters {
        received: counter(row.get(first)?)?,
        unique_processed: counter(row.get(first + 1)?)?,
        duplicate_dropped: counter(row.get(first + 2)?)?,
    })
}

/// Every shard's counter row. One process owns an embedded store: its rows are all its own.
fn load_shards(conn: &Connection) -> Result<Vec<StoredShard>, StoreError> {
    let mut shards = Vec::new();
    let mut statement = conn.prepare_cached(COUNTERS_SQL)?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let shard: i64 = row.get(0)?;
        let shard = ShardId::try_from(shard)
            .map_err(|_| StoreError::corrupt(format!("shard id {shard} out of range")))?;
        let total = counters_at(row, 1)?;
        shards.push(StoredShard {
            shard,
            total,
            own: total,
        });
    }
    Ok(shards)
}

fn load_totals(conn: &Connection) -> Result<StoredTotals, StoreError> {
    let shards = load_shards(conn)?;
    let mut topics = Vec::new();
    let mut statement = conn.prepare_cached(TOPICS_SQL)?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        topics.push(row.get(0)?);
    }
    Ok(StoredTotals { shards, topics })
}

/// Runs blocking SQLite work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        // The runtime is shutting down: the work never ran, and may on the next attempt.
        Err(err) if err.is_cancelled() => Err(StoreError::transient("sqlite task cancelled")),
        Err(err) => Err(StoreError::fatal(format!("sqlite task failed: {err}"))),
    }
}

/// The writer thread is gone (it panicked): no commit can succeed until a restart.
fn writer_stopped() -> StoreError {
    StoreError::fatal("the embedded store's writer thread stopped")
}
