//! The failover suite's harness: [`HaCluster`], a real PostgreSQL high-availability formation run
//! by pg_auto_failover on loopback ports under a fresh temporary directory: a monitor and two
//! data nodes in synchronous replication, each managed by its own `pg_autoctl` keeper. It hands
//! out the formation's multi-host URI (`target_session_attrs=read-write`) of a database made for
//! the aggregator, tells which node is primary, and breaks or steers the formation: `kill -9` of
//! a node (keeper and postmaster), a restart of its keeper, a planned switchover. Every process
//! it starts runs as the `postgres` user when the tests run as root (PostgreSQL refuses root), and
//! is stopped by its id when the cluster is dropped, also when a test fails.
//!
//! One responsibility per child: [`formation`] builds the cluster, [`monitor`] sets up and reads
//! the monitor, [`control`] waits for and steers the nodes, [`connection`] opens SQL sessions,
//! [`process`] runs `pg_autoctl` and sends signals, [`cleanup`] stops everything on drop,
//! [`host`] finds what the machine provides, [`node`] names the nodes, [`timings`] holds every
//! duration and failover setting.

mod cleanup;
mod connection;
mod control;
mod formation;
mod host;
mod monitor;
mod node;
mod process;
mod timings;

pub use formation::HaCluster;
pub use node::Node;
