//! The faults a scenario brings upon the primary mid-stream ([`Fault`]), and when, counted from
//! the fault, the formation had a writable primary again ([`FaultTimings`]).

use std::time::{Duration, Instant};

use crate::cluster::{HaCluster, Node};

/// How long the formation may take to have a writable primary again.
pub const FAILOVER_TIMEOUT: Duration = Duration::from_secs(60);

/// How the primary is lost mid-stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9` of the primary's keeper and postmaster: the monitor fails over.
    Kill,
    /// `pg_autoctl perform switchover`: a planned hand-over.
    Switchover,
}

/// When, counted from the fault, the formation answered it.
#[derive(Debug, Clone, Copy)]
pub struct FaultTimings {
    /// The other node takes writes.
    pub promoted: Duration,
    /// The fault's own command returned (the kill, or `perform switchover`).
    pub command_returned: Duration,
}

impl Fault {
    /// Brings the fault upon `primary`, `fault_at` being the instant just taken as its start;
    /// returns once another node is primary and takes writes (panics after
    /// [`FAILOVER_TIMEOUT`]) and, for a switchover, the command has returned too.
    pub async fn strike(
        self,
        cluster: &mut HaCluster,
        primary: Node,
        fault_at: Instant,
    ) -> FaultTimings {
        let (promoted, command_returned) = match self {
            Fault::Kill => {
                cluster.kill_node(primary);
                let killed = fault_at.elapsed();
                cluster
                    .wait_for_new_primary(primary, FAILOVER_TIMEOUT)
                    .await;
                (fault_at.elapsed(), killed)
            }
            Fault::Switchover => {
                let cluster: &HaCluster = cluster;
                // Watched while the command runs: `perform switchover` returns only once the
                // formation is back to a primary and a secondary, later than the promotion.
                let promoted = async {
                    cluster
                        .wait_for_new_primary(primary, FAILOVER_TIMEOUT)
                        .await;
                    fault_at.elapsed()
                };
                let switched = async {
                    cluster.switchover().await;
                    fault_at.elapsed()
                };
                tokio::join!(promoted, switched)
            }
        };
        FaultTimings {
            promoted,
            command_returned,
        }
    }
}
