//! Backend factories: each test gets an isolated store it can open more than once (to check
//! what survives a restart).

use std::sync::Arc;
use std::time::Duration;

use aggregator::store::embedded::{EmbeddedOptions, EmbeddedStore, SyncMode};
use aggregator::store::postgres::{PostgresOptions, PostgresStore};
use aggregator::store::{SharedQueries, SharedStore};
use tempfile::TempDir;

use crate::common::db::TestDb;

const STORE_TIMEOUT: Duration = Duration::from_secs(10);
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// An isolated database of one backend.
pub enum Backend {
    /// A fresh PostgreSQL database (never dropped, never reused).
    Postgres { url: String },
    /// A fresh directory holding the SQLite file; deleted when the test ends.
    Embedded { dir: TempDir },
}

impl Backend {
    /// Creates database `test_<uuid>` through the maintenance URL (see [`TestDb::create`]).
    pub async fn postgres() -> Self {
        Self::Postgres {
            url: TestDb::create().await.url,
        }
    }

    /// A fresh temporary directory.
    pub fn embedded() -> Self {
        Self::Embedded {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    /// Opens (and migrates) the store; every call opens the same database.
    pub async fn open(&self) -> SharedStore {
        self.open_with_query_timeout(QUERY_TIMEOUT).await
    }

    /// [`Self::open`] with searches limited to `query_timeout`.
    pub async fn open_with_query_timeout(&self, query_timeout: Duration) -> SharedStore {
        self.open_both(query_timeout).await.0
    }

    /// Opens the store and its query port (the same backend behind both).
    pub async fn open_with_queries(&self) -> (SharedStore, SharedQueries) {
        self.open_both(QUERY_TIMEOUT).await
    }

    async fn open_both(&self, query_timeout: Duration) -> (SharedStore, SharedQueries) {
        match self {
            Self::Postgres { url } => {
                let options = PostgresOptions {
                    pool_size: 8,
                    timeout: STORE_TIMEOUT,
                    instance_id: "conformance".into(),
                    query_timeout,
                    search_pool_size: 2,
                };
                let store = Arc::new(
                    PostgresStore::connect(url, &options)
                        .await
                        .expect("open postgres store"),
                );
                (store.clone(), store)
            }
            Self::Embedded { dir } => {
                let options = EmbeddedOptions {
                    timeout: STORE_TIMEOUT,
                    sync: SyncMode::default(),
                    query_timeout,
                    search_threads: 2,
                };
                let path = dir.path().join("aggregator.db");
                let store = Arc::new(
                    EmbeddedStore::open(path, options)
                        .await
                        .expect("open embedded store"),
                );
                (store.clone(), store)
            }
        }
    }

    /// Runs `sql` on the database directly, behind the store's back (to set up what an older
    /// version would have left).
    pub async fn execute(&self, sql: &str) {
        match self {
            Self::Postgres { url } => {
                let client = crate::common::db::connect(url).await;
                client.batch_execute(sql).await.expect("the statement runs");
            }
            Self::Embedded { dir } => {
                let conn = rusqlite::Connection::open(dir.path().join("aggregator.db"))
                    .expect("the file opens");
                conn.execute_batch(sql).expect("the statement runs");
            }
        }
    }
}
