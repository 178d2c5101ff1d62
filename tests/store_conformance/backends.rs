//! Backend factories: each test gets an isolated store it can open more than once (to check
//! what survives a restart).

use std::sync::Arc;
use std::time::Duration;

use aggregator::store::embedded::{EmbeddedOptions, EmbeddedStore, SyncMode};
use aggregator::store::postgres::{PostgresOptions, PostgresStore};
use aggregator::store::SharedStore;
use tempfile::TempDir;
use tokio_postgres::NoTls;
use uuid::Uuid;

const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// An isolated database of one backend.
pub enum Backend {
    /// A fresh PostgreSQL database (never dropped, never reused).
    Postgres { url: String },
    /// A fresh directory holding the SQLite file; deleted when the test ends.
    Embedded { dir: TempDir },
}

impl Backend {
    /// Creates database `test_<uuid>` through the maintenance URL.
    pub async fn postgres() -> Self {
        let maintenance = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("test_{}", Uuid::new_v4().simple());
        let (client, connection) = tokio_postgres::connect(&maintenance, NoTls)
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "cannot reach PostgreSQL at {maintenance} ({err}). Start one (e.g. \
                     `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`) \
                     or point TEST_DATABASE_URL at a server where this user may CREATE DATABASE"
                )
            });
        tokio::spawn(connection);
        client
            .batch_execute(&format!(r#"CREATE DATABASE "{name}""#))
            .await
            .expect("create the test database");
        let parsed: tokio_postgres::Config = maintenance.parse().expect("valid TEST_DATABASE_URL");
        Self::Postgres {
            url: postgres_url(&parsed, &name),
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
        match self {
            Self::Postgres { url } => {
                let options = PostgresOptions {
                    pool_size: 8,
                    timeout: STORE_TIMEOUT,
                    instance_id: "conformance".into(),
                };
                Arc::new(
                    PostgresStore::connect(url, &options)
                        .await
                        .expect("open postgres store"),
                )
            }
            Self::Embedded { dir } => {
                let options = EmbeddedOptions {
                    timeout: STORE_TIMEOUT,
                    sync: SyncMode::default(),
                };
                let path = dir.path().join("aggregator.db");
                Arc::new(
                    EmbeddedStore::open(path, options)
                        .await
                        .expect("open embedded store"),
                )
            }
        }
    }
}

/// Rebuilds a URL for database `name` from the parsed maintenance URL (host, port, user).
fn postgres_url(config: &tokio_postgres::Config, name: &str) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    match config.get_password() {
        Some(password) => format!(
            "postgres://{user}:{}@{host}:{port}/{name}",
            String::from_utf8_lossy(password)
        ),
        None => format!("postgres://{user}@{host}:{port}/{name}"),
    }
}
