//! Unit tests of the [`Follower`] over the in-memory store: it wakes on a commit and reads on
//! from its position; a filtered tail moves past rows it does not want in bounded, paced
//! reads, then waits for a commit instead of reading again; shutdown ends a waiting tail.

use std::sync::Arc;

use super::*;
use crate::event::Event;
use crate::store::memory::MemoryStore;
use crate::store::{CommitBatch, FeedPosition, Ingest};

/// The source of every event committed by [`commit`].
const SOURCE: &str = "unit-test";

async fn commit(store: &MemoryStore, topic: &str, id: &str) {
    commit_from(store, topic, id, SOURCE).await;
}

async fn commit_from(store: &MemoryStore, topic: &str, id: &str, source: &str) {
    let event = Event {
        topic: topic.into(),
        event_id: id.into(),
        timestamp: chrono::Utc::now(),
        source: source.into(),
        payload: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
    };
    let candidates = [&event];
    store
        .commit(CommitBatch {
            shard: 0,
            candidates: &candidates,
            received: 1,
        })
        .await
        .unwrap();
}

/// A follower from the start of every topic, two events a page, of `source` only if given.
fn follower_of(
    store: &MemoryStore,
    closing: watch::Receiver<bool>,
    source: Option<&str>,
) -> Follower {
    let slot = TailSlots::new(4).take().unwrap();
    let query = FollowQuery {
        limit: 2,
        source: source.map(str::to_owned),
        ..FollowQuery::default()
    };
    Follower::new(Arc::new(store.clone()), query, Some(closing), slot)
}

fn follower(store: &MemoryStore, closing: watch::Receiver<bool>) -> Follower {
    follower_of(store, closing, None)
}

fn seqs(page: &[FollowedEvent]) -> Vec<i64> {
    page.iter().map(|f| f.event.seq).collect()
}

#[tokio::test(start_paused = true)]
async fn a_caught_up_tail_wakes_on_a_commit_and_reads_on_from_its_position() {
    let store = MemoryStore::new();
    let (_closing, closing_rx) = watch::channel(false);
    commit(&store, "a", "1").await;
    commit(&store, "b", "1").await;
    commit(&store, "a", "2").await;
    let mut follower = follower(&store, closing_rx);

    let first = follower.next_page().await.unwrap();
    let second = follower.next_page().await.unwrap();
    let waiting = tokio::spawn(async move {
        let page = follower.next_page().await.unwrap();
        (page, follower)
    });
    tokio::task::yield_now().await;
    let committed_at = Instant::now();
    commit(&store, "c", "1").await;
    let (third, _) = waiting.await.unwrap();
    // Woken by the commit, not by the poll period (paused time only moves for timers).
    assert!(
        committed_at.elapsed() < POLL_PERIOD,
        "{:?}",
        committed_at.elapsed()
    );

    assert_eq!(seqs(&first), [1, 2], "a page holds at most the limit");
    assert_eq!(seqs(&second), [3]);
    assert_eq!(seqs(&third), [4]);
    assert_eq!(third[0].position, FeedPosition { tx: 0, seq: 4 });
}

#[tokio::test(start_paused = true)]
async fn a_filtered_tail_moves_past_rows_it_does_not_want_in_bounded_paced_reads() {
    let store = MemoryStore::new();
    let (_closing, closing_rx) = watch::channel(false);
    // Limit 2: a read examines at most 20 rows. 50 rows the tail does not want, then one.
    for id in 0..50 {
        commit(&store, "busy", &id.to_string()).await;
    }
    commit_from(&store, "busy", "wanted", "rare").await;
    let mut follower = follower_of(&store, closing_rx, Some("rare"));
    let started = Instant::now();

    let page = follower.next_page().await.unwrap();

    assert_eq!(seqs(&page), [51]);
    assert_eq!(store.follow_reads(), 3, "rows 1-20, 21-40, then 41-51");
    // Read again at its pace, not after a commit or the poll period.
    assert!(started.elapsed() < POLL_PERIOD, "{:?}", started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn a_filtered_tail_that_reached_the_end_waits_for_a_commit() {
    let store = MemoryStore::new();
    let (_closing, closing_rx) = watch::channel(false);
    for id in 0..3 {
        commit(&store, "busy", &id.to_string()).await;
    }
    let mut follower = follower_of(&store, closing_rx, Some("rare"));
    let waiting = tokio::spawn(async move { follower.next_page().await });

    tokio::time::sleep(POLL_PERIOD / 2).await;
    let reads_while_caught_up = store.follow_reads();
    commit(&store, "busy", "3").await;
    commit_from(&store, "busy", "wanted", "rare").await;
    let page = waiting.await.unwrap().unwrap();

    // One read moved past the three rows, the next found nothing: then it waits.
    assert_eq!(reads_while_caught_up, 2);
    assert_eq!(seqs(&page), [5]);
}

#[tokio::test(start_paused = true)]
async fn the_server_shutting_down_ends_a_waiting_tail() {
    let store = MemoryStore::new();
    let (closing, closing_rx) = watch::channel(false);
    let mut follower = follower(&store, closing_rx);
    let waiting = tokio::spawn(async move { follower.next_page().await });
    tokio::task::yield_now().await;
    closing.send(true).unwrap();
    assert!(waiting.await.unwrap().is_none());
}
