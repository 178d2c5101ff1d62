//! Building the formation: [`HaCluster`] and its services, created in order (monitor, first
//! node, then its standby) until one primary replicates synchronously to one secondary; then the
//! aggregator's database and the formation's multi-host URI.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::common::process::free_port;

use super::connection::{connect_to, DATABASE, SUPERUSER};
use super::host::{find_pg_ctl, postgres_identity};
use super::node::Node;
use super::timings::{NETWORK_PARTITION_TIMEOUT_S, SETUP_TIMEOUT};

/// A PostgreSQL server of the formation and the `pg_autoctl` keeper that runs it.
pub(super) struct Service {
    pub(super) name: String,
    pub(super) pgdata: PathBuf,
    pub(super) port: u16,
    pub(super) log: PathBuf,
    /// `pg_autoctl run` (or `create --run`), leader of its own process group; `None` while the
    /// service is stopped.
    pub(super) keeper: Option<Child>,
}

/// A pg_auto_failover formation: one monitor, two data nodes in synchronous replication.
pub struct HaCluster {
    /// Everything: PGDATA directories, `pg_autoctl`'s XDG directories, logs.
    pub(super) dir: Option<tempfile::TempDir>,
    pub(super) root: PathBuf,
    /// uid and gid to run PostgreSQL as (`postgres` when the tests run as root).
    pub(super) run_as: Option<(u32, u32)>,
    pub(super) pg_ctl: PathBuf,
    pub(super) monitor: Service,
    pub(super) nodes: [Service; 2],
    pub(super) uri: String,
}

impl HaCluster {
    /// Creates the monitor (with the failover timings of
    /// [`MONITOR_SETTINGS`](super::timings::MONITOR_SETTINGS)) and two data nodes, and returns
    /// once the monitor reports one `primary` and one `secondary` and the primary replicates
    /// synchronously; then creates [`DATABASE`] on the primary.
    pub async fn start() -> Self {
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("failover-")
            .tempdir()
            .expect("a temporary directory");
        let root = dir.path().to_path_buf();
        let run_as = postgres_identity();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).expect("chown to postgres");
        }
        let service = |name: &str| Service {
            name: name.to_string(),
            pgdata: root.join(name),
            port: free_port(),
            log: root.join(format!("{name}.log")),
            keeper: None,
        };
        let mut cluster = Self {
            dir: Some(dir),
            root: root.clone(),
            run_as,
            pg_ctl: find_pg_ctl(),
            monitor: service("monitor"),
            nodes: [service("node_1"), service("node_2")],
            uri: String::new(),
        };
        eprintln!(
            "HA cluster in {} (monitor :{}, node_1 :{}, node_2 :{})",
            root.display(),
            cluster.monitor.port,
            cluster.nodes[0].port,
            cluster.nodes[1].port
        );
        cluster.start_monitor().await;
        cluster.start_first_node().await;
        cluster.start_second_node().await;
        let primary = cluster
            .wait_for_states(&["primary", "secondary"], SETUP_TIMEOUT)
            .await;
        let sync = cluster.synchronous_standby_names(primary).await;
        assert!(
            sync.starts_with("ANY 1") || sync.starts_with("FIRST 1"),
            "the primary does not replicate synchronously: synchronous_standby_names = {sync:?}"
        );
        cluster
            .connect(primary, "postgres")
            .await
            .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
            .await
            .expect("CREATE DATABASE on the primary");
        cluster.uri = cluster.formation_uri().await;
        eprintln!(
            "HA cluster up in {:.1} s: primary {primary}, synchronous_standby_names {sync}, \
             URI {}",
            started.elapsed().as_secs_f64(),
            cluster.uri
        );
        cluster
    }

    /// The formation's multi-host URI of [`DATABASE`], as `pg_autoctl show uri` prints it
    /// (every node, `target_session_attrs=read-write`) plus the user.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    async fn start_first_node(&mut self) {
        self.create_node(Node(0)).await;
        self.run_node(Node(0));
        let single = self.wait_for_state(Node(0), "single", SETUP_TIMEOUT).await;
        assert!(
            single,
            "node_1 did not become single:\n{}",
            self.show_state().await
        );
    }

    /// The standby's creation takes a base backup of node_1, which starts with a checkpoint:
    /// explicit `CHECKPOINT`s on node_1 meanwhile spare waiting for a timed one.
    async fn start_second_node(&mut self) {
        let port = self.nodes[0].port;
        let checkpoints = tokio::spawn(async move {
            loop {
                if let Ok(client) = connect_to(port, "postgres").await {
                    let _ = client.batch_execute("CHECKPOINT").await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        self.create_node(Node(1)).await;
        checkpoints.abort();
        self.run_node(Node(1));
    }

    /// `pg_autoctl create postgres` for `node` (which registers it; a second node is set up as
    /// a standby), then the keeper's timeouts.
    async fn create_node(&self, node: Node) {
        let service = &self.nodes[node.0];
        let pgdata = service.pgdata.display().to_string();
        let port = service.port.to_string();
        let name = node.name();
        let monitor_uri = format!(
            "postgres://autoctl_node@127.0.0.1:{}/pg_auto_failover?sslmode=prefer",
            self.monitor.port
        );
        let mut args = vec![
            "create",
            "postgres",
            "--pgdata",
            &pgdata,
            "--pgport",
            &port,
            "--listen",
            "127.0.0.1",
            "--name",
            &name,
            "--monitor",
            &monitor_uri,
        ];
        let common = self.common_create_args();
        args.extend(common.iter().map(String::as_str));
        self.run_once(&format!("create postgres {name}"), self.pg_autoctl(&args))
            .await;
        self.run_once(
            "config set network_partition_timeout",
            self.pg_autoctl(&[
                "config",
                "set",
                "--pgdata",
                &pgdata,
                "timeout.network_partition_timeout",
                NETWORK_PARTITION_TIMEOUT_S,
            ]),
        )
        .await;
    }

    fn run_node(&mut self, node: Node) {
        self.restart_node(node);
    }

    /// The arguments every `pg_autoctl create` takes: loopback, trust, no TLS, the chosen
    /// PostgreSQL version.
    pub(super) fn common_create_args(&self) -> Vec<String> {
        vec![
            "--hostname".into(),
            "127.0.0.1".into(),
            "--auth".into(),
            "trust".into(),
            "--no-ssl".into(),
            "--pgctl".into(),
            self.pg_ctl.display().to_string(),
        ]
    }

    /// `pg_autoctl show uri --formation default`, pointed at [`DATABASE`] as [`SUPERUSER`].
    async fn formation_uri(&self) -> String {
        let monitor = self.monitor.pgdata.display().to_string();
        let printed = self
            .run_once(
                "show uri",
                self.pg_autoctl(&[
                    "show",
                    "uri",
                    "--formation",
                    "default",
                    "--pgdata",
                    &monitor,
                ]),
            )
            .await;
        let printed = printed.trim();
        // postgres://127.0.0.1:P1,127.0.0.1:P2/postgres?target_session_attrs=read-write&...
        let (scheme, rest) = printed
            .split_once("://")
            .unwrap_or_else(|| panic!("unexpected URI from pg_autoctl show uri: {printed:?}"));
        let (hosts, tail) = rest.split_once('/').expect("a database in the URI");
        let query = tail.split_once('?').map_or("", |(_, query)| query);
        for service in &self.nodes {
            assert!(
                hosts.contains(&format!("127.0.0.1:{}", service.port)),
                "{printed} does not name {}",
                service.name
            );
        }
        assert!(
            query.contains("target_session_attrs=read-write"),
            "{printed} does not ask for the read-write node"
        );
        format!("{scheme}://{SUPERUSER}@{hosts}/{DATABASE}?{query}")
    }
}
