//! Cases about commits: new versus duplicate, counters, concurrency, restarts.

use std::collections::HashMap;

use aggregator::event::Event;

use crate::backends::Backend;
use crate::fixtures::{
    commit, commit_received, counters, event, everything, keys, list_all, shard, total,
};

pub async fn a_key_is_new_once_and_duplicate_after(backend: Backend) {
    let store = backend.open().await;
    let first = [event("orders", "evt-1")];

    let inserted = commit(&store, 0, &first).await;
    let again = commit(&store, 0, &first).await;
    let from_another_shard = commit(&store, 1, &first).await;

    assert_eq!(inserted, [true]);
    assert_eq!(again, [false]);
    assert_eq!(from_another_shard, [false]);
    assert_eq!(list_all(&store, everything(10)).await.len(), 1);
}

pub async fn a_batch_reports_exactly_the_absent_keys_as_new(backend: Backend) {
    let store = backend.open().await;
    commit(
        &store,
        0,
        &[event("a", "2"), event("a", "4"), event("b", "1")],
    )
    .await;
    // Same event id in another topic is another key.
    let batch = [
        event("a", "1"),
        event("a", "2"),
        event("a", "3"),
        event("a", "4"),
        event("b", "1"),
        event("c", "1"),
    ];

    let is_new = commit(&store, 0, &batch).await;

    assert_eq!(is_new, [true, false, true, false, false, true]);
    let stored = keys(&list_all(&store, everything(100)).await);
    let expected: Vec<(String, String)> = [
        ("a", "1"),
        ("a", "2"),
        ("a", "3"),
        ("a", "4"),
        ("b", "1"),
        ("c", "1"),
    ]
    .iter()
    .map(|(t, e)| (t.to_string(), e.to_string()))
    .collect();
    let mut sorted = stored.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
}

pub async fn counters_are_exact_per_shard_and_summed_over_commits(backend: Backend) {
    let store = backend.open().await;
    assert_eq!(
        total(&store.load_counters().await.unwrap()),
        counters(0, 0, 0)
    );

    // Shard 0: 3 new of 5 received (2 repeats resolved in memory), then 1 new of 4 received.
    commit_received(
        &store,
        0,
        &[event("t0", "1"), event("t0", "2"), event("t0", "3")],
        5,
    )
    .await;
    commit_received(&store, 0, &[event("t0", "1"), event("t0", "4")], 4).await;
    // Shard 3: 2 new, then nothing new.
    commit(&store, 3, &[event("t3", "1"), event("t3", "2")]).await;
    commit(&store, 3, &[event("t3", "1"), event("t3", "2")]).await;

    let totals = store.load_counters().await.unwrap();
    assert_eq!(shard(&totals, 0), counters(9, 4, 5));
    assert_eq!(shard(&totals, 3), counters(4, 2, 2));
    assert_eq!(shard(&totals, 1), counters(0, 0, 0));
    let sum = total(&totals);
    assert_eq!(sum, counters(13, 6, 7));
    assert_eq!(
        sum.unique_processed as usize,
        list_all(&store, everything(3)).await.len()
    );
}

pub async fn concurrent_commits_of_overlapping_keys_report_each_key_new_exactly_once(
    backend: Backend,
) {
    const TASKS: u32 = 4;
    const ROUNDS: usize = 10;
    const WIDTH: usize = 60;
    let store = backend.open().await;

    // Task t in round r commits keys [(r * 20 + t * 10), ... + WIDTH): every key is offered by
    // several tasks at about the same time. Odd tasks offer them in reverse order: a store that
    // inserted in the order given would let two transactions wait for each other (deadlock).
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut new_keys = Vec::new();
            for round in 0..ROUNDS {
                let start = round * 20 + task as usize * 10;
                let mut batch: Vec<Event> = (start..start + WIDTH)
                    .map(|n| event("shared", &format!("k{n:05}")))
                    .collect();
                if task % 2 == 1 {
                    batch.reverse();
                }
                let is_new = commit(&store, task, &batch).await;
                for (event, new) in batch.iter().zip(is_new) {
                    if new {
                        new_keys.push(event.event_id.clone());
                    }
                }
            }
            new_keys
        }));
    }
    let mut times_new: HashMap<String, usize> = HashMap::new();
    for task in tasks {
        for key in task.await.unwrap() {
            *times_new.entry(key).or_default() += 1;
        }
    }

    let distinct = (ROUNDS - 1) * 20 + (TASKS as usize - 1) * 10 + WIDTH;
    assert_eq!(times_new.len(), distinct, "every offered key was new once");
    assert!(
        times_new.values().all(|&n| n == 1),
        "no key new twice: {times_new:?}"
    );
    let stored = list_all(&store, everything(1000)).await;
    assert_eq!(stored.len(), distinct);
    let sum = total(&store.load_counters().await.unwrap());
    let received = (TASKS as usize * ROUNDS * WIDTH) as u64;
    assert_eq!(
        sum,
        counters(received, distinct as u64, received - distinct as u64)
    );
}

pub async fn reopening_the_store_keeps_rows_and_counters(backend: Backend) {
    let store = backend.open().await;
    commit(&store, 2, &[event("x", "1"), event("y", "1")]).await;
    commit_received(&store, 2, &[event("x", "1")], 3).await;
    let before = list_all(&store, everything(10)).await;
    drop(store);

    let reopened = backend.open().await;

    let totals = reopened.load_counters().await.unwrap();
    assert_eq!(shard(&totals, 2), counters(5, 2, 3));
    assert_eq!(totals.topics, ["x", "y"]);
    let after = list_all(&reopened, everything(10)).await;
    assert_eq!(keys(&after), keys(&before));
    assert_eq!(
        commit(&reopened, 2, &[event("x", "1"), event("z", "1")]).await,
        [false, true]
    );
    let after_commit = list_all(&reopened, everything(10)).await;
    let seq_of = |topic: &str| {
        after_commit
            .iter()
            .filter(|e| e.topic == topic)
            .map(|e| e.seq)
            .max()
    };
    assert!(
        seq_of("z") > seq_of("y"),
        "sequence keeps increasing after a restart"
    );
}

/// Live counters are snapshots of the persisted row: every commit reports the shard's row as
/// it stands after the commit, an empty commit included (that is how shards resync).
pub async fn a_commit_reports_the_shard_counter_row_after_it(backend: Backend) {
    let store = backend.open().await;
    let first = [event("a", "1"), event("a", "2")];
    let candidates: Vec<&Event> = first.iter().collect();
    let report_after = |received| aggregator::store::CommitBatch {
        shard: 3,
        candidates: &candidates,
        received,
    };

    let first_report = store.commit(report_after(3)).await.unwrap();
    let repeat_report = store.commit(report_after(2)).await.unwrap();
    let empty_report = store
        .commit(aggregator::store::CommitBatch {
            shard: 3,
            candidates: &[],
            received: 0,
        })
        .await
        .unwrap();

    assert_eq!(first_report.counters_after, counters(3, 2, 1));
    assert_eq!(repeat_report.counters_after, counters(5, 2, 3));
    assert_eq!(empty_report.counters_after, counters(5, 2, 3));
    let persisted = store.load_counters().await.unwrap();
    assert_eq!(shard(&persisted, 3), counters(5, 2, 3));
}

pub async fn small_commits_of_many_shards_at_once_keep_each_shards_outcomes_and_counters(
    backend: Backend,
) {
    const SHARDS: u32 = 8;
    const ROUNDS: usize = 20;
    let store = backend.open().await;
    // One stored key per shard, offered again in every round: a duplicate each time.
    for shard_id in 0..SHARDS {
        commit(
            &store,
            shard_id,
            &[event(&format!("t{shard_id}"), "stored")],
        )
        .await;
    }

    // Every shard commits small batches at the same time as the others, as single events do:
    // the store may share one transaction among them (the embedded writer does), never mixing
    // their outcomes or counters.
    let mut tasks = Vec::new();
    for shard_id in 0..SHARDS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let topic = format!("t{shard_id}");
            let mut outcomes = Vec::new();
            for round in 0..ROUNDS {
                let batch: Vec<Event> = (0..4)
                    .map(|n| event(&topic, &format!("r{round}-{n}")))
                    .chain([event(&topic, "stored")])
                    .collect();
                outcomes.push(commit(&store, shard_id, &batch).await);
            }
            outcomes
        }));
    }

    for task in tasks {
        for outcome in task.await.unwrap() {
            assert_eq!(outcome, [true, true, true, true, false]);
        }
    }
    let persisted = store.load_counters().await.unwrap();
    let rounds = ROUNDS as u64;
    for shard_id in 0..SHARDS {
        assert_eq!(
            shard(&persisted, shard_id),
            counters(1 + rounds * 5, 1 + rounds * 4, rounds)
        );
    }
    assert_eq!(
        list_all(&store, everything(1_000)).await.len(),
        SHARDS as usize * (1 + ROUNDS * 4)
    );
}

pub async fn a_commit_without_counters_stores_the_rows_and_leaves_the_counter_row_alone(
    backend: Backend,
) {
    let store = backend.open().await;
    commit(&store, 2, &[event("a", "1")]).await;
    let batch = [event("a", "1"), event("a", "2")];
    let candidates: Vec<&Event> = batch.iter().collect();

    let is_new = store
        .commit_uncounted(aggregator::store::CommitBatch {
            shard: 2,
            candidates: &candidates,
            received: 2,
        })
        .await
        .unwrap();

    assert_eq!(is_new, [false, true]);
    assert_eq!(list_all(&store, everything(10)).await.len(), 2);
    let persisted = store.load_counters().await.unwrap();
    assert_eq!(shard(&persisted, 2), counters(1, 1, 0));
}
