//! The formation's monitor: its creation with the failover timings of [`MONITOR_SETTINGS`], and
//! what it tells of the formation (each node's state, its event timeline, `show state`).

use std::time::{Duration, Instant};

use crate::common::wait::wait_until;

use super::formation::HaCluster;
use super::node::{Node, NodeState};
use super::timings::{MONITOR_SETTINGS, POLL, SETUP_TIMEOUT};

impl HaCluster {
    /// `pg_autoctl create monitor`, kept on loopback, run by its keeper; then
    /// [`MONITOR_SETTINGS`], waited for until a new session sees them all.
    pub(super) async fn start_monitor(&mut self) {
        let pgdata = self.monitor.pgdata.display().to_string();
        let port = self.monitor.port.to_string();
        let mut args = vec!["create", "monitor", "--pgdata", &pgdata, "--pgport", &port];
        let common = self.common_create_args();
        args.extend(common.iter().map(String::as_str));
        self.run_once("create monitor", self.pg_autoctl(&args))
            .await;
        // The monitor has no --listen: it would listen on every interface.
        self.run_once(
            "config set listen_addresses",
            self.pg_autoctl(&[
                "config",
                "set",
                "--pgdata",
                &pgdata,
                "postgresql.listen_addresses",
                "127.0.0.1",
            ]),
        )
        .await;
        let keeper = self.spawn_keeper(
            self.pg_autoctl(&["run", "--pgdata", &pgdata]),
            &self.monitor.log,
        );
        self.monitor.keeper = Some(keeper);
        let deadline = Instant::now() + SETUP_TIMEOUT;
        let monitor = loop {
            match self
                .try_connect(self.monitor.port, "pg_auto_failover")
                .await
            {
                Ok(client) => break client,
                Err(err) if Instant::now() >= deadline => {
                    panic!(
                        "the monitor does not answer: {err}; see {}",
                        self.monitor.log.display()
                    )
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        };
        for (name, value) in MONITOR_SETTINGS {
            monitor
                .batch_execute(&format!("ALTER SYSTEM SET {name} = {value}"))
                .await
                .unwrap_or_else(|err| panic!("ALTER SYSTEM SET {name}: {err}"));
        }
        monitor
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .expect("pg_reload_conf");
        // A reload is asynchronous: wait until a new session sees every value.
        let applied = wait_until(
            || async {
                let Ok(client) = self
                    .try_connect(self.monitor.port, "pg_auto_failover")
                    .await
                else {
                    return false;
                };
                let mut all = true;
                for (name, value) in MONITOR_SETTINGS {
                    let row = client
                        .query_one("SELECT setting FROM pg_settings WHERE name = $1", &[&name])
                        .await;
                    all &= row.is_ok_and(|row| row.get::<_, String>(0) == value);
                }
                all
            },
            Duration::from_secs(10),
        )
        .await;
        assert!(applied, "the monitor did not apply its failover settings");
    }

    /// Every data node as the monitor sees it (empty when the monitor does not answer).
    pub async fn states(&self) -> Vec<NodeState> {
        let Ok(monitor) = self
            .try_connect(self.monitor.port, "pg_auto_failover")
            .await
        else {
            return Vec::new();
        };
        let rows = monitor
            .query(
                "SELECT nodename, current_group_state::text, assigned_group_state::text
                   FROM pgautofailover.current_state('default') ORDER BY node_id",
                &[],
            )
            .await
            .unwrap_or_default();
        rows.into_iter()
            .filter_map(|row| {
                let name: String = row.get(0);
                let node = [Node(0), Node(1)]
                    .into_iter()
                    .find(|node| node.name() == name)?;
                Some(NodeState {
                    node,
                    reported: row.get(1),
                    assigned: row.get(2),
                })
            })
            .collect()
    }

    /// `pg_autoctl show state`, for messages.
    pub async fn show_state(&self) -> String {
        let monitor = self.monitor.pgdata.display().to_string();
        let command = self.pg_autoctl(&["show", "state", "--pgdata", &monitor]);
        match tokio::process::Command::from(command).output().await {
            Ok(output) => String::from_utf8_lossy(&output.stdout).into_owned(),
            Err(err) => format!("(pg_autoctl show state failed: {err})"),
        }
    }

    /// The monitor's events since `since`, one line each: milliseconds after `since`, node,
    /// reported and assigned state (to explain a failover's timeline).
    pub async fn events_since(&self, since: chrono::DateTime<chrono::Utc>) -> Vec<String> {
        let Ok(monitor) = self
            .try_connect(self.monitor.port, "pg_auto_failover")
            .await
        else {
            return vec!["(the monitor does not answer)".into()];
        };
        let rows = monitor
            .query(
                "SELECT eventtime, nodename, reportedstate::text, goalstate::text
                   FROM pgautofailover.event WHERE eventtime >= $1 ORDER BY eventid",
                &[&since],
            )
            .await
            .unwrap_or_default();
        rows.into_iter()
            .map(|row| {
                let at: chrono::DateTime<chrono::Utc> = row.get(0);
                let node: String = row.get(1);
                let reported: String = row.get(2);
                let goal: String = row.get(3);
                format!(
                    "+{:>5} ms {node}: {reported} -> {goal}",
                    (at - since).num_milliseconds()
                )
            })
            .collect()
    }
}
