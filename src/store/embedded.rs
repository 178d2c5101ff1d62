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
mod feed;
mod listing;
mod prefix_filter;
mod queries;
mod removal;
mod result_code;
mod search;
mod search_threads;
mod volume;
mod words_backfill;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::contract::{
    bounded, Backend, Cluster, Ingest, Pruning, Reads, SweepReport, SweepRequest,
};
use super::error::StoreError;
use super::feed::{CommitSignal, FeedPosition, FollowPage, FollowQuery};
use super::model::{
    ClusterView, CommitBatch, CommitReport, EventPage, EventQuery, InstanceInfo, ShardCounters,
    ShardId, StoredShard, StoredTotals,
};
use super::removal::{RemovalTotals, RemoveReport, RemoveRequest};
use super::searchable::with_searchable_texts;
use connection::ReadPool;
pub use connection::SyncMode;
use removal::{RemoveJob, SweepJob};
use search_threads::SearchThreads;
use writer::{CommitJob, Job, OwnedEvent};

/// Settings of the embedded store.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Upper bound on any single store operation, queueing included; also SQLite's busy timeout.
    pub timeout: Duration,
    /// Durability of a commit; see DESIGN.md "Embedded store" for the measured trade-off.
    pub sync: SyncMode,
    /// Time limit of one search; past it SQLite interrupts the statement.
    pub query_timeout: Duration,
    /// Threads searches run on, at a lower CPU priority (`search_threads.rs`).
    pub search_threads: usize,
}

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "aggregator.db";
/// The instance name an embedded store reports: one process owns the file.
const EMBEDDED_INSTANCE: &str = "embedded";

/// Distinct topics after `?1`, `?2` at most, by a loose index scan over
/// `UNIQUE (topic, event_id)`: one index probe per topic instead of a scan of every row, so
/// start-up (every topic: after `''`, no limit) stays fast with millions of events.
const TOPICS_AFTER_SQL: &str = "\
WITH RECURSIVE t(topic, n) AS (
    SELECT (SELECT min(topic) FROM events WHERE topic > ?1), 1
    UNION ALL
    SELECT (SELECT min(topic) FROM events WHERE topic > t.topic), n + 1 FROM t
    WHERE t.topic IS NOT NULL AND n < ?2
)
SELECT topic FROM t WHERE topic IS NOT NULL";

const COUNTERS_SQL: &str = "\
SELECT shard, received, unique_processed, duplicate_dropped FROM shard_counters ORDER BY shard";

const OWN_COUNTERS_SQL: &str =
    "SELECT received, unique_processed, duplicate_dropped FROM shard_counters WHERE shard = ?1";

/// The SQLite [`Store`](super::Store).
pub struct EmbeddedStore {
    /// Feeds the writer thread; the thread stops when the store (and so this sender) is dropped.
    jobs: mpsc::Sender<Job>,
    readers: Arc<ReadPool>,
    /// Where searches run, at a lower CPU priority than ingest.
    searches: SearchThreads,
    timeout: Duration,
    /// Time limit of one search.
    query_timeout: Duration,
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
            searches: SearchThreads::start(options.search_threads)?,
            timeout: options.timeout,
            query_timeout: options.query_timeout,
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

    /// Queues the job `make` builds around a reply port and waits for the writer's answer,
    /// queueing included, within the store timeout.
    async fn ask_writer<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = make(reply);
        self.bounded(async {
            self.send(job).await?;
            answer.await.map_err(|_| writer_stopped())?
        })
        .await
    }

    /// Copies `batch` out for the writer thread and waits for its commit; with `counted` false
    /// the shard's counter row is left alone (and the report's counters are zeros).
    async fn commit_job(
        &self,
        batch: CommitBatch<'_>,
        counted: bool,
    ) -> Result<CommitReport, StoreError> {
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
                words: String::new(),
                field_tokens: String::new(),
            })
            .collect();
        let candidates = with_searchable_texts(candidates).await?;
        self.ask_writer(|reply| {
            Job::Commit(CommitJob {
                shard: i64::from(batch.shard),
                received,
                counted,
                candidates,
                reply,
            })
        })
        .await
    }
}

#[async_trait]
impl Backend for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn operation_timeout(&self) -> Duration {
        self.timeout
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
}

#[async_trait]
impl Ingest for EmbeddedStore {
    fn has_one_writer(&self) -> bool {
        true
    }

    async fn commit(&self, batch: CommitBatch<'_>) -> Result<CommitReport, StoreError> {
        self.commit_job(batch, true).await
    }

    async fn commit_uncounted(&self, batch: CommitBatch<'_>) -> Result<Vec<bool>, StoreError> {
        Ok(self.commit_job(batch, false).await?.is_new)
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

    async fn load_counters(&self) -> Result<StoredTotals, StoreError> {
        self.read(load_totals).await
    }
}

#[async_trait]
impl Reads for EmbeddedStore {
    async fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let query = query.clone();
        if query.filter.is_none() {
            return self
                .read(move |conn| listing::query_events(conn, &query))
                .await;
        }
        self.search(move |conn| listing::query_events(conn, &query))
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

// Beside the struct rather than in `removal.rs`: the writer thread runs what `removal.rs` holds,
// and these queue jobs for the writer thread, so there they would make a cycle of imports.
#[async_trait]
impl Pruning for EmbeddedStore {
    async fn remove(&self, request: RemoveRequest<'_>) -> Result<RemoveReport, StoreError> {
        self.ask_writer(|reply| {
            Job::Remove(RemoveJob {
                topic: request.topic.to_owned(),
                removal: request.removal,
                limit: request.limit,
                reply,
            })
        })
        .await
    }

    async fn sweep(&self, request: SweepRequest<'_>) -> Result<SweepReport, StoreError> {
        self.ask_writer(|reply| {
            Job::Sweep(SweepJob {
                after: request.after.seq,
                older_than: request.older_than,
                except: request.except.clone(),
                limit: request.limit,
                reply,
            })
        })
        .await
    }

    async fn topics_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let after = after.unwrap_or_default().to_owned();
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(TOPICS_AFTER_SQL)?;
            let rows = statement.query_map(rusqlite::params![after, limit], |row| row.get(0))?;
            rows.map(|topic| topic.map_err(StoreError::from)).collect()
        })
        .await
    }
}

#[async_trait]
impl Cluster for EmbeddedStore {
    /// One process owns an embedded store: the cluster is this instance, its topics are the
    /// ones it committed itself (already known to its stats actor), and only the counter rows
    /// are read back (not the topics, which this runs every second).
    async fn cluster_view(&self, topics_after: i64) -> Result<ClusterView, StoreError> {
        let (shards, removals) = self
            .read(|conn| Ok((load_shards(conn)?, load_removals(conn)?)))
            .await?;
        Ok(ClusterView {
            removals,
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
}

/// Reads three counter columns starting at `first`.
fn counters_at(row: &rusqlite::Row<'_>, first: usize) -> Result<ShardCounters, StoreError> {
    Ok(ShardCounters {
        received: StoreError::counter(row.get(first)?)?,
        unique_processed: StoreError::counter(row.get(first + 1)?)?,
        duplicate_dropped: StoreError::counter(row.get(first + 2)?)?,
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

/// The removal counters; one process owns the file, so they are all its own.
fn load_removals(conn: &Connection) -> Result<RemovalTotals, StoreError> {
    let row = conn.query_row(removal::COUNTERS_SQL, [], |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    let counters = removal::counters(row)?;
    Ok(RemovalTotals {
        total: counters,
        own: counters,
    })
}

fn load_totals(conn: &Connection) -> Result<StoredTotals, StoreError> {
    let shards = load_shards(conn)?;
    let mut topics = Vec::new();
    let mut statement = conn.prepare_cached(TOPICS_AFTER_SQL)?;
    let mut rows = statement.query(rusqlite::params!["", u32::MAX])?;
    while let Some(row) = rows.next()? {
        topics.push(row.get(0)?);
    }
    Ok(StoredTotals {
        shards,
        topics,
        removals: load_removals(conn)?,
    })
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
