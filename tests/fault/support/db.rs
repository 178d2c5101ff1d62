//! A fresh PostgreSQL database per test, and reads of what was stored.

use std::collections::HashSet;

use tokio_postgres::{Client, Config, NoTls};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A `(topic, event_id)` key.
pub type Key = (String, String);

/// A database created for one test; never dropped during the run (house style).
pub struct TestDb {
    /// Name of the database, `test_<uuid>`.
    pub name: String,
    /// URL of the database itself.
    pub url: String,
    user: String,
    password: Option<String>,
    host: String,
    port: u16,
}

impl TestDb {
    /// Creates `test_<uuid>` through the maintenance URL (`TEST_DATABASE_URL`).
    pub async fn create() -> Self {
        let maintenance = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.into());
        let config: Config = maintenance
            .parse()
            .expect("TEST_DATABASE_URL is not a valid URL");
        let client = connect(&maintenance).await;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            other => panic!("TEST_DATABASE_URL must name a TCP host, got {other:?}"),
        };
        let mut db = Self {
            url: String::new(),
            user: config.get_user().unwrap_or("postgres").to_string(),
            password: config
                .get_password()
                .map(|pw| String::from_utf8_lossy(pw).into_owned()),
            port: config.get_ports().first().copied().unwrap_or(5432),
            host,
            name,
        };
        db.url = db.url_via(&db.host.clone(), db.port);
        db
    }

    /// The URL of this database reached through `host:port` (e.g. a proxy).
    pub fn url_via(&self, host: &str, port: u16) -> String {
        let auth = match &self.password {
            Some(password) => format!("{}:{password}", self.user),
            None => self.user.clone(),
        };
        format!("postgres://{auth}@{host}:{port}/{}", self.name)
    }

    /// `host:port` of the PostgreSQL server.
    pub fn server_address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Rows in `events`.
    pub async fn count_rows(&self) -> u64 {
        let client = connect(&self.url).await;
        let row = client
            .query_one("SELECT count(*) FROM events", &[])
            .await
            .unwrap();
        row.get::<_, i64>(0) as u64
    }

    /// Every stored key.
    pub async fn keys(&self) -> HashSet<Key> {
        let client = connect(&self.url).await;
        client
            .query("SELECT topic, event_id FROM events", &[])
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    /// The persisted counters summed over every row: (received, unique, duplicate).
    pub async fn persisted_counters(&self) -> (u64, u64, u64) {
        let client = connect(&self.url).await;
        let row = client
            .query_one(
                "SELECT coalesce(sum(received), 0)::bigint, coalesce(sum(unique_processed), 0)::bigint,
                        coalesce(sum(duplicate_dropped), 0)::bigint FROM shard_counters",
                &[],
            )
            .await
            .unwrap();
        let get = |index: usize| row.get::<_, i64>(index) as u64;
        (get(0), get(1), get(2))
    }
}

/// Connects or panics with instructions.
async fn connect(url: &str) -> Client {
    match tokio_postgres::connect(url, NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(err) => panic!(
            "cannot reach PostgreSQL at {url}: {err}\n\
             Start it (e.g. `pg_ctlcluster <version> main start` or `docker compose up -d postgres`)\n\
             or point TEST_DATABASE_URL at a server where this user may CREATE DATABASE."
        ),
    }
}
