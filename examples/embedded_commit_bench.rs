//! Commit throughput of the embedded store, for choosing `PRAGMA synchronous` (see DESIGN.md,
//! "Embedded store").
//!
//! Each commit carries 1,000 events (~300-byte payloads), 20% of which are keys an earlier
//! commit already stored, so every commit both inserts and probes the unique index. Several
//! committers stand for several shards committing at once.
//!
//! ```text
//! cargo run --release --example embedded_commit_bench -- <full|normal> [committers] [commits]
//! ```
//! The database goes to a temporary directory under `./target` (a real disk: `/tmp` may be a
//! tmpfs where fsync costs nothing).

use std::sync::Arc;
use std::time::Instant;

use aggregator::event::Event;
use aggregator::store::embedded::{EmbeddedOptions, EmbeddedStore, SyncMode};
use aggregator::store::{CommitBatch, SharedStore};
use chrono::Utc;
use serde_json::value::RawValue;

const BATCH: usize = 1_000;
const DUPLICATES: usize = BATCH / 5;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sync = match args.first().map(String::as_str) {
        Some("full") | None => SyncMode::Full,
        Some("normal") => SyncMode::Normal,
        Some(other) => anyhow::bail!("unknown sync mode {other}: use full or normal"),
    };
    let committers: usize = args.get(1).map_or(Ok(1), |raw| raw.parse())?;
    let commits: usize = args.get(2).map_or(Ok(200), |raw| raw.parse())?;

    std::fs::create_dir_all("target")?;
    let dir = tempfile::tempdir_in("target")?;
    let options = EmbeddedOptions {
        timeout: std::time::Duration::from_secs(30),
        sync,
        query_timeout: std::time::Duration::from_secs(30),
        search_threads: 1,
    };
    let store: SharedStore =
        Arc::new(EmbeddedStore::open(dir.path().join("bench.db"), options).await?);

    let per_committer = commits / committers.max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for committer in 0..committers {
        let store = store.clone();
        let batches = workload(committer, per_committer)?;
        tasks.push(tokio::spawn(async move {
            for batch in &batches {
                let candidates: Vec<&Event> = batch.iter().collect();
                let report = store
                    .commit(CommitBatch {
                        shard: committer as u32,
                        candidates: &candidates,
                        received: BATCH as u64,
                    })
                    .await?;
                anyhow::ensure!(report.is_new.len() == BATCH, "short report");
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    let events = (per_committer * committers * BATCH) as f64;
    println!(
        "sync={:?} committers={committers} commits={} batch={BATCH} dup=20%: {:.0} events/s, {:.2} ms/commit",
        sync,
        per_committer * committers,
        events / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / (per_committer * committers) as f64,
    );
    Ok(())
}

/// `count` batches for one committer: 800 fresh keys plus 200 keys of its previous batch (all
/// fresh in the first batch, whose "duplicates" are then simply more new keys).
fn workload(committer: usize, count: usize) -> anyhow::Result<Vec<Vec<Event>>> {
    let topic = format!("bench-{committer}");
    let filler = "x".repeat(240);
    let mut next_id = 0usize;
    let mut batches: Vec<Vec<Event>> = Vec::with_capacity(count);
    for index in 0..count {
        let mut batch = Vec::with_capacity(BATCH);
        let repeats: Vec<usize> = match index {
            0 => Vec::new(),
            _ => (0..DUPLICATES).map(|i| next_id - BATCH + i * 4).collect(),
        };
        for id in repeats {
            batch.push(event(&topic, id, &filler)?);
        }
        while batch.len() < BATCH {
            batch.push(event(&topic, next_id, &filler)?);
            next_id += 1;
        }
        batches.push(batch);
    }
    Ok(batches)
}

fn event(topic: &str, id: usize, filler: &str) -> anyhow::Result<Event> {
    let payload = format!(r#"{{"level":"info","message":"request {id} served","pad":"{filler}"}}"#);
    Ok(Event {
        topic: topic.to_owned(),
        event_id: format!("evt-{id:012}"),
        timestamp: Utc::now(),
        source: "bench".into(),
        payload: RawValue::from_string(payload)?,
    })
}
