//! Unit tests of the shard: group commit by size and by linger, pipelined commits bounded by
//! the commit slots, stale linger timers, the fast path, a killed shard's commit, and a failed
//! commit followed by a counter resync. Time is paused, so timers fire only when a test moves
//! the clock.

use std::time::Duration;

use tokio::sync::oneshot::error::TryRecvError;

use crate::actors::config::BatchingConfig;
use crate::actors::error::IngestError;
use crate::actors::test_support::{event, settle, ShardHarness, RESYNC_DELAY};
use crate::event::Outcome;
use crate::store::memory::MemoryStore;
use crate::store::StoreError;

const LINGER: Duration = Duration::from_millis(100);

/// The production default: one commit at a time per shard.
fn batching(max_events: usize) -> BatchingConfig {
    pipelined(max_events, 1)
}

fn pipelined(max_events: usize, commits_in_flight: usize) -> BatchingConfig {
    BatchingConfig {
        max_events,
        linger: LINGER,
        commits_in_flight,
    }
}

#[tokio::test(start_paused = true)]
async fn commits_overlap_up_to_the_commit_slots_and_the_next_starts_when_one_ends() {
    let store = MemoryStore::new();
    let harness = ShardHarness::spawn(store.clone(), pipelined(1, 2), 0).await;
    let hold = store.hold_commits().await;

    let first = harness.ingest(vec![event("t", "1")]);
    let second = harness.ingest(vec![event("t", "2")]);
    let mut third = harness.ingest(vec![event("t", "3")]);
    settle().await;
    assert_eq!(
        store.commits().len(),
        2,
        "two commits run at once, not three"
    );
    assert!(matches!(third.try_recv(), Err(TryRecvError::Empty)));

    drop(hold);
    settle().await;
    assert_eq!(
        store.commits().len(),
        3,
        "the third starts once a slot frees"
    );
    for answer in [first, second] {
        assert_eq!(answer.await.unwrap().unwrap(), vec![Outcome::New]);
    }
    assert_eq!(third.try_recv().unwrap().unwrap(), vec![Outcome::New]);
    assert_eq!(harness.stats().await.totals.unique_processed, 3);
}

#[tokio::test(start_paused = true)]
async fn a_buffer_due_while_every_slot_is_busy_commits_when_one_frees_without_a_new_linger() {
    let store = MemoryStore::new();
    let harness = ShardHarness::spawn(store.clone(), pipelined(1000, 1), 0).await;
    let hold = store.hold_commits().await;
    let first = harness.ingest(vec![event("t", "1")]);
    settle().await;
    tokio::time::advance(LINGER).await;
    settle().await;
    assert_eq!(
        store.commits().len(),
        1,
        "the first buffer's commit runs (held)"
    );

    // The second buffer lingers while the first commit runs, and becomes due.
    let mut second = harness.ingest(vec![event("t", "2")]);
    settle().await;
    tokio::time::advance(LINGER).await;
    settle().await;
    assert_eq!(
        store.commits().len(),
        1,
        "one slot: the due buffer waits for it"
    );

    // The slot frees: the due buffer commits at once, the clock standing still.
    drop(hold);
    settle().await;
    assert_eq!(first.await.unwrap().unwrap(), vec![Outcome::New]);
    assert_eq!(store.commits().len(), 2);
    assert_eq!(second.try_recv().unwrap().unwrap(), vec![Outcome::New]);
}

#[tokio::test(start_paused = true)]
async fn a_drained_shard_commits_what_it_buffered_and_stops_after_every_commit_answered() {
    let store = MemoryStore::new();
    let harness = ShardHarness::spawn(store.clone(), pipelined(1, 1), 0).await;
    let hold = store.hold_commits().await;
    let answers: Vec<_> = (0..3)
        .map(|index| harness.ingest(vec![event("t", &index.to_string())]))
        .collect();
    settle().await;
    assert_eq!(
        store.commits().len(),
        1,
        "one slot: two requests wait in the buffer"
    );

    let shard = harness.shard.clone();
    let stopped = tokio::spawn(async move { shard.drain_and_wait(None).await });
    settle().await;
    assert!(
        !stopped.is_finished(),
        "the stop waits for the running commit"
    );
    drop(hold);

    stopped.await.unwrap().unwrap();
    for answer in answers {
        assert_eq!(answer.await.unwrap().unwrap(), vec![Outcome::New]);
    }
    assert_eq!(store.commits().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_buffer_larger_than_a_batch_is_committed_in_batches_of_whole_requests() {
    let store = MemoryStore::new();
    let harness = ShardHarness::spawn(store.clone(), pipelined(3, 1), 0).await;
    let hold = store.hold_commits().await;
    let _running = harness.ingest(vec![event("t", "0"); 3]);
    settle().await;
    // While the slot is busy, 5 events in 3 requests queue up.
    let answers = [
        harness.ingest(vec![event("t", "1"), event("t", "2")]),
        harness.ingest(vec![event("t", "3"), event("t", "4")]),
        harness.ingest(vec![event("t", "5")]),
    ];
    settle().await;
    drop(hold);
    for answer in answers {
        assert!(answer.await.unwrap().is_ok());
    }
    let received: Vec<u64> = store
        .commits()
        .iter()
        .map(|commit| commit.received)
        .collect();
    assert_eq!(
        received,
        vec![3, 2, 3],
        "never more than 3 events, never a split request"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_commits_at_once_without_waiting_for_the_linger() {
    let harness = ShardHarness::spawn(MemoryStore::new(), batching(3), 0).await;

    let first = harness.ingest(vec![event("t", "1")]);
    let second = harness.ingest(vec![event("t", "2"), event("t", "3")]);
    settle().await;

    let commits = harness.store.commits();
    assert_eq!(commits.len(), 1, "one commit for the full buffer");
    assert_eq!(commits[0].received, 3);
    assert_eq!(first.await.unwrap().unwrap(), vec![Outcome::New]);
    assert_eq!(
        second.await.unwrap().unwrap(),
        vec![Outcome::New, Outcome::New]
    );
}

#[tokio::test(start_paused = true)]
async fn a_lone_event_waits_for_the_linger_then_commits() {
    let harness = ShardHarness::spawn(MemoryStore::new(), batching(1000), 0).await;

    let mut answer = harness.ingest(vec![event("t", "1")]);
    settle().await;
    tokio::time::advance(LINGER - Duration::from_millis(1)).await;
    settle().await;
    assert!(
        matches!(answer.try_recv(), Err(TryRecvError::Empty)),
        "committed early"
    );
    assert!(harness.store.commits().is_empty());

    tokio::time::advance(Duration::from_millis(1)).await;
    settle().await;
    assert_eq!(answer.try_recv().unwrap().unwrap(), vec![Outcome::New]);
    assert_eq!(harness.store.commits().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_linger_timer_of_an_already_committed_buffer_is_ignored() {
    let harness = ShardHarness::spawn(MemoryStore::new(), batching(2), 0).await;

    // t=0: arms the linger of buffer 0 (due at t=100), then fills it: committed by size.
    let _first = harness.ingest(vec![event("t", "1")]);
    let _second = harness.ingest(vec![event("t", "2")]);
    settle().await;
    assert_eq!(harness.store.commits().len(), 1);
    // t=60: buffer 1 gets an event and its own linger, due at t=160.
    tokio::time::advance(Duration::from_millis(60)).await;
    let mut third = harness.ingest(vec![event("t", "3")]);
    settle().await;

    // t=110: buffer 0's timer has fired, and must not commit buffer 1 early.
    tokio::time::advance(Duration::from_millis(50)).await;
    settle().await;
    assert!(
        matches!(third.try_recv(), Err(TryRecvError::Empty)),
        "stale timer flushed"
    );
    assert_eq!(harness.store.commits().len(), 1);

    // t=160: buffer 1's own timer commits it.
    tokio::time::advance(Duration::from_millis(50)).await;
    settle().await;
    assert_eq!(third.try_recv().unwrap().unwrap(), vec![Outcome::New]);
    assert_eq!(harness.store.commits().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_resent_committed_key_is_answered_from_the_fast_path_without_a_store_probe() {
    let harness = ShardHarness::spawn(MemoryStore::new(), batching(1), 1_000).await;
    let first = harness.ingest(vec![event("t", "k")]);
    assert_eq!(first.await.unwrap().unwrap(), vec![Outcome::New]);

    let again = harness.ingest(vec![event("t", "k")]);
    assert_eq!(again.await.unwrap().unwrap(), vec![Outcome::Duplicate]);

    let commits = harness.store.commits();
    assert_eq!(
        commits.len(),
        2,
        "the duplicate still rides in a counter commit"
    );
    assert!(
        commits[1].candidates.is_empty(),
        "the store was asked about a key the fast path knew: {:?}",
        commits[1]
    );
    assert_eq!(commits[1].received, 1);
    let stats = harness.stats().await;
    assert_eq!(stats.shards[0].fastpath_hits, 1);
    assert_eq!(stats.totals.duplicate_dropped, 1);
}

/// With retention, a key the store already held may be as old as the retention and its row go
/// at any moment: only keys a commit inserted are remembered, so a re-send of an old key keeps
/// asking the store (which answers `new` once the row has expired).
#[tokio::test(start_paused = true)]
async fn with_retention_a_key_the_store_already_held_is_not_remembered() {
    let store = MemoryStore::new();
    let earlier = ShardHarness::spawn(store.clone(), batching(1), 1_000).await;
    let stored = earlier.ingest(vec![event("t", "old")]);
    assert_eq!(stored.await.unwrap().unwrap(), vec![Outcome::New]);
    let trust = Some(Duration::from_secs(3_600));
    let harness = ShardHarness::spawn_trusting(store.clone(), batching(1), 1_000, trust).await;

    for _ in 0..2 {
        let resent = harness.ingest(vec![event("t", "old")]);
        assert_eq!(resent.await.unwrap().unwrap(), vec![Outcome::Duplicate]);
    }
    let inserted = harness.ingest(vec![event("t", "new")]);
    assert_eq!(inserted.await.unwrap().unwrap(), vec![Outcome::New]);
    let again = harness.ingest(vec![event("t", "new")]);
    assert_eq!(again.await.unwrap().unwrap(), vec![Outcome::Duplicate]);

    let commits = store.commits();
    assert_eq!(commits.len(), 5);
    assert_eq!(
        commits[2].candidates.len(),
        1,
        "the old key was answered from memory"
    );
    assert!(
        commits[4].candidates.is_empty(),
        "a key inserted now is remembered"
    );
}

#[tokio::test(start_paused = true)]
async fn repeats_inside_one_batch_reach_the_store_once() {
    let harness = ShardHarness::spawn(MemoryStore::new(), batching(3), 0).await;

    let answer = harness.ingest(vec![event("t", "a"), event("t", "a"), event("t", "b")]);

    let outcomes = answer.await.unwrap().unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::New, Outcome::Duplicate, Outcome::New]
    );
    let commits = harness.store.commits();
    assert_eq!(commits[0].candidates.len(), 2);
    assert_eq!(commits[0].received, 3);
}

#[tokio::test(start_paused = true)]
async fn a_commit_under_way_when_its_shard_is_killed_is_still_answered() {
    let store = MemoryStore::new();
    let harness = ShardHarness::spawn(store.clone(), batching(1), 0).await;
    let hold = store.hold_commits().await;

    let answer = harness.ingest(vec![event("t", "1")]);
    settle().await;
    assert_eq!(store.commits().len(), 1, "the commit has started");
    harness.shard.kill();
    settle().await;
    drop(hold);

    assert_eq!(answer.await.unwrap().unwrap(), vec![Outcome::New]);
    assert_eq!(store.row_count(), 1);
    assert_eq!(harness.stats().await.totals.unique_processed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_commit_is_answered_with_a_retryable_error_and_counters_are_resynced() {
    let store = MemoryStore::new();
    let harness = ShardHarness::spawn(store.clone(), batching(1), 0).await;
    // The resync every fresh shard schedules at start.
    tokio::time::advance(RESYNC_DELAY).await;
    settle().await;
    let reads_at_start = store.own_counter_reads();
    assert_eq!(reads_at_start, 1);
    store.fail_next_commit(StoreError::transient("connection reset"));

    let failed = harness.ingest(vec![event("t", "1")]);

    assert!(
        failed.await.unwrap().is_err(),
        "a failed commit answered Ok"
    );
    tokio::time::advance(RESYNC_DELAY).await;
    settle().await;
    assert_eq!(store.own_counter_reads(), reads_at_start + 1, "no resync");
    let retried = harness.ingest(vec![event("t", "1")]);
    assert_eq!(retried.await.unwrap().unwrap(), vec![Outcome::New]);
}

#[tokio::test(start_paused = true)]
async fn a_request_the_store_refuses_is_refused_alone_and_its_batch_mates_commit() {
    let store = MemoryStore::new();
    store.refuse_event_ids_containing("poison");
    let harness = ShardHarness::spawn(store.clone(), batching(4), 0).await;

    let before = harness.ingest(vec![event("t", "a")]);
    let poison = harness.ingest(vec![event("t", "b"), event("t", "poison")]);
    let after = harness.ingest(vec![event("t", "c")]);

    assert_eq!(before.await.unwrap().unwrap(), vec![Outcome::New]);
    assert_eq!(after.await.unwrap().unwrap(), vec![Outcome::New]);
    let refused = poison.await.unwrap();
    assert!(
        matches!(refused, Err(IngestError::Rejected(_))),
        "{refused:?}"
    );
    assert_eq!(store.row_count(), 2, "the poison request stored something");
    let counters = store.counters(0);
    assert_eq!((counters.received, counters.unique_processed), (2, 2));
    // A refusal is certain (nothing landed): no counter resync is needed for it.
    assert_eq!(harness.stats().await.totals.received, 2);
}
