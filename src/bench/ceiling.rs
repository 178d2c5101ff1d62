//! The storage ceiling: how fast the store commits the publisher's workload when nothing else
//! is in the way.
//!
//! The workload is the one `aggregator publish` sends (same generator, same duplicate ratio,
//! payload size and topics), pre-generated and parsed before the clock starts. `--connections`
//! committers each take the next batch, resolve repeats inside it as a shard does, and commit
//! it with `Store::commit`: the same statement, counter update included, that the shards use.
//! With `--without-counters` they commit the rows alone (`Ingest::commit_uncounted`); with
//! `--batch-size 1` as well, that is the naive durable design, one plain commit per event, which
//! the shards' group commit of single events is measured against.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::client::workload::{GeneratedEvent, Workload, WorkloadOptions};
use crate::event::{self, Event};
use crate::store::{self, CommitBatch, ShardId, SharedStore, StoreError, StoreOptions};

/// Options of `aggregator bench ceiling`.
#[derive(Debug, Clone, PartialEq)]
pub struct CeilingConfig {
    /// Store to measure (PostgreSQL URL or, without it, the embedded store in its data dir).
    pub store: StoreOptions,
    /// What to commit: the workload `aggregator publish` sends, with the same options.
    pub workload: WorkloadOptions,
    /// Concurrent committers (each has its own counter row, like a shard).
    pub connections: usize,
    /// Whether each commit also adds its deltas to the committer's counter row.
    pub counted: bool,
    /// Print the result as one JSON object.
    pub json: bool,
}

/// What a ceiling run measured.
#[derive(Debug, Clone, Serialize)]
pub struct CeilingReport {
    /// `postgres` or `embedded`.
    pub backend: &'static str,
    /// Whether the commits updated counter rows.
    pub counted: bool,
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
    // Every committer is a client with a connection of its own, as in the naive design: a
    // smaller pool would make committers queue for connections rather than for the database.
    let options = StoreOptions {
        pool_size: args.store.pool_size.max(args.connections),
        ..args.store.clone()
    };
    let store = store::open(&options)
        .await
        .context("failed to open the store")?
        .store;
    let batches = Arc::new(generate(&args.workload)?);
    warm_up(&store, args.connections.max(1), args.counted).await?;
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
            args.counted,
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
        counted: args.counted,
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
            "ceiling ({}{}): {} events in {} commits, {} inserted, {:.2} s, {:.0} events/s",
            report.backend,
            if report.counted {
                ""
            } else {
                ", without counters"
            },
            report.events,
            report.commits,
            report.inserted,
            report.elapsed_seconds,
            report.events_per_second
        );
    }
    Ok(report)
}

/// Commits one empty batch per committer, all at once and before the clock starts, so that
/// the measured commits find their connections open and their statements prepared (with 64
/// committers, opening the connections would otherwise weigh on a short run).
async fn warm_up(store: &SharedStore, committers: usize, counted: bool) -> anyhow::Result<()> {
    let mut warming = Vec::with_capacity(committers);
    for committer in 0..committers {
        let shard = ShardId::try_from(committer).context("too many connections")?;
        let store = store.clone();
        warming.push(tokio::spawn(async move {
            let empty = CommitBatch {
                shard,
                candidates: &[],
                received: 0,
            };
            commit(&store, empty, counted).await.map(drop)
        }));
    }
    for warming in warming {
        warming
            .await
            .context("committer panicked")?
            .context("warm-up commit failed")?;
    }
    Ok(())
}

/// Takes batches until none are left; returns the rows it inserted.
async fn commit_loop(
    store: SharedStore,
    shard: ShardId,
    batches: Arc<Vec<Vec<Event>>>,
    next: Arc<AtomicUsize>,
    counted: bool,
) -> anyhow::Result<u64> {
    let mut inserted = 0;
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(batch) = batches.get(index) else {
            return Ok(inserted);
        };
        let mut seen = std::collections::HashSet::with_capacity(batch.len());
        let candidates: Vec<&Event> = batch.iter().filter(|e| seen.insert(e.key())).collect();
        let commit_batch = CommitBatch {
            shard,
            candidates: &candidates,
            received: batch.len() as u64,
        };
        let is_new = commit(&store, commit_batch, counted)
            .await
            .context("commit failed")?;
        inserted += is_new.iter().filter(|&&new| new).count() as u64;
    }
}

/// Commits `batch` with its counter row (`Store::commit`) or without (`commit_uncounted`);
/// returns which candidates were new.
async fn commit(
    store: &SharedStore,
    batch: CommitBatch<'_>,
    counted: bool,
) -> Result<Vec<bool>, StoreError> {
    if counted {
        Ok(store.commit(batch).await?.is_new)
    } else {
        store.commit_uncounted(batch).await
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
