//! Steering and watching the data nodes: which one is primary, waits for a primary or a state,
//! and the faults and hand-overs the tests bring upon the formation (`kill -9` of a node, a
//! restart of its keeper, a planned switchover).

use std::time::{Duration, Instant};

use super::formation::HaCluster;
use super::node::Node;
use super::process::{postmaster_pid, signal, signal_group};
use super::timings::POLL;

impl HaCluster {
    /// The other data node.
    pub fn other(&self, node: Node) -> Node {
        Node(1 - node.0)
    }

    /// The node the monitor reports as primary (`primary`, or `wait_primary` while it has no
    /// standby), reported and assigned alike.
    pub async fn primary(&self) -> Option<Node> {
        self.states()
            .await
            .into_iter()
            .find(|state| state.is("primary") || state.is("wait_primary"))
            .map(|state| state.node)
    }

    /// Waits until a node is [`HaCluster::primary`] and takes writes; panics after `timeout`.
    pub async fn wait_for_primary(&self, timeout: Duration) -> Node {
        self.wait_for_primary_other_than(None, timeout).await
    }

    /// Waits until a node other than `old` is [`HaCluster::primary`] and takes writes; panics
    /// after `timeout`.
    pub async fn wait_for_new_primary(&self, old: Node, timeout: Duration) -> Node {
        self.wait_for_primary_other_than(Some(old), timeout).await
    }

    async fn wait_for_primary_other_than(&self, old: Option<Node>, timeout: Duration) -> Node {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(node) = self.primary().await.filter(|node| Some(*node) != old) {
                if self.is_writable(node).await {
                    return node;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "no writable primary within {timeout:?}:\n{}",
                    self.show_state().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `node` reports (and is assigned) `state`; tells whether it did in time.
    pub async fn wait_for_state(&self, node: Node, state: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self
                .states()
                .await
                .iter()
                .any(|seen| seen.node == node && seen.is(state))
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the two nodes report (and are assigned) `states`, in any order; returns the
    /// one in the first state.
    pub(super) async fn wait_for_states(&self, states: &[&str; 2], timeout: Duration) -> Node {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.states().await;
            let first = seen.iter().find(|state| state.is(states[0]));
            let second = seen.iter().find(|state| state.is(states[1]));
            if let (Some(first), Some(second)) = (first, second) {
                if first.node != second.node {
                    return first.node;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "the formation did not reach {states:?} within {timeout:?}:\n{}\nlogs in {}",
                    self.show_state().await,
                    self.root.display()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `kill -9` of `node`'s keeper (its whole process group: `pg_autoctl run`, its services,
    /// PostgreSQL) and of its postmaster, named by `postmaster.pid`.
    pub fn kill_node(&mut self, node: Node) {
        let service = &mut self.nodes[node.0];
        let postmaster = postmaster_pid(&service.pgdata);
        if let Some(mut keeper) = service.keeper.take() {
            signal_group(&keeper, "KILL");
            keeper.wait().expect("reap the killed keeper");
        }
        if let Some(pid) = postmaster {
            signal(pid, "KILL");
        }
    }

    /// Runs `node`'s keeper again (`pg_autoctl run`); it rejoins the formation as a standby.
    pub fn restart_node(&mut self, node: Node) {
        assert!(
            self.nodes[node.0].keeper.is_none(),
            "{node} is still running"
        );
        let pgdata = self.nodes[node.0].pgdata.display().to_string();
        let command = self.pg_autoctl(&["run", "--pgdata", &pgdata]);
        let keeper = self.spawn_keeper(command, &self.nodes[node.0].log);
        self.nodes[node.0].keeper = Some(keeper);
    }

    /// `pg_autoctl perform switchover`: the primary is demoted and the standby promoted; returns
    /// once the formation is back to one primary and one secondary.
    pub async fn switchover(&self) {
        let monitor = self.monitor.pgdata.display().to_string();
        self.run_once(
            "perform switchover",
            self.pg_autoctl(&[
                "perform",
                "switchover",
                "--pgdata",
                &monitor,
                "--formation",
                "default",
                "--group",
                "0",
            ]),
        )
        .await;
    }
}
