//! PostgreSQL backend: a deadpool of tokio-postgres connections, prepared statements, and one
//! statement per group commit.
//!
//! A commit is a single `WITH ... INSERT ... ON CONFLICT DO NOTHING RETURNING` statement whose
//! second data-modifying CTE adds the batch's deltas to the shard's counter row. One statement in
//! autocommit mode is one transaction and one round trip: rows and counters land together or not
//! at all, which is what keeps the counters exact across crashes.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::Type;
use tokio_postgres::NoTls;
use tracing::{info, warn};

use super::contract::{bounded, Backend, Ingest};
use super::error::StoreError;
use super::model::{CommitBatch, CommitReport, ShardCounters, ShardId, StoredTotals};
use super::searchable::searchable_texts;
use crate::event::{Event, EventKey};
use notify::CommitFeed;
use sql::{
    COMMIT_ROWS_SQL, COMMIT_SQL, MIGRATIONS, MIGRATION_LOCK_KEY, OWN_COUNTERS_SQL, READ_ONLY_SQL,
    TOPICS_SQL, TOPIC_LOCK_SPACE,
};

mod cluster;
mod indexes;
mod notify;
mod queries;
mod reads;
mod removal;
mod search;
mod sql;
mod sql_state;
mod volume;
mod words_backfill;

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Largest number of pooled connections.
    pub pool_size: usize,
    /// Upper bound on any single store operation, pool wait included.
    pub timeout: Duration,
    /// Names this process's counter rows; distinct per aggregator sharing the database.
    pub instance_id: String,
    /// Time limit of one search; the server cancels the statement past it.
    pub query_timeout: Duration,
    /// Connections of the searches' own pool.
    pub search_pool_size: usize,
}

/// The PostgreSQL [`Store`](super::Store).
pub struct PostgresStore {
    pool: Pool,
    timeout: Duration,
    instance_id: String,
    /// When this store was opened: the start time this instance's heartbeat reports.
    started_at: DateTime<Utc>,
    /// Wakes live tails after commits, this instance's and the others'.
    feed: CommitFeed,
    /// The configured hosts, `host:port` comma-separated, for error messages.
    hosts: String,
    /// The live tails' reads: a pool of their own, so that any number of tails never takes a
    /// connection a commit needs; they queue among themselves instead.
    tail_pool: Pool,
    /// Searches: a pool of their own for the same reason, whose sessions cancel a statement
    /// past `query_timeout`.
    search_pool: Pool,
    /// Time limit of one search.
    query_timeout: Duration,
}

/// `host:port` of every host of `config`, comma-separated (a port given once applies to all).
fn hosts_of(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let port = ports.get(index).or(ports.first()).copied().unwrap_or(5432);
            match host {
                tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                tokio_postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// How much longer than a search's limit the client waits for the server's cancellation.
const SEARCH_GRACE: Duration = Duration::from_secs(1);

/// SQLSTATE of a statement cancelled by its `statement_timeout`.
const QUERY_CANCELED: &str = "57014";

/// Connections of the live tails' pool.
const TAIL_POOL_SIZE: usize = 2;

fn build_pool(
    config: tokio_postgres::Config,
    size: usize,
    timeout: Duration,
) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|err| StoreError::fatal(format!("cannot build the connection pool: {err}")))
}

/// `work_mem` of the search sessions (PostgreSQL's default is 4 MB). A search holds at most
/// a few such bitmaps or sorts; `--max-concurrent-queries` bounds how many run at once.
const SEARCH_WORK_MEM: &str = "64MB";

/// `random_page_cost` of the search sessions.
const SEARCH_RANDOM_PAGE_COST: &str = "1.1";

impl PostgresStore {
    /// Runs a search (on the searches' pool): the server cancels it past `query_timeout` (the
    /// search sessions' statement timeout), which is answered as too costly; the client waits
    /// a little longer, so that the cancellation is what it sees.
    async fn within_search_limit<T>(
        &self,
        search: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let limit = self.query_timeout;
        match bounded(limit + SEARCH_GRACE, search).await {
            Err(StoreError::Transient(cause)) if cause.code.as_deref() == Some(QUERY_CANCELED) => {
                Err(StoreError::too_costly(limit))
            }
            other => other.map_err(|err| err.at(&self.hosts)),
        }
    }

    /// Connects, checks the server answers, and applies pending migrations.
    pub async fn connect(url: &str, options: &PostgresOptions) -> Result<Self, StoreError> {
        let mut pg_config: tokio_postgres::Config = url
            .parse()
            .map_err(|err| StoreError::fatal(format!("invalid database URL: {err}")))?;
        if pg_config.get_connect_timeout().is_none() {
            pg_config.connect_timeout(options.timeout);
        }
        // The server, too, gives up on a statement past the store timeout, so a commit the client
        // stopped waiting for cannot land much later (its shard resyncs counters after that).
        if pg_config.get_options().is_none() {
            pg_config.options(format!(
                "-c statement_timeout={}",
                options.timeout.as_millis()
            ));
        }
        if pg_config.get_application_name().is_none() {
            pg_config.application_name("aggregator");
        }
        let hosts = hosts_of(&pg_config);
        let feed = CommitFeed::start(pg_config.clone(), options.instance_id.clone());
        let tail_pool = build_pool(pg_config.clone(), TAIL_POOL_SIZE, options.timeout)?;
        let mut search_config = pg_config.clone();
        let session_options = search_config.get_options().unwrap_or_default().to_owned();
        // A later `-c` of the same setting wins: the search sessions' own statement timeout,
        // and room for the bitmap of a common value's rows. With the default 4 MB a bitmap of
        // a few hundred thousand rows turns lossy, and every row of every page it touches is
        // checked again: a count of `level:error` over 5,000,000 events took 7.7 s that way.
        // And the cost of reading a page out of order as an SSD or the page cache has it
        // (PostgreSQL's default, 4, is a spinning disk's): with 4 the planner walked the whole
        // time index rather than one source's newest rows (35 ms against 8 ms on 1,000,000).
        search_config.options(format!(
            "{session_options} -c statement_timeout={} -c work_mem={SEARCH_WORK_MEM} \
             -c random_page_cost={SEARCH_RANDOM_PAGE_COST}",
            options.query_timeout.as_millis()
        ));
        let search_pool = build_pool(search_config, options.search_pool_size, options.timeout)?;
        let pool = build_pool(pg_config, options.pool_size, options.timeout)?;
        let store = Self {
            pool,
            tail_pool,
            search_pool,
            query_timeout: options.query_timeout,
            timeout: options.timeout,
            instance_id: options.instance_id.clone(),
            started_at: Utc::now(),
            feed,
            hosts,
        };
        store.migrate().await?;
        tokio::spawn(words_backfill::fill_missing(store.pool.clone()));
        tokio::spawn(indexes::build_missing(store.pool.clone()));
        tokio::spawn(volume::count_older_rows(store.pool.clone()));
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await?;
        for (version, sql) in MIGRATIONS {
            let applied = tx
                .query_opt(
                    "SELECT 1 FROM schema_migrations WHERE version = $1",
                    &[&version],
                )
                .await?
                .is_some();
            if applied {
                continue;
            }
            tx.batch_execute(sql)
                .await
                .map_err(|err| StoreError::fatal(format!("migration {version} failed: {err}")))?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await?;
            info!(version, "applied postgres migration");
        }
        tx.commit().await?;
        Ok(())
    }

    /// Runs `operation` under the store timeout (see [`bounded`]); a failure names the
    /// database hosts, so that the log of a failover says which servers were tried.
    async fn bounded<T>(
        &self,
        operation: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        bounded(self.timeout, operation)
            .await
            .map_err(|err| err.at(&self.hosts))
    }

    /// Runs [`COMMIT_SQL`], or [`COMMIT_ROWS_SQL`] when `counted` is false; returns `is_new` per
    /// candidate and the counter row after the commit (none when not `counted`).
    async fn commit_unbounded(
        &self,
        batch: CommitBatch<'_>,
        counted: bool,
    ) -> Result<(Vec<bool>, Option<ShardCounters>), StoreError> {
        let client = self.pool.get().await?;
        let statement = if counted {
            client.prepare_cached(COMMIT_SQL).await?
        } else {
            let bound = [
                Type::TEXT_ARRAY,
                Type::TEXT_ARRAY,
                Type::TIMESTAMPTZ_ARRAY,
                Type::TEXT_ARRAY,
                Type::TEXT_ARRAY,
                Type::TEXT,
                Type::INT4,
                Type::INT8,
            ];
            client.prepare_typed_cached(COMMIT_ROWS_SQL, &bound).await?
        };
        let candidates = batch.candidates;
        // Rows are inserted in key order: two transactions that insert overlapping keys (several
        // aggregators sharing the database) then wait for each other in one direction only and
        // cannot deadlock. Within one commit, a topic's events therefore get `seq` in event_id
        // order; across commits, `seq` still follows commit order.
        let mut in_key_order: Vec<&Event> = candidates.to_vec();
        in_key_order.sort_unstable_by(|left, right| left.key().cmp(&right.key()));
        let topics: Vec<&str> = in_key_order.iter().map(|e| e.topic.as_str()).collect();
        let event_ids: Vec<&str> = in_key_order.iter().map(|e| e.event_id.as_str()).collect();
        let timestamps: Vec<DateTime<Utc>> = in_key_order.iter().map(|e| e.timestamp).collect();
        let sources: Vec<&str> = in_key_order.iter().map(|e| e.source.as_str()).collect();
        let payloads: Vec<&str> = in_key_order.iter().map(|e| e.payload.get()).collect();
        let words = searchable_texts(&payloads).await?;
        let shard = i32::try_from(batch.shard)
            .map_err(|_| StoreError::corrupt(format!("shard id {} too large", batch.shard)))?;
        let received = i64::try_from(batch.received)
            .map_err(|_| StoreError::corrupt(format!("batch of {} events", batch.received)))?;
        let rows = client
            .query(
                &statement,
                &[
                    &topics,
                    &event_ids,
                    &timestamps,
                    &sources,
                    &payloads,
                    &self.instance_id,
                    &shard,
                    &received,
                    &TOPIC_LOCK_SPACE,
                    &words,
                ],
            )
            .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(err) => {
                // Never reuse it: the pool would hand it to every later commit.
                if sql_state::is_read_only(&err) {
                    warn!("a pooled connection reached a read-only node; discarding it");
                    drop(deadpool_postgres::Object::take(client));
                }
                return Err(err.into());
            }
        };

        let mut index_of = std::collections::HashMap::with_capacity(candidates.len());
        for (index, event) in candidates.iter().enumerate() {
            index_of.insert(event.key(), index);
        }
        let mut is_new = vec![false; candidates.len()];
        let mut counters_after = None;
        for row in &rows {
            let topic: Option<&str> = row.try_get(0)?;
            let event_id: Option<&str> = row.try_get(1)?;
            let (Some(topic), Some(event_id)) = (topic, event_id) else {
                counters_after = Some(counters_at(row, 2)?);
                continue;
            };
            let key = EventKey { topic, event_id };
            let index = index_of.get(&key).ok_or_else(|| {
                StoreError::corrupt(format!("commit returned a key it was not given: {key:?}"))
            })?;
            is_new[*index] = true;
        }
        Ok((is_new, counters_after))
    }

    async fn own_counters_unbounded(&self, shard: ShardId) -> Result<ShardCounters, StoreError> {
        let shard = i32::try_from(shard)
            .map_err(|_| StoreError::corrupt(format!("shard id {shard} too large")))?;
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(OWN_COUNTERS_SQL).await?;
        match client
            .query_opt(&statement, &[&self.instance_id, &shard])
            .await?
        {
            Some(row) => counters_at(&row, 0),
            None => Ok(ShardCounters::default()),
        }
    }

    async fn load_counters_unbounded(&self) -> Result<StoredTotals, StoreError> {
        let client = self.pool.get().await?;
        let shards = self.shard_rows(&client).await?;
        let mut topics = Vec::new();
        for row in client.query(TOPICS_SQL, &[]).await? {
            topics.push(row.try_get(0)?);
        }
        let removals = self.removal_totals(&client).await?;
        Ok(StoredTotals {
            shards,
            topics,
            removals,
        })
    }
}

#[async_trait]
impl Backend for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn operation_timeout(&self) -> Duration {
        self.timeout
    }

    /// Ready means writable: a connection that reached a read-only node (a standby, or a
    /// primary demoted by a failover) leaves the pool and the store is not ready.
    async fn ping(&self) -> Result<(), StoreError> {
        self.bounded(async {
            let client = self.pool.get().await?;
            let read_only: bool = client.query_one(READ_ONLY_SQL, &[]).await?.try_get(0)?;
            if read_only {
                drop(deadpool_postgres::Object::take(client));
                return Err(StoreError::transient(
                    "postgres: connected to a read-only node; waiting for a primary",
                ));
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl Ingest for PostgresStore {
    async fn commit(&self, batch: CommitBatch<'_>) -> Result<CommitReport, StoreError> {
        let (is_new, counters_after) = self.bounded(self.commit_unbounded(batch, true)).await?;
        self.feed.committed();
        let counters_after =
            counters_after.ok_or_else(|| StoreError::corrupt("commit returned no counter row"))?;
        Ok(CommitReport {
            is_new,
            counters_after,
        })
    }

    async fn commit_uncounted(&self, batch: CommitBatch<'_>) -> Result<Vec<bool>, StoreError> {
        let (is_new, _none) = self.bounded(self.commit_unbounded(batch, false)).await?;
        self.feed.committed();
        Ok(is_new)
    }

    async fn own_counters(&self, shard: ShardId) -> Result<ShardCounters, StoreError> {
        self.bounded(self.own_counters_unbounded(shard)).await
    }

    async fn load_counters(&self) -> Result<StoredTotals, StoreError> {
        self.bounded(self.load_counters_unbounded()).await
    }
}

// Decoding of the counter rows, shared by the commit and the cluster view (`cluster.rs`).

/// Reads three bigint columns starting at `first` as counters.
fn counters_at(row: &tokio_postgres::Row, first: usize) -> Result<ShardCounters, StoreError> {
    let counter = |index: usize| StoreError::counter(row.try_get(index)?);
    Ok(ShardCounters {
        received: counter(first)?,
        unique_processed: counter(first + 1)?,
        duplicate_dropped: counter(first + 2)?,
    })
}
