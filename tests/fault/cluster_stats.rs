//! `/stats` as one system: three real processes on one database answer the same totals, the
//! same topics and the same instances, equal to what the store holds, also after one of them
//! is killed and restarted.

use std::time::Duration;

use aggregator::client::workload::WorkloadOptions;
use aggregator::client::{RetryPolicy, ServerStats, Stream, StreamConfig};

use crate::support::{
    assert_counters_exact, get_stats, instance_args, persisted_counters, start_instances,
    wait_until, AggregatorProcess, TestDb,
};

const INSTANCES: [&str; 3] = ["north", "south", "west"];

/// `/stats` of every process.
async fn all_stats(processes: &[AggregatorProcess]) -> Vec<ServerStats> {
    let mut all = Vec::new();
    for process in processes {
        all.push(get_stats(&process.base_url).await);
    }
    all
}

/// Whether every process's `/stats` shows `expected` counters, `topics` topics and every
/// instance alive.
fn agree(all: &[ServerStats], expected: (u64, u64, u64), topics: u64) -> bool {
    all.iter().all(|stats| {
        (
            stats.received,
            stats.unique_processed,
            stats.duplicate_dropped,
        ) == expected
            && stats.topics_total == topics
            && stats.instances.len() == INSTANCES.len()
            && stats.instances.iter().all(|instance| instance.alive)
    })
}

/// Proves guarantee 10 for `/stats`: after a stream through all three processes, all three
/// answer the same counters (equal to the persisted rows), the same topics and the three
/// instances alive, within a few seconds; after one is killed with `kill -9` and restarted
/// under the same instance id, they agree again and nothing is counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_answer_the_same_stats_as_the_store_also_after_a_restart() {
    // Arrange
    let db = TestDb::create().await;
    let logs = tempfile::tempdir().unwrap();
    let mut processes = start_instances(&db, &INSTANCES, logs.path()).await;
    let config = StreamConfig {
        concurrency: 2,
        retry: RetryPolicy::until_acknowledged(),
        ..StreamConfig::default()
    };

    // Act: a different stream through each process, some topics shared.
    let mut streams = Vec::new();
    for (index, process) in processes.iter().enumerate() {
        let spec = WorkloadOptions {
            events: 3_000,
            topics: 4 + index as u32,
            duplicate_ratio: 0.2,
            batch_size: 25,
            mixed: true,
            seed: Some(0xC1 + index as u64),
            ..WorkloadOptions::default()
        }
        .spec('s');
        streams.push(Stream::start(&process.base_url, spec, config.clone()).unwrap());
    }
    for stream in streams {
        stream
            .finish_within(Duration::from_secs(120))
            .await
            .unwrap();
    }
    let persisted = persisted_counters(&db).await;
    let rows = db.count_rows().await;
    let topics = db.keys().await.into_iter().map(|(topic, _)| topic);
    let topics = topics.collect::<std::collections::HashSet<_>>().len() as u64;
    let agreed = wait_until(
        || {
            let processes = &processes;
            async move { agree(&all_stats(processes).await, persisted, topics) }
        },
        Duration::from_secs(10),
    )
    .await;
    let before_restart = all_stats(&processes).await;
    let restarted = processes.remove(1);
    let restarted_port = restarted.port();
    restarted.kill9().await;
    let log = logs.path().join("south-again.log");
    processes.insert(
        1,
        AggregatorProcess::start(restarted_port, &instance_args(&db, INSTANCES[1]), &log).await,
    );
    let agreed_after_restart = wait_until(
        || {
            let processes = &processes;
            async move { agree(&all_stats(processes).await, persisted, topics) }
        },
        Duration::from_secs(10),
    )
    .await;

    // Assert
    let after_restart = all_stats(&processes).await;
    eprintln!(
        "cluster stats: persisted {persisted:?}, rows {rows}, topics {topics}; before restart {:?}; \
         after {:?}",
        before_restart
            .iter()
            .map(|s| (s.received, s.unique_processed, s.topics_total))
            .collect::<Vec<_>>(),
        after_restart
            .iter()
            .map(|s| (s.received, s.unique_processed, s.topics_total))
            .collect::<Vec<_>>(),
    );
    assert_counters_exact(persisted.0, persisted.1, persisted.2, rows);
    assert!(agreed, "the processes never agreed with the store");
    assert!(agreed_after_restart, "disagreement after a restart");
    for process in processes {
        process.kill9().await;
    }
}
