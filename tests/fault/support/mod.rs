//! Helpers of the fault suite: the suite's common assertions over what a stream of the client
//! library ([`aggregator::client::Stream`]) reports, and `GET /events` read to the end. The app
//! fixture, fresh databases, the cuttable PostgreSQL proxy, polling and the real binary come
//! from [`crate::common`] and are re-exported here.

pub mod events;

use std::collections::HashSet;

use std::time::Duration;

use aggregator::client::workload::WorkloadSpec;
use aggregator::client::{RetryPolicy, ServerStats, Stream, StreamConfig, StreamReport};

pub use crate::common::app::{get_stats, spawn_app_on, spawn_app_with, wait_for_ready_status};
pub use crate::common::backend::Backend;
pub use crate::common::checks::assert_every_batch_acknowledged_cleanly;
pub use crate::common::db::{Key, TestDb};
pub use crate::common::process::{free_port, proc_status_mib, AggregatorProcess};
pub use crate::common::proxy::TcpProxy;
pub use crate::common::wait::wait_until;
pub use events::{keys_via_events, Listed, Page};

/// The resident set size of this process, in MiB, and its peak (`VmRSS`, `VmHWM`).
pub fn rss_mib() -> (f64, f64) {
    (
        proc_status_mib("self", "VmRSS:"),
        proc_status_mib("self", "VmHWM:"),
    )
}

/// Every acknowledged key is stored, and the store holds exactly the distinct keys of a stream
/// that was acknowledged in full: none lost, none stored twice, nothing foreign.
pub fn assert_stream_stored_exactly_once(report: &StreamReport, stored: &HashSet<Key>, rows: u64) {
    let distinct = report.distinct_keys();
    let missing_acked = report.acked_keys().difference(stored).count();
    assert_eq!(missing_acked, 0, "acknowledged keys missing from the store");
    let foreign = stored.difference(&distinct).count();
    assert_eq!(foreign, 0, "stored keys that were never sent");
    assert_eq!(rows, stored.len() as u64, "rows vs distinct stored keys");
    assert_eq!(rows, distinct.len() as u64, "rows vs distinct keys sent");
}

/// Sends `spec` through the aggregator at `base_url` with `concurrency` workers, retrying each
/// batch until it is acknowledged, for at most `timeout`; every batch must be acknowledged
/// cleanly.
pub async fn send_until_acknowledged(
    base_url: &str,
    spec: WorkloadSpec,
    concurrency: usize,
    timeout: Duration,
) -> StreamReport {
    let config = StreamConfig {
        concurrency,
        retry: RetryPolicy::until_acknowledged(),
        ..StreamConfig::default()
    };
    let report = Stream::start(base_url, spec, config)
        .unwrap()
        .finish_within(timeout)
        .await
        .unwrap();
    assert_every_batch_acknowledged_cleanly(&report);
    report
}

/// [`assert_counters_exact`] on the counters of `/stats`.
pub fn assert_stats_exact(stats: &ServerStats, rows: u64) {
    assert_counters_exact(
        stats.received,
        stats.unique_processed,
        stats.duplicate_dropped,
        rows,
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

/// The persisted counters of `db` summed over every shard: (received, unique, duplicate).
pub async fn persisted_counters(db: &TestDb) -> (u64, u64, u64) {
    crate::common::db::persisted_counters(&db.client().await).await
}

/// Starts one `aggregator serve` per name on `db`, each with that `--instance-id` and a free
/// port, logging into `logs`.
pub async fn start_instances(
    db: &TestDb,
    names: &[&str],
    logs: &std::path::Path,
) -> Vec<AggregatorProcess> {
    start_instances_with(db, names, logs, &[]).await
}

/// [`start_instances`] with `extra` arguments given to every instance.
pub async fn start_instances_with(
    db: &TestDb,
    names: &[&str],
    logs: &std::path::Path,
    extra: &[&str],
) -> Vec<AggregatorProcess> {
    let mut processes = Vec::with_capacity(names.len());
    for name in names {
        let log = logs.join(format!("{name}.log"));
        let mut args = instance_args(db, name);
        args.extend(extra.iter().map(|arg| arg.to_string()));
        processes.push(AggregatorProcess::start(free_port(), &args, &log).await);
    }
    processes
}

/// The arguments of an instance named `name` on `db`.
pub fn instance_args(db: &TestDb, name: &str) -> Vec<String> {
    vec![
        "--database-url".into(),
        db.url.clone(),
        "--instance-id".into(),
        name.into(),
    ]
}
