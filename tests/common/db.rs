//! A fresh PostgreSQL database per test, the URLs that reach it, and reads of what was stored.
//!
//! The only variable read is `TEST_DATABASE_URL`, the maintenance URL through which test
//! databases are created. Databases are never reused or dropped mid-run, so a failed test leaves
//! its data behind for inspection.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

use super::wait::wait_until;

/// Where PostgreSQL is expected when `TEST_DATABASE_URL` is not set.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A `(topic, event_id)` key.
pub type Key = (String, String);

/// The maintenance URL: a database the tests may connect to in order to create their own.
pub fn maintenance_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.into())
}

/// `url` split into its scheme, its authority (`user@host:port`) and what follows the `/`.
fn split_url(url: &str) -> (&str, &str, &str) {
    let (scheme, rest) = url.split_once("://").expect("database URL has a scheme");
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    (scheme, authority, tail)
}

/// `url` with its database name replaced by `name` (the query string, if any, is kept).
pub fn url_with_database(url: &str, name: &str) -> String {
    let (scheme, authority, tail) = split_url(url);
    match tail.split_once('?') {
        Some((_, query)) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

/// `url` with its host and port replaced by `address` (user and database are kept), e.g. to go
/// through a [`super::proxy::TcpProxy`].
pub fn url_with_address(url: &str, address: SocketAddr) -> String {
    let (scheme, authority, tail) = split_url(url);
    match authority.rsplit_once('@') {
        Some((user, _)) => format!("{scheme}://{user}@{address}/{tail}"),
        None => format!("{scheme}://{address}/{tail}"),
    }
}

/// The PostgreSQL server address named by the maintenance URL (for a proxy's upstream).
pub fn postgres_address() -> SocketAddr {
    let config: tokio_postgres::Config =
        maintenance_url().parse().expect("valid TEST_DATABASE_URL");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let host = if host == "localhost" {
        "127.0.0.1".into()
    } else {
        host
    };
    format!("{host}:{port}")
        .parse()
        .expect("TEST_DATABASE_URL names an IP host")
}

/// Connects to `url`, or panics with instructions when PostgreSQL is unreachable.
pub async fn connect(url: &str) -> Client {
    match tokio_postgres::connect(url, NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(err) => panic!(
            "cannot reach PostgreSQL at {url}: {err}\n\
             These tests need a running PostgreSQL server that trusts the user in the URL and \
             lets it CREATE DATABASE.\n\
             Start one (e.g. `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust \
             postgres:16` or `pg_ctlcluster <version> main start`) or point TEST_DATABASE_URL \
             at one."
        ),
    }
}

/// Creates an empty database `test_<uuid>` through the maintenance URL and returns its name.
pub async fn create_database() -> String {
    let name = format!("test_{}", Uuid::new_v4().simple());
    connect(&maintenance_url())
        .await
        .batch_execute(&format!(r#"CREATE DATABASE "{name}""#))
        .await
        .unwrap_or_else(|err| panic!("cannot create test database {name}: {err}"));
    name
}

/// A database created for one test.
pub struct TestDb {
    /// Name of the database, `test_<uuid>`.
    pub name: String,
    /// Direct URL of the database (never through a proxy).
    pub url: String,
}

impl TestDb {
    /// Creates `test_<uuid>` (see [`create_database`]).
    pub async fn create() -> Self {
        let name = create_database().await;
        let url = url_with_database(&maintenance_url(), &name);
        Self { name, url }
    }

    /// The URL of this database reached through `address` (e.g. a proxy).
    pub fn url_via(&self, address: SocketAddr) -> String {
        url_with_address(&self.url, address)
    }

    /// The `serve` arguments that put the real binary on this database.
    pub fn serve_args(&self) -> Vec<String> {
        vec!["--database-url".into(), self.url.clone()]
    }

    /// A new connection straight to this database.
    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    /// Rows in `events`, counted in SQL.
    pub async fn count_rows(&self) -> u64 {
        count_rows(&self.client().await).await
    }

    /// Every stored key.
    pub async fn keys(&self) -> HashSet<Key> {
        stored_keys(&self.client().await).await
    }
}

/// Rows in `events` of the database `client` is connected to, counted in SQL.
pub async fn count_rows(client: &Client) -> u64 {
    let row = client
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .unwrap_or_else(|err| panic!("cannot count the rows: {err}"));
    u64::try_from(row.get::<_, i64>(0)).expect("a count is not negative")
}

/// Polls [`count_rows`] until it reaches `at_least` or `timeout` passes; tells which happened.
pub async fn rows_reach(client: &Client, at_least: u64, timeout: Duration) -> bool {
    wait_until(
        || async move { count_rows(client).await >= at_least },
        timeout,
    )
    .await
}

/// Every `(topic, event_id)` stored in the database `client` is connected to.
pub async fn stored_keys(client: &Client) -> HashSet<Key> {
    client
        .query("SELECT topic, event_id FROM events", &[])
        .await
        .unwrap_or_else(|err| panic!("cannot read the stored keys: {err}"))
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// The persisted counters of the database `client` is connected to, summed over every
/// instance and shard: (received, unique, duplicate).
pub async fn persisted_counters(client: &Client) -> (u64, u64, u64) {
    let row = client
        .query_one(
            "SELECT coalesce(sum(received), 0)::bigint, coalesce(sum(unique_processed), 0)::bigint,
                    coalesce(sum(duplicate_dropped), 0)::bigint FROM shard_counters",
            &[],
        )
        .await
        .unwrap_or_else(|err| panic!("cannot read the counters: {err}"));
    let get = |index: usize| u64::try_from(row.get::<_, i64>(index)).expect("not negative");
    (get(0), get(1), get(2))
}
