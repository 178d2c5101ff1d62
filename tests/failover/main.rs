//! Failover of PostgreSQL under a live stream: the real `aggregator serve` binary on a
//! pg_auto_failover formation (monitor + two synchronously replicated nodes, see [`cluster`]),
//! reached through the formation's multi-host URI (`target_session_attrs=read-write`), while a
//! retrying client streams events at a steady rate. Mid-stream the primary is lost (`kill -9`
//! of its keeper and postmaster) or handed over (`pg_autoctl perform switchover`); the
//! aggregator, never restarted, must follow the new primary by itself: every acknowledged event
//! stored exactly once, persisted counters exact, no `500`, `/ready` back to `200`. Each test
//! prints the acknowledged events, rows, counters, the unavailability window and events/s.
//!
//! This file holds the tests; [`scenario`] is the stream-with-a-fault they share, [`checks`]
//! what it asserts on the new primary, [`cluster`] the formation.
//!
//! Needs `pg_autoctl` (Debian: `pg-auto-failover-cli`, `postgresql-<version>-auto-failover`);
//! run with `cargo test --test failover -- --nocapture`. The tests take turns on their own (see
//! [`FORMATION`]), so `--test-threads 1` is not needed, and a plain `cargo test` runs them one
//! after another too.

#[path = "../common/mod.rs"]
mod common;

mod aggregator_log;
mod checks;
mod cluster;
mod fault;
mod probe;
mod scenario;
mod stored;
mod unavailability;

use std::time::{Duration, Instant};

use aggregator::client::workload::WorkloadOptions;
use aggregator::client::Stream;
use tokio::sync::Mutex;

use checks::assert_every_batch_acknowledged_cleanly;
use common::wait::wait_until;
use fault::Fault;
use scenario::{stream_config, stream_through, BATCH_SIZE, STREAM_TIMEOUT};
use stored::count_rows;

/// Held by each test from its first line to its last, so that the tests run one after
/// another whatever the test harness's thread count. Each starts a formation of its own (three
/// PostgreSQL servers and their keepers) and times a failover in seconds: two formations at
/// once on a two-core machine would slow each other's health checks and promotions, skewing
/// the figures and risking a spurious failover. An async lock, because the tests wait for it
/// on their runtimes; and unlike a `std` mutex it is not poisoned by a failed test, so the
/// next test still runs. Each test takes it as its first binding, so that it is released
/// last, once the test's formation has been dropped and stopped.
static FORMATION: Mutex<()> = Mutex::const_new(());

/// Proves that a lost primary costs the aggregator only a few seconds of 503s: with the primary
/// killed (`kill -9` of keeper and postmaster) in the middle of a 2,000 events/s stream, the
/// standby is promoted, the same aggregator process follows the multi-host URI to it, and the
/// retrying stream completes with every acknowledged event stored exactly once on the new
/// primary, exact persisted counters, no 500, and `/ready` answering 200 at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_primary_mid_stream_fails_over_and_loses_no_acknowledged_event() {
    let _formation = FORMATION.lock().await;
    let run = stream_through(Fault::Kill).await;

    let states = run.cluster.states().await;
    eprintln!("after the failover:\n{}", run.cluster.show_state().await);
    assert!(
        states
            .iter()
            .any(|state| state.node == run.new_primary && state.reported == "wait_primary"),
        "the promoted node is not wait_primary (alone, without standby): {states:?}"
    );
}

/// Proves that a planned switchover mid-stream is as safe as a failover: every acknowledged
/// event stored exactly once, exact counters, no 500, the same aggregator process throughout,
/// `/ready` 200 at the end; and the old primary is a synchronous standby again afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_switchover_mid_stream_loses_nothing_and_the_old_primary_becomes_a_standby() {
    let _formation = FORMATION.lock().await;
    let run = stream_through(Fault::Switchover).await;

    let secondary = run
        .cluster
        .wait_for_state(run.old_primary, "secondary", Duration::from_secs(30))
        .await;
    let sync = run.cluster.synchronous_standby_names(run.new_primary).await;
    eprintln!(
        "after the switchover: synchronous_standby_names on {} = {sync}\n{}",
        run.new_primary,
        run.cluster.show_state().await
    );
    assert!(secondary, "the old primary did not become secondary");
    assert!(
        sync.starts_with("ANY 1"),
        "the new primary does not replicate synchronously: {sync:?}"
    );
}

/// Proves that a killed primary, restarted after the failover, rejoins as a synchronous
/// standby holding every stored event, and that the aggregator keeps writing (now with
/// synchronous replication again) without a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_restarted_after_the_failover_rejoins_as_a_synchronous_standby() {
    let _formation = FORMATION.lock().await;
    let mut run = stream_through(Fault::Kill).await;

    // Act: restart the killed node's keeper.
    let restarted_at = Instant::now();
    run.cluster.restart_node(run.old_primary);
    let rejoined = run
        .cluster
        .wait_for_state(run.old_primary, "secondary", Duration::from_secs(60))
        .await;
    let rejoin = restarted_at.elapsed();
    let back_to_primary = run
        .cluster
        .wait_for_state(run.new_primary, "primary", Duration::from_secs(30))
        .await;
    let sync = run.cluster.synchronous_standby_names(run.new_primary).await;
    // Then a second stream, through synchronous replication to the rejoined node.
    let workload = WorkloadOptions {
        events: 4_000,
        topics: 50,
        duplicate_ratio: 0.2,
        batch_size: BATCH_SIZE,
        seed: Some(0xB0B),
        ..WorkloadOptions::default()
    };
    let report = Stream::start(
        &run.aggregator.base_url,
        workload.spec('r'),
        stream_config(),
    )
    .unwrap()
    .finish_within(STREAM_TIMEOUT)
    .await
    .expect("the stream after the rejoin ends");
    let primary_rows = count_rows(&run.cluster, run.new_primary).await;
    let standby_caught_up = wait_until(
        || async { count_rows(&run.cluster, run.old_primary).await == primary_rows },
        Duration::from_secs(15),
    )
    .await;
    let standby_rows = count_rows(&run.cluster, run.old_primary).await;

    // Assert
    eprintln!(
        "rejoin: {} secondary again {:.1} s after its keeper restarted; \
         synchronous_standby_names on {} = {sync}\n  stream after the rejoin: {}\n  rows on \
         the primary {primary_rows}, on the rejoined standby {standby_rows}\n{}",
        run.old_primary,
        rejoin.as_secs_f64(),
        run.new_primary,
        report.summary(),
        run.cluster.show_state().await
    );
    assert!(rejoined, "the killed node did not rejoin as secondary");
    assert!(
        back_to_primary,
        "the new primary did not leave wait_primary"
    );
    assert!(
        sync.starts_with("ANY 1"),
        "the new primary does not replicate synchronously: {sync:?}"
    );
    assert_every_batch_acknowledged_cleanly(&report);
    assert_eq!(report.counts.status_503, 0, "503s after the rejoin");
    assert!(standby_caught_up, "the rejoined standby lacks rows");
}
