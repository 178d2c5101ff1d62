//! Cases about deleting rows (`Store::remove`: expiry and purges) and the pruner's walk over
//! topics (`Store::topics_after`): which rows go, how many per call, how they are counted, and
//! that a deleted row's `seq` is never given out again.
//!
//! Expiry compares `received_at` with the store's own clock, so its cases age rows for real:
//! they wait [`AGE`] past a one-second [`RETENTION`].

use std::time::Duration;

use aggregator::event::Event;
use aggregator::store::{
    EventQuery, PagePosition, Removal, RemovalCounters, RemoveReport, RemoveRequest, SharedStore,
};

use crate::backends::Backend;
use crate::fixtures::{commit, event, everything, list_all, total};

/// The retention of every expiry in these cases.
pub(super) const RETENTION: Duration = Duration::from_secs(1);

/// How long rows are left to age: past [`RETENTION`] with a margin, so that rows committed
/// before the wait are due and rows committed after it are not.
const AGE: Duration = Duration::from_millis(1_200);

/// Ages the rows committed so far past [`RETENTION`]. Expiry reads the store's clock, which
/// only real time moves: this is the one wait on time rather than on a condition.
pub(super) async fn age_past_retention() {
    tokio::time::sleep(AGE).await;
}

/// `n` events of `topic` with ids `{prefix}0`, `{prefix}1`, ...
pub(super) fn batch(topic: &str, prefix: &str, n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| event(topic, &format!("{prefix}{i}")))
        .collect()
}

/// Expires rows of `topic` older than [`RETENTION`], reading at most `limit`.
async fn expire(store: &SharedStore, topic: &str, limit: u32) -> RemoveReport {
    let removal = Removal::Expired {
        older_than: RETENTION,
    };
    remove(store, topic, removal, limit).await
}

/// Purges rows of `topic` up to `up_to_seq`, reading at most `limit`.
pub(super) async fn purge(
    store: &SharedStore,
    topic: &str,
    up_to_seq: i64,
    limit: u32,
) -> RemoveReport {
    remove(store, topic, Removal::Purged { up_to_seq }, limit).await
}

async fn remove(store: &SharedStore, topic: &str, removal: Removal, limit: u32) -> RemoveReport {
    let request = RemoveRequest {
        topic,
        removal,
        limit,
    };
    let report = store.remove(request).await.expect("remove");
    assert!(!report.busy, "no other connection prunes {topic}");
    report
}

/// The topic's last `seq`: the horizon a purge of it starts with.
pub(super) async fn end_of(store: &SharedStore, topic: &str) -> i64 {
    store.feed_end(Some(topic)).await.expect("feed_end").seq
}

/// Event ids of `topic`, in listing (`seq`) order.
pub(super) async fn ids(store: &SharedStore, topic: &str) -> Vec<String> {
    let query = EventQuery {
        topic: Some(topic.into()),
        ..everything(100)
    };
    let events = list_all(store, query).await;
    events.into_iter().map(|e| e.event_id).collect()
}

pub(super) fn removed(expired: u64, purged: u64) -> RemovalCounters {
    RemovalCounters { expired, purged }
}

/// The store's invariant: rows stored = unique_processed - expired - purged.
pub(super) async fn assert_rows_balance(store: &SharedStore) {
    let totals = store.load_counters().await.expect("load_counters");
    let stored = list_all(store, everything(100)).await.len() as u64;
    let unique = total(&totals).unique_processed;
    assert_eq!(
        stored + totals.removals.total.total(),
        unique,
        "rows stored = unique_processed - expired - purged ({:?})",
        totals.removals
    );
}

pub async fn removal_by_expiry_deletes_only_the_rows_older_than_the_retention(backend: Backend) {
    let store = backend.open().await;
    commit(&store, 0, &batch("logs", "a", 5)).await;
    age_past_retention().await;
    commit(&store, 1, &batch("logs", "b", 3)).await;
    let before = total(&store.load_counters().await.unwrap());

    let report = expire(&store, "logs", 1_000).await;
    let again = expire(&store, "logs", 1_000).await;

    assert_eq!(report.removed, 5);
    assert_eq!(report.counters_after, Some(removed(5, 0)));
    let overdue = report.overdue.expect("an expiry reports how late it was");
    assert!(
        overdue >= Duration::from_millis(150) && overdue < Duration::from_secs(60),
        "rows aged {AGE:?} past a {RETENTION:?} retention: overdue {overdue:?}"
    );
    assert_eq!(ids(&store, "logs").await, ["b0", "b1", "b2"]);
    assert_eq!(again.removed, 0, "the first row left is fresh");
    assert_eq!(again.counters_after, None);
    let after = store.load_counters().await.unwrap();
    assert_eq!(after.removals.total, removed(5, 0));
    assert_eq!(after.removals.own, removed(5, 0));
    assert_eq!(total(&after), before, "shard counters are not touched");
    assert_eq!(before.unique_processed, 8);
    let view = store.cluster_view(0).await.unwrap();
    assert_eq!(view.removals.total, removed(5, 0));
    assert_rows_balance(&store).await;
}

pub async fn a_removal_deletes_at_most_its_limit_of_the_oldest_rows_per_call(backend: Backend) {
    let store = backend.open().await;
    commit(&store, 0, &batch("t", "e", 7)).await;
    age_past_retention().await;
    commit(&store, 0, &batch("t", "f", 2)).await;

    let mut reports = Vec::new();
    let mut left_after_each = Vec::new();
    for _ in 0..10 {
        let report = expire(&store, "t", 3).await;
        reports.push(report);
        left_after_each.push(ids(&store, "t").await);
        if report.removed == 0 {
            break;
        }
    }

    let counts: Vec<u64> = reports.iter().map(|r| r.removed).collect();
    // The third call reads e6, f0, f1 and deletes only e6; the fourth finds f0 fresh first.
    assert_eq!(counts, [3, 3, 1, 0]);
    assert_eq!(counts.iter().sum::<u64>(), 7);
    let expired_after: Vec<Option<u64>> = reports
        .iter()
        .map(|r| r.counters_after.map(|c| c.expired))
        .collect();
    assert_eq!(expired_after, [Some(3), Some(6), Some(7), None]);
    assert_eq!(left_after_each[0], ["e3", "e4", "e5", "e6", "f0", "f1"]);
    assert_eq!(left_after_each[1], ["e6", "f0", "f1"]);
    assert_eq!(left_after_each[3], ["f0", "f1"]);
    let totals = store.load_counters().await.unwrap();
    assert_eq!(totals.removals.total, removed(7, 0));
    assert_rows_balance(&store).await;
}

pub async fn a_removal_skips_a_topic_whose_first_row_is_fresh_and_leaves_other_topics_alone(
    backend: Backend,
) {
    let store = backend.open().await;
    commit(&store, 0, &batch("aged", "a", 2)).await;
    commit(&store, 1, &batch("other", "o", 3)).await;
    age_past_retention().await;
    commit(&store, 2, &batch("fresh", "f", 2)).await;

    let fresh_expiry = expire(&store, "fresh", 1_000).await;
    let purge_below_first = purge(&store, "fresh", 0, 1_000).await;
    let untouched = store.load_counters().await.unwrap().removals;
    let aged_expiry = expire(&store, "aged", 1_000).await;

    assert_eq!(fresh_expiry, RemoveReport::default());
    assert_eq!(purge_below_first, RemoveReport::default());
    assert_eq!(untouched.total, removed(0, 0), "nothing was written");
    assert_eq!(aged_expiry.removed, 2);
    assert_eq!(aged_expiry.counters_after, Some(removed(2, 0)));
    assert!(ids(&store, "aged").await.is_empty());
    assert_eq!(ids(&store, "fresh").await, ["f0", "f1"]);
    assert_eq!(ids(&store, "other").await, ["o0", "o1", "o2"]);
    // The other topic's rows were due all along: only the topic asked for lost any.
    assert_eq!(expire(&store, "other", 1_000).await.removed, 3);
    assert_rows_balance(&store).await;
}

pub async fn removal_by_purge_deletes_exactly_the_rows_up_to_its_horizon(backend: Backend) {
    let store = backend.open().await;
    commit(&store, 0, &batch("t", "p", 5)).await;
    commit(&store, 1, &batch("u", "u", 1)).await;
    let horizon = end_of(&store, "t").await;
    commit(&store, 0, &batch("t", "q", 3)).await;
    let listed = list_all(&store, everything(100)).await;
    let last_p = listed.iter().find(|e| e.event_id == "p4").unwrap().seq;
    assert_eq!(horizon, last_p, "feed_end of a topic is its last seq");

    let mut counts = Vec::new();
    for _ in 0..10 {
        let report = purge(&store, "t", horizon, 2).await;
        counts.push(report.removed);
        if report.removed == 0 {
            assert_eq!(report.counters_after, None);
            break;
        }
    }

    assert_eq!(counts, [2, 2, 1, 0]);
    assert_eq!(ids(&store, "t").await, ["q0", "q1", "q2"]);
    assert_eq!(ids(&store, "u").await, ["u0"]);
    let totals = store.load_counters().await.unwrap();
    assert_eq!(totals.removals.total, removed(0, 5));
    assert_eq!(totals.removals.own, removed(0, 5));
    assert_rows_balance(&store).await;
}

/// The embedded store once numbered rows after the highest `seq` still stored: purging the
/// newest rows and re-opening gave their numbers out again, behind every cursor past them.
pub async fn after_a_removal_of_the_newest_rows_and_a_reopen_no_seq_is_given_twice(
    backend: Backend,
) {
    let store = backend.open().await;
    commit(&store, 0, &batch("t", "n", 3)).await;
    commit(&store, 0, &[event("t", "last")]).await;
    let seen: Vec<i64> = list_all(&store, everything(100))
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    let highest_seen = *seen.iter().max().unwrap();
    let end = end_of(&store, "t").await;
    assert_eq!(end, highest_seen);
    assert_eq!(purge(&store, "t", end, 100).await.removed, 4);
    assert!(list_all(&store, everything(100)).await.is_empty());
    drop(store);

    let reopened = backend.open().await;
    let is_new = commit(&reopened, 0, &[event("t", "after-restart")]).await;

    assert_eq!(is_new, [true]);
    let stored = list_all(&reopened, everything(100)).await;
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].seq > highest_seen,
        "new seq {} repeats one of {seen:?}",
        stored[0].seq
    );
    // A pager left on the last purged row resumes with the new row.
    let resumed = EventQuery {
        topic: Some("t".into()),
        after: Some(PagePosition {
            topic: "t".into(),
            seq: end,
        }),
        ..everything(10)
    };
    let page = reopened.query(&resumed).await.unwrap();
    let page_ids: Vec<&str> = page.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(page_ids, ["after-restart"]);
    assert!(end_of(&reopened, "t").await > end);
}

pub async fn removal_counters_survive_reopening_the_store(backend: Backend) {
    let store = backend.open().await;
    commit(&store, 0, &batch("old", "o", 2)).await;
    age_past_retention().await;
    commit(&store, 1, &batch("gone", "g", 3)).await;
    assert_eq!(expire(&store, "old", 100).await.removed, 2);
    let end = end_of(&store, "gone").await;
    assert_eq!(purge(&store, "gone", end, 100).await.removed, 3);
    drop(store);

    let reopened = backend.open().await;
    let totals = reopened.load_counters().await.unwrap();
    let view = reopened.cluster_view(0).await.unwrap();
    commit(&reopened, 1, &[event("gone", "g3")]).await;
    let end_after = end_of(&reopened, "gone").await;
    let next = purge(&reopened, "gone", end_after, 100).await;

    assert_eq!(totals.removals.total, removed(2, 3));
    assert_eq!(totals.removals.own, removed(2, 3));
    assert_eq!(view.removals.total, removed(2, 3));
    assert_eq!(next.removed, 1);
    assert_eq!(next.counters_after, Some(removed(2, 4)), "counting resumes");
    assert_rows_balance(&reopened).await;
}

pub async fn a_key_published_again_after_its_removal_is_new_again(backend: Backend) {
    let store = backend.open().await;
    let first = commit(&store, 0, &[event("t", "k1"), event("t", "k2")]).await;
    let old_seq = list_all(&store, everything(10)).await[0].seq;
    let end = end_of(&store, "t").await;
    assert_eq!(purge(&store, "t", end, 100).await.removed, 2);

    let republished = commit(&store, 0, &[event("t", "k1"), event("t", "k3")]).await;
    let repeated = commit(&store, 0, &[event("t", "k1")]).await;

    assert_eq!(first, [true, true]);
    assert_eq!(republished, [true, true]);
    assert_eq!(repeated, [false]);
    let stored = list_all(&store, everything(10)).await;
    assert_eq!(ids(&store, "t").await, ["k1", "k3"]);
    assert!(stored[0].seq > old_seq, "the re-published row is a new row");
    let totals = store.load_counters().await.unwrap();
    let sum = total(&totals);
    assert_eq!(sum.unique_processed, 4, "k1 counted new twice");
    assert_eq!(sum.duplicate_dropped, 1);
    assert_eq!(totals.removals.total, removed(0, 2));
    assert_rows_balance(&store).await;
}

pub async fn the_removal_walk_pages_through_topics_in_byte_order(backend: Backend) {
    let store = backend.open().await;
    let events = [
        event("zeta", "1"),
        event("b", "1"),
        event("Mixed", "1"),
        event("a.1", "1"),
        event("b", "2"),
        event("a", "1"),
        event("c", "1"),
    ];
    commit(&store, 0, &events).await;
    let expected = ["Mixed", "a", "a.1", "b", "c", "zeta"];

    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = store.topics_after(after.as_deref(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().cloned();
        pages.push(page);
    }

    assert_eq!(
        pages,
        [["Mixed", "a"], ["a.1", "b"], ["c", "zeta"]],
        "pages of 2, sorted bytewise, each topic once"
    );
    assert_eq!(store.topics_after(None, 100).await.unwrap(), expected);
    assert_eq!(
        store.topics_after(Some("a.0"), 2).await.unwrap(),
        ["a.1", "b"],
        "after a name that is no topic"
    );
    assert!(store
        .topics_after(Some("zeta"), 10)
        .await
        .unwrap()
        .is_empty());
    // Once a topic's rows are all gone it may or may not be listed; nothing else changes.
    let end = end_of(&store, "c").await;
    assert_eq!(purge(&store, "c", end, 10).await.removed, 1);
    let mut listed = store.topics_after(None, 100).await.unwrap();
    listed.retain(|topic| topic != "c");
    assert_eq!(listed, ["Mixed", "a", "a.1", "b", "zeta"]);
}
