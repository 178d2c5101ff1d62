//! The storage ceiling: how fast the store commits the publisher's workload when nothing else
//! is in the way.
//!
//! The workload is the one `aggregator publish` sends (same generator, same duplicate ratio,
//! payload size and topics), pre-generated and parsed before the clock starts. `--connections`
//! committers each take the next batch, resolve repeats inside it as a shard does, and commit
//! it with `Store::commit`: the same statement, counter update included, that the shards use.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::client::workload::{GeneratedEvent, Workload, WorkloadOptions};
use crate::event::{self, Event};
use crate::store::{self, CommitBatch, ShardId, SharedStore, StoreOptions};

/// Options of `aggregator bench ceiling`.
#[derive(Debug, Clone, PartialEq)]
pub struct CeilingConfig {
    /// Store to measure (PostgreSQL URL or, without it, the embedded store in its data dir).
    pub store: StoreOptions,
    /// What to commit: the workload `aggregator publish` sends, with the same options.
    pub workload: WorkloadOptions,
    /// Concurrent committers (each has its own counter row, like a shard).
    pub connections: usize,
    /// Print the result as one JSON object.
    pub json: bool,
}

/// What a ceiling run measured.
#[derive(Debug, Clone, Serialize)]
pub struct CeilingReport {
    /// `postgres` or `embedded`.
    pub backend: &'static str,
    /// Events committed, duplicates included.
    pub events: u64,
    /// Rows the run inserted.
    pub inserted: u64,
    /// Commits performed.
    pub commits: usize,
    /// Wall time of the commits.
    pub elapsed_seconds: f64,
    /// `events / elapsed_seconds`.
    pub events_per_second: f64,
}

/// Runs the benchmark and prints its report.
pub async fn run(args: CeilingConfig) -> anyhow::Result<CeilingReport> {
    let store = store::open(&args.store)
        .await
        .context("failed to open the store")?
        .store;
    let batches = Arc::new(generate(&args.workload)?);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut committers = Vec::with_capacity(args.connections.max(1));
    for committer in 0..args.connections.max(1) {
        let shard = ShardId::try_from(committer).context("too many connections")?;
        committers.push(tokio::spawn(commit_loop(
            store.clone(),
            shard,
            batches.clone(),
            next.clone(),
        )));
    }
    let mut inserted = 0;
    for committer in committers {
        inserted += committer.await.context("committer panicked")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let events: u64 = batches.iter().map(|batch| batch.len() as u64).sum();
    let report = CeilingReport {
        backend: store.backend(),
        events,
        inserted,
        commits: batches.len(),
        elapsed_seconds: elapsed,
        events_per_second: events as f64 / elapsed.max(f64::EPSILON),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "ceiling ({}): {} events in {} commits, {} inserted, {:.2} s, {:.0} events/s",
            report.backend,
            report.events,
            report.commits,
            report.inserted,
            report.elapsed_seconds,
            report.events_per_second
        );
    }
    Ok(report)
}

/// Takes batches until none are left; returns the rows it inserted.
async fn commit_loop(
    store: SharedStore,
    shard: ShardId,
    batches: Arc<Vec<Vec<Event>>>,
    next: Arc<AtomicUsize>,
) -> anyhow::Result<u64> {
    let mut inserted = 0;
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(batch) = batches.get(index) else {
            return Ok(inserted);
        };
        let mut seen = std::collections::HashSet::with_capacity(batch.len());
        let candidates: Vec<&Event> = batch.iter().filter(|e| seen.insert(e.key())).collect();
        let report = store
            .commit(CommitBatch {
                shard,
                candidates: &candidates,
                received: batch.len() as u64,
            })
            .await
            .context("commit failed")?;
        inserted += report.new_count();
    }
}

fn generate(workload: &WorkloadOptions) -> anyhow::Result<Vec<Vec<Event>>> {
    Workload::new(workload.spec('c'))
        .map(|batch| batch.events.into_iter().map(to_event).collect())
        .collect()
}

fn to_event(generated: GeneratedEvent) -> anyhow::Result<Event> {
    Ok(Event {
        timestamp: event::parse_timestamp(&generated.timestamp)
            .map_err(|err| anyhow::anyhow!("generated timestamp: {err}"))?,
        payload: RawValue::from_string(generated.payload).context("generated payload")?,
        topic: generated.topic,
        event_id: generated.event_id,
        source: generated.source,
    })
}
