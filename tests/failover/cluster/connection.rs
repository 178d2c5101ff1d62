//! SQL sessions to the formation's servers, always straight to one server on its loopback port
//! as [`SUPERUSER`] (the aggregator alone goes through the multi-host URI), and the reads the
//! harness makes on a data node.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use super::formation::HaCluster;
use super::node::Node;

/// The database made on the primary for the aggregator.
pub(super) const DATABASE: &str = "aggregator";
/// The superuser `initdb` creates on every node (the OS user running it).
pub(super) const SUPERUSER: &str = "postgres";

impl HaCluster {
    /// A connection straight to [`DATABASE`] on `node`.
    pub async fn client(&self, node: Node) -> Client {
        self.connect(node, DATABASE).await
    }

    /// `SHOW synchronous_standby_names` on `node`.
    pub async fn synchronous_standby_names(&self, node: Node) -> String {
        let row = self
            .connect(node, "postgres")
            .await
            .query_one("SHOW synchronous_standby_names", &[])
            .await
            .expect("SHOW synchronous_standby_names");
        row.get(0)
    }

    /// Whether `node` answers and takes writes (out of recovery, not read-only).
    pub(super) async fn is_writable(&self, node: Node) -> bool {
        let Ok(client) = self.try_connect(self.nodes[node.0].port, "postgres").await else {
            return false;
        };
        client
            .query_one(
                "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'",
                &[],
            )
            .await
            .is_ok_and(|row| row.get::<_, bool>(0))
    }

    pub(super) async fn connect(&self, node: Node, database: &str) -> Client {
        self.try_connect(self.nodes[node.0].port, database)
            .await
            .unwrap_or_else(|err| panic!("cannot connect to {node}/{database}: {err}"))
    }

    pub(super) async fn try_connect(
        &self,
        port: u16,
        database: &str,
    ) -> Result<Client, tokio_postgres::Error> {
        connect_to(port, database).await
    }
}

/// Connects as [`SUPERUSER`] to `database` on the loopback port `port`.
pub(super) async fn connect_to(port: u16, database: &str) -> Result<Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .user(SUPERUSER)
        .dbname(database)
        .connect_timeout(Duration::from_secs(2));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}
