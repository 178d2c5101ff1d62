//! Several aggregator processes sharing one PostgreSQL database: correctness comes from the
//! unique constraint, never from memory (design brief, guarantee 1 and "scale beyond one
//! machine"). Two real processes with their own `--instance-id` receive the SAME stream at the
//! same time, so every key is offered to both concurrently, in batches whose keys overlap.

use std::time::Duration;

use aggregator::client::workload::WorkloadOptions;
use aggregator::client::{RetryPolicy, Stream, StreamConfig};

use crate::support::{
    assert_counters_exact, assert_every_batch_acknowledged_cleanly,
    assert_stream_stored_exactly_once, persisted_counters, start_instances, TestDb,
};

/// Proves that two processes fed the same stream concurrently store each distinct key exactly
/// once between them, acknowledge every event, never deadlock or answer 500, and that the
/// counter rows they persist (one set per instance) sum to exact totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_a_database_store_each_key_once() {
    // Arrange
    let db = TestDb::create().await;
    let logs = tempfile::tempdir().unwrap();
    let processes = start_instances(&db, &["east", "west"], logs.path()).await;
    let spec = WorkloadOptions {
        events: 20_000,
        topics: 20,
        duplicate_ratio: 0.2,
        batch_size: 100,
        seed: Some(0x5EED),
        ..WorkloadOptions::default()
    }
    .spec('f');
    let config = StreamConfig {
        concurrency: 4,
        retry: RetryPolicy::until_acknowledged(),
        ..StreamConfig::default()
    };

    // Act: the same stream (same spec, same events) to both processes at once.
    let streams: Vec<Stream> = processes
        .iter()
        .map(|process| Stream::start(&process.base_url, spec.clone(), config.clone()).unwrap())
        .collect();
    let mut reports = Vec::new();
    for stream in streams {
        reports.push(
            stream
                .finish_within(Duration::from_secs(180))
                .await
                .unwrap(),
        );
    }

    // Assert
    let stored = db.keys().await;
    let rows = db.count_rows().await;
    for report in &reports {
        assert_every_batch_acknowledged_cleanly(report);
        assert_stream_stored_exactly_once(report, &stored, rows);
    }
    let (received, unique, duplicate) = persisted_counters(&db).await;
    eprintln!(
        "multi-instance: 2 processes x {} events, {} distinct; rows {rows}; persisted received \
         {received} unique {unique} duplicate {duplicate}",
        spec.events,
        spec.planned_distinct(),
    );
    assert_counters_exact(received, unique, duplicate, rows);
    let instances = db
        .client()
        .await
        .query_one("SELECT count(DISTINCT instance) FROM shard_counters", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(instances, 2, "each process keeps its own counter rows");
    for process in processes {
        process.kill9().await;
    }
}

/// Proves the deduplication horizon across instances: once a purge made on one instance has
/// answered, a purged key published again on another instance (whose fast path remembered the
/// key) is stored again, not answered as a duplicate from that instance's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_purged_on_one_instance_is_new_again_on_another() {
    // Arrange: "west" stores the keys and so remembers them in its fast path.
    let db = TestDb::create().await;
    let logs = tempfile::tempdir().unwrap();
    let processes = start_instances(&db, &["east", "west"], logs.path()).await;
    let (east, west) = (&processes[0].base_url, &processes[1].base_url);
    let client = reqwest::Client::new();
    let events: Vec<_> = (0..20)
        .map(|n| {
            serde_json::json!({"topic": "purge.shared", "event_id": format!("k{n}"),
                "timestamp": "2026-01-01T00:00:00Z", "source": "test", "payload": {}})
        })
        .collect();
    let outcomes = |answer: serde_json::Value| -> Vec<String> {
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|result| result["outcome"].as_str().unwrap().to_owned())
            .collect()
    };
    let publish = |base_url: &str| {
        client
            .post(format!("{base_url}/publish"))
            .json(&events)
            .send()
    };
    let first = publish(west).await.unwrap().json().await.unwrap();
    assert!(outcomes(first).iter().all(|outcome| outcome == "new"));
    let again = publish(west).await.unwrap().json().await.unwrap();
    assert!(outcomes(again).iter().all(|outcome| outcome == "duplicate"));

    // Act: purge on "east", then publish the same keys on "west".
    let purge = client
        .delete(format!("{east}/topics/purge.shared"))
        .send()
        .await
        .unwrap();
    assert_eq!(purge.status(), 200);
    let purged: serde_json::Value = purge.json().await.unwrap();
    assert_eq!(purged["purged"], 20);
    let after: serde_json::Value = publish(west).await.unwrap().json().await.unwrap();

    // Assert
    assert!(
        outcomes(after).iter().all(|outcome| outcome == "new"),
        "a purged key was answered from the other instance's memory"
    );
    assert_eq!(db.count_rows().await, 20);
    for process in processes {
        process.kill9().await;
    }
}
