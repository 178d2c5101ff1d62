//! The counter invariants under a mixed workload: `received == unique_processed +
//! duplicate_dropped`, `unique_processed == rows`, and per-shard figures that add up.

use aggregator::actors::routing::shard_for_topic;
use aggregator::client::stats::ShardStat;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ApiApp};

const TOPICS: usize = 20;
const UNIQUE: usize = 1_600;
const DUPLICATES: usize = 400;
const BATCH: usize = 100;

/// 1,600 distinct events over 20 topics, each 4th one sent a second time shortly after its
/// first, so 20% of the 2,000 events are duplicates, some in the same batch as their original.
fn workload() -> Vec<Value> {
    let original =
        |i: usize| crate::helpers::event(&format!("topic-{:02}", i % TOPICS), &format!("evt-{i}"));
    let mut events = Vec::with_capacity(UNIQUE + DUPLICATES);
    for i in 0..UNIQUE {
        events.push(original(i));
        if i % 4 == 3 {
            // A repeat of an event sent up to 150 events earlier: same batch or an earlier one.
            events.push(original(i.saturating_sub(i * 37 % 150)));
        }
    }
    events
}

/// Proves the counters stay exact across 2,000 events in concurrent batches over 20 topics with
/// 20% duplicates, that they match the rows in the database, and that per-shard figures sum to
/// the totals, each shard owning exactly the rows of its topics.
#[tokio::test]
async fn counters_stay_exact_under_a_mixed_workload_across_many_topics() {
    // Arrange
    let app = spawn_app().await;
    let events = workload();
    assert_eq!(events.len(), UNIQUE + DUPLICATES);
    let bodies: Vec<Value> = events
        .chunks(BATCH)
        .map(|chunk| json!({ "events": chunk }))
        .collect();

    // Act
    let answers: Vec<Value> = stream::iter(&bodies)
        .map(|body| app.publish_ok(body))
        .buffer_unordered(4)
        .collect()
        .await;

    // Assert
    let acknowledged_new: u64 = answers
        .iter()
        .map(|a| a["unique_processed"].as_u64().unwrap())
        .sum();
    assert_eq!(acknowledged_new, UNIQUE as u64);
    let stats = app.stats().await;
    assert_eq!(stats.received, (UNIQUE + DUPLICATES) as u64);
    assert_eq!(stats.unique_processed, UNIQUE as u64);
    assert_eq!(stats.duplicate_dropped, DUPLICATES as u64);
    assert_eq!(
        stats.received,
        stats.unique_processed + stats.duplicate_dropped
    );
    assert_eq!(app.row_count().await, stats.unique_processed as i64);
    assert_eq!(stats.topics.len(), TOPICS);

    let shards = &stats.shards;
    assert_eq!(shards.len(), app.config.tree.shards as usize);
    let per_shard = |field: fn(&ShardStat) -> u64| shards.iter().map(field).sum::<u64>();
    assert_eq!(
        per_shard(|s| s.received),
        stats.received,
        "per-shard received"
    );
    assert_eq!(
        per_shard(|s| s.unique_processed),
        stats.unique_processed,
        "per-shard unique_processed"
    );
    assert_eq!(
        per_shard(|s| s.duplicate_dropped),
        stats.duplicate_dropped,
        "per-shard duplicate_dropped"
    );
    let db = app.db.client().await;
    let rows = db
        .query("SELECT topic, count(*) FROM events GROUP BY topic", &[])
        .await
        .unwrap();
    let mut rows_per_shard = vec![0u64; shards.len()];
    for row in rows {
        let topic: String = row.get(0);
        let count: i64 = row.get(1);
        rows_per_shard[shard_for_topic(&topic, app.config.tree.shards) as usize] += count as u64;
    }
    for shard in shards {
        let index = shard.shard as usize;
        assert_eq!(
            shard.unique_processed, rows_per_shard[index],
            "shard {index}"
        );
        assert_eq!(
            shard.received,
            shard.unique_processed + shard.duplicate_dropped,
            "shard {index}"
        );
    }
}
