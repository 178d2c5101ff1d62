//! Helpers of the fault suite: fresh databases, in-process apps, the real binary, a PostgreSQL
//! proxy that can be cut, and a publishing client that records what was acknowledged.

pub mod app;
pub mod db;
pub mod process;
pub mod proxy;
pub mod publisher;

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

pub use app::{get_stats, keys_via_events, ready_status, spawn_app, spawn_app_with_db};
pub use db::{Key, TestDb};
pub use process::AggregatorProcess;
pub use proxy::PgProxy;
pub use publisher::{Publisher, Report, RetryPolicy, StreamSpec};

/// Polls `condition` every 10 ms until it holds or `timeout` passes; tells which happened.
pub async fn wait_until<F, Fut>(mut condition: F, timeout: Duration) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A port that was free a moment ago (for the real binary, which must be told its port).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The resident set size of this process, in MiB, and its peak (`VmRSS`, `VmHWM`).
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> f64 {
        let line = status
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing from /proc/self/status"));
        let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Every acknowledged key is stored, and the store holds exactly the distinct keys of a stream
/// that was acknowledged in full: none lost, none stored twice, nothing foreign.
pub fn assert_stream_stored_exactly_once(report: &Report, stored: &HashSet<Key>, rows: u64) {
    let missing_acked = report.acked.difference(stored).count();
    assert_eq!(missing_acked, 0, "acknowledged keys missing from the store");
    let foreign = stored.difference(&report.distinct).count();
    assert_eq!(foreign, 0, "stored keys that were never sent");
    assert_eq!(rows, stored.len() as u64, "rows vs distinct stored keys");
    assert_eq!(
        rows,
        report.distinct.len() as u64,
        "rows vs distinct keys sent"
    );
}

/// `received == unique_processed + duplicate_dropped` and `unique_processed == rows`.
pub fn assert_counters_exact(received: u64, unique: u64, duplicate: u64, rows: u64) {
    assert_eq!(
        received,
        unique + duplicate,
        "received vs unique + duplicate ({unique} + {duplicate})"
    );
    assert_eq!(unique, rows, "unique_processed vs stored rows");
}
