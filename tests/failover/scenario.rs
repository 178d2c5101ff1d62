//! The scenario every test shares: the formation and `aggregator serve` on its multi-host URI,
//! a steady retrying stream, a [`Fault`] upon the primary mid-stream; then what it measures
//! (promotion time, unavailability, throughput, counters, the monitor's timeline, the
//! aggregator's log), printed, and what it checks on the new primary (see [`crate::checks`]).

use std::time::{Duration, Instant};

use aggregator::client::workload::WorkloadOptions;
use aggregator::client::{RetryPolicy, Stream, StreamConfig};

use crate::aggregator_log;
use crate::checks::{
    assert_counters_exact, assert_each_acknowledged_event_stored_once,
    assert_every_batch_acknowledged_cleanly, assert_same_aggregator_throughout,
};
use crate::cluster::{HaCluster, Node};
use crate::common::app::{get_stats, wait_for_ready_status};
use crate::common::process::{free_port, AggregatorProcess};
use crate::fault::{Fault, FAILOVER_TIMEOUT};
use crate::probe::Probe;
use crate::stored::{count_rows, persisted_counters, stored_keys, PersistedCounters};
use crate::unavailability::Unavailability;

/// Events in each stream (20 % of them re-sent duplicates).
pub const EVENTS: u64 = 30_000;
/// Events per second the client sends.
pub const RATE: f64 = 2_000.0;
/// Events per request.
pub const BATCH_SIZE: usize = 20;
/// The fault comes once this many events are acknowledged (about 3 s into the stream).
pub const FAULT_AFTER_ACKED: u64 = 6_000;
/// How long the stream may take in all.
pub const STREAM_TIMEOUT: Duration = Duration::from_secs(90);

/// What [`stream_through`] leaves for the test to go on with.
pub struct Run {
    pub cluster: HaCluster,
    pub aggregator: AggregatorProcess,
    /// Primary before the fault.
    pub old_primary: Node,
    /// Primary after it.
    pub new_primary: Node,
    /// Keeps the aggregator's log until the end of the test.
    _logs: tempfile::TempDir,
}

/// Starts the formation and `aggregator serve` on its multi-host URI, streams [`EVENTS`] events
/// at [`RATE`] and brings `fault` upon the primary mid-stream; then checks, on the new primary,
/// that every acknowledged key is stored exactly once, the persisted counters are exact, no
/// request got a 500, the aggregator was never restarted and `/ready` answers 200; prints the
/// figures.
pub async fn stream_through(fault: Fault) -> Run {
    // Arrange
    let mut cluster = HaCluster::start().await;
    let old_primary = cluster.wait_for_primary(Duration::from_secs(10)).await;
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("aggregator.log");
    let args = vec!["--database-url".to_string(), cluster.uri().to_string()];
    let aggregator = AggregatorProcess::start(free_port(), &args, &log).await;
    let aggregator_started = Instant::now();
    let pid = aggregator.pid();
    let workload = WorkloadOptions {
        events: EVENTS,
        topics: 50,
        duplicate_ratio: 0.2,
        batch_size: BATCH_SIZE,
        seed: Some(0xFA11),
        ..WorkloadOptions::default()
    };
    let stream = Stream::start(&aggregator.base_url, workload.spec('h'), stream_config()).unwrap();
    let probe = Probe::start(&aggregator.base_url, stream.live_counters());

    // Act
    let progressed = stream
        .wait_for_acked(FAULT_AFTER_ACKED, Duration::from_secs(30))
        .await;
    assert!(progressed, "the stream made no progress before the fault");
    assert!(!stream.is_finished(), "the stream ended before the fault");
    let acked_at_fault = stream.acked_events();
    let fault_at = Instant::now();
    let fault_clock = chrono::Utc::now();
    let timings = fault.strike(&mut cluster, old_primary, fault_at).await;
    let new_primary = cluster.wait_for_primary(FAILOVER_TIMEOUT).await;
    let report = stream.finish_within(STREAM_TIMEOUT).await;
    let ready_at_end =
        wait_for_ready_status(&aggregator.base_url, 200, Duration::from_secs(10)).await;
    let samples = probe.stop().await;
    let report = match report {
        Ok(report) => report,
        Err(err) => panic!(
            "the stream did not complete: {err}\n{}\naggregator log:\n{}",
            cluster.show_state().await,
            aggregator_log::digest(&log)
        ),
    };
    let stats = get_stats(&aggregator.base_url).await;
    let stored = stored_keys(&cluster, new_primary).await;
    let rows = count_rows(&cluster, new_primary).await;
    let counters = persisted_counters(&cluster, new_primary).await;
    let PersistedCounters {
        received,
        unique,
        duplicate,
    } = counters;
    let same_process = aggregator.pid() == pid && is_running(pid);
    let timeline = cluster.events_since(fault_clock).await;

    // Assert
    let unavailability = Unavailability::measure(&samples, fault_at, EVENTS);
    let acked_keys = report.acked_keys();
    eprintln!(
        "{fault:?} of {old_primary} at {acked_at_fault} acked events: {new_primary} writable \
         {:.1} s after the fault (the fault's command returned after {:.1} s)\n  {}\n  \
         acknowledged events {} ({} distinct keys) in {:.1} s: {:.0} events/s\n  rows on \
         {new_primary}: {rows}; persisted counters received {received} unique {unique} duplicate \
         {duplicate} ({} received beyond the events sent: re-sends of commits whose answer the \
         fault cut); /stats received {} unique {} duplicate {}, shard restarts {}\n  {}\n  \
         aggregator pid {pid} {} (uptime {:.1} s), \
         /ready 200 at the end: {ready_at_end}\n  monitor events since the fault:\n    {}\n  \
         aggregator log: {}",
        timings.promoted.as_secs_f64(),
        timings.command_returned.as_secs_f64(),
        report.summary(),
        report.counts.acked_events,
        acked_keys.len(),
        report.elapsed.as_secs_f64(),
        report.counts.acked_events as f64 / report.elapsed.as_secs_f64(),
        received.saturating_sub(report.counts.acked_events),
        stats.received,
        stats.unique_processed,
        stats.duplicate_dropped,
        stats.restarts,
        unavailability,
        if same_process {
            "never restarted"
        } else {
            "NOT the same process"
        },
        stats.uptime_seconds,
        timeline.join("\n    "),
        aggregator_log::digest(&log),
    );
    assert_eq!(
        new_primary,
        cluster.other(old_primary),
        "the primary is the old one again"
    );
    assert_every_batch_acknowledged_cleanly(&report);
    assert_each_acknowledged_event_stored_once(&report, &acked_keys, &stored, rows);
    assert_counters_exact(counters, &stats, rows);
    assert_same_aggregator_throughout(same_process, &stats, aggregator_started);
    assert!(ready_at_end, "/ready is not 200 after the {fault:?}");
    Run {
        cluster,
        aggregator,
        old_primary,
        new_primary,
        _logs: logs,
    }
}

/// A steady stream that retries until every batch is acknowledged.
pub fn stream_config() -> StreamConfig {
    StreamConfig {
        concurrency: 4,
        rate: Some(RATE),
        retry: RetryPolicy::until_acknowledged(),
        ..StreamConfig::default()
    }
}

/// Whether `pid` is a live process (not a zombie).
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}
