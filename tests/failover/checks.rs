//! The promises a stream through a fault must keep, checked against what the new primary stores
//! (read straight from it) and what the aggregator reports: every batch acknowledged cleanly,
//! every acknowledged event stored exactly once, exact counters, and one aggregator process
//! from start to end.

use std::collections::HashSet;
use std::time::Instant;

use aggregator::client::{Key, ServerStats, StreamReport};

pub use crate::common::checks::assert_every_batch_acknowledged_cleanly;
use crate::stored::PersistedCounters;

/// Every acknowledged key (`acked_keys`) is among the keys `stored` on the new primary, nothing
/// stored was never sent, and the `rows` hold each sent key exactly once.
pub fn assert_each_acknowledged_event_stored_once(
    report: &StreamReport,
    acked_keys: &HashSet<Key>,
    stored: &HashSet<Key>,
    rows: u64,
) {
    let missing = acked_keys.difference(stored).count();
    assert_eq!(missing, 0, "acknowledged keys missing on the new primary");
    let distinct = report.distinct_keys();
    assert_eq!(
        stored.difference(&distinct).count(),
        0,
        "stored keys never sent"
    );
    assert_eq!(rows, stored.len() as u64, "rows vs distinct stored keys");
    assert_eq!(rows, distinct.len() as u64, "rows vs distinct keys sent");
}

/// The counters persisted on the new primary and those `/stats` reports add up, and both count
/// exactly the `rows` stored as unique.
pub fn assert_counters_exact(persisted: PersistedCounters, stats: &ServerStats, rows: u64) {
    let PersistedCounters {
        received,
        unique,
        duplicate,
    } = persisted;
    assert_eq!(
        received,
        unique + duplicate,
        "persisted received vs unique + duplicate"
    );
    assert_eq!(unique, rows, "persisted unique_processed vs rows");
    assert_eq!(
        stats.received,
        stats.unique_processed + stats.duplicate_dropped,
        "/stats received vs unique + duplicate"
    );
    assert_eq!(
        stats.unique_processed, rows,
        "/stats unique_processed vs rows"
    );
}

/// The aggregator started at `started` is still the same process (`same_process`: same pid,
/// alive), and its own uptime says it never restarted.
pub fn assert_same_aggregator_throughout(
    same_process: bool,
    stats: &ServerStats,
    started: Instant,
) {
    assert!(same_process, "the aggregator process did not survive");
    assert!(
        stats.uptime_seconds + 1.0 >= started.elapsed().as_secs_f64(),
        "the aggregator restarted (uptime {:.1} s)",
        stats.uptime_seconds
    );
}
