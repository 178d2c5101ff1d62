//! Every duration the harness lives by: the monitor's and keepers' failover settings, which
//! decide how long a lost primary costs, and how long the harness itself waits for commands,
//! setup and shutdown.

use std::time::Duration;

/// How long a one-shot `pg_autoctl` command may take.
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the formation may take to reach one primary and one secondary.
pub(super) const SETUP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long dropping the cluster waits for the keepers to stop PostgreSQL before `kill -9`.
pub(super) const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Pause between two reads of the formation's state.
pub(super) const POLL: Duration = Duration::from_millis(100);

/// The monitor's failover timings, set with `ALTER SYSTEM` + `pg_reload_conf()` (all of them
/// are `sighup` settings of the `pgautofailover` extension; see the pg_autoctl(5) manual page).
/// pg_auto_failover promotes the secondary only once the primary is unhealthy, which takes both
/// a failed health check (the monitor's connection attempt) and no report from the primary's
/// keeper for `node_considered_unhealthy_timeout`; then it gives the lost primary
/// `primary_demote_timeout` to demote itself before the secondary takes over. The defaults
/// (5 s checks, 2 retries 2 s apart, 20 s unhealthy timeout, 30 s demote timeout) make a lost
/// primary cost about a minute of writes; these make it 5 to 6.5 s on loopback (measured: the
/// monitor starts the failover 1.2 to 2.9 s after the kill, and the standby takes writes about
/// 3.5 s later, `primary_demote_timeout` plus a keeper round):
///
/// - `health_check_period` 1000 ms (default 5000): a dead node is noticed within a second.
/// - `health_check_timeout` 1000 ms (default 5000): a loopback connection is made, or refused,
///   in milliseconds; one second still leaves room on a loaded two-core machine.
/// - `health_check_max_retries` 1 (default 2) and `health_check_retry_delay` 500 ms (default
///   2000): one confirmation half a second later, so that one failed connection alone does not
///   mark a node bad.
/// - `node_considered_unhealthy_timeout` 2000 ms (default 20000): keepers report every second,
///   so this is two missed reports; since a failed health check is needed as well, a keeper
///   that is merely slow does not cause a failover.
/// - `primary_demote_timeout` 3000 ms (default 30000): how long the monitor waits for a primary
///   it cannot reach to demote itself before promoting the standby. It must stay above the
///   keepers' `timeout.network_partition_timeout` ([`NETWORK_PARTITION_TIMEOUT_S`]), so that a
///   primary cut off from monitor and standby has stopped taking writes before another node
///   may be promoted (no split brain).
/// - `startup_grace_period` 2000 ms (default 10000): no failover in the first seconds after
///   the monitor starts; the formation's setup takes longer than that, and so does a test's
///   ramp-up, so the default could only delay a failover in a very fast setup.
pub(super) const MONITOR_SETTINGS: [(&str, &str); 7] = [
    ("pgautofailover.health_check_period", "1000"),
    ("pgautofailover.health_check_timeout", "1000"),
    ("pgautofailover.health_check_max_retries", "1"),
    ("pgautofailover.health_check_retry_delay", "500"),
    ("pgautofailover.node_considered_unhealthy_timeout", "2000"),
    ("pgautofailover.primary_demote_timeout", "3000"),
    ("pgautofailover.startup_grace_period", "2000"),
];

/// The keepers' `timeout.network_partition_timeout`, in seconds (default 20): a primary whose
/// keeper reaches neither the monitor nor a standby for this long demotes itself. Kept below
/// `primary_demote_timeout` (3 s) for the reason given in [`MONITOR_SETTINGS`].
pub(super) const NETWORK_PARTITION_TIMEOUT_S: &str = "2";
