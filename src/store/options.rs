//! [`StoreOptions`]: which backend to open and how, and [`open`], which opens it.
//!
//! Plain data: the command line (`cli/serve.rs`) fills it from flags, tests build it directly.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use super::contract::{SharedStore, Store};
use super::embedded::{EmbeddedOptions, EmbeddedStore, SyncMode, DATABASE_FILE};
use super::error::StoreError;
use super::postgres::{PostgresOptions, PostgresStore};
use super::queries::{Queries, SharedQueries};

/// Default directory of the embedded store.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default PostgreSQL pool size.
pub const DEFAULT_POOL_SIZE: usize = 8;
/// Default upper bound on one store operation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time limit of one search.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of searches run at once.
pub const DEFAULT_MAX_CONCURRENT_QUERIES: usize = 4;
/// Default name of this process's counter rows.
pub const DEFAULT_INSTANCE_ID: &str = "default";

/// Where events are stored and how long a store operation may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// PostgreSQL URL; without it the embedded store in `data_dir` is used.
    pub database_url: Option<String>,
    /// Directory of the embedded store (created when missing).
    pub data_dir: PathBuf,
    /// Largest number of pooled PostgreSQL connections.
    pub pool_size: usize,
    /// Upper bound on one store operation; past it the operation fails as transient.
    pub timeout: Duration,
    /// Name of this process's counter rows; each aggregator sharing a database needs its own.
    pub instance_id: String,
    /// Time limit of one search (`GET /events?q=`); past it the search is refused as too
    /// costly.
    pub query_timeout: Duration,
    /// Searches run at once; PostgreSQL gives them connections of their own, this many.
    pub max_concurrent_queries: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            database_url: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            pool_size: DEFAULT_POOL_SIZE,
            timeout: DEFAULT_TIMEOUT,
            instance_id: DEFAULT_INSTANCE_ID.into(),
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            max_concurrent_queries: DEFAULT_MAX_CONCURRENT_QUERIES,
        }
    }
}

impl StoreOptions {
    /// The PostgreSQL settings beyond the URL.
    pub fn postgres(&self) -> PostgresOptions {
        PostgresOptions {
            pool_size: self.pool_size.max(1),
            timeout: self.timeout,
            instance_id: self.instance_id.clone(),
            query_timeout: self.query_timeout,
            search_pool_size: self.max_concurrent_queries.max(1),
        }
    }

    /// The embedded store's settings.
    pub fn embedded(&self) -> EmbeddedOptions {
        EmbeddedOptions {
            timeout: self.timeout,
            sync: SyncMode::default(),
            query_timeout: self.query_timeout,
            search_threads: self.max_concurrent_queries.max(1),
        }
    }
}

/// The two ports of one opened backend.
pub struct OpenedStore {
    /// Ingest, listing, the live tail, retention and the cluster view.
    pub store: SharedStore,
    /// Counts and rankings of searches.
    pub queries: SharedQueries,
}

impl OpenedStore {
    fn of<B: Store + Queries>(backend: B) -> Self {
        let backend = Arc::new(backend);
        Self {
            store: backend.clone(),
            queries: backend,
        }
    }
}

/// Opens the backend `options` name and brings its schema up to date.
pub async fn open(options: &StoreOptions) -> Result<OpenedStore, StoreError> {
    if let Some(url) = &options.database_url {
        let store = PostgresStore::connect(url, &options.postgres()).await?;
        return Ok(OpenedStore::of(store));
    }
    let dir = &options.data_dir;
    tokio::fs::create_dir_all(dir).await.map_err(|err| {
        StoreError::fatal(format!(
            "cannot create data directory {}: {err}",
            dir.display()
        ))
    })?;
    let path = dir.join(DATABASE_FILE);
    info!(path = %path.display(), "opening embedded store");
    let store = EmbeddedStore::open(path, options.embedded()).await?;
    Ok(OpenedStore::of(store))
}
