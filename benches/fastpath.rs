//! Criterion benchmark of the shard fast path: lookups per second for keys it holds (hits) and
//! for keys it never saw (misses, the common case of new events, answered by the bloom filter),
//! and inserts per second, with a full budget of 1,000,000 keys.
//!
//! Run with `cargo bench --bench fastpath`; `cargo test --all-targets` runs each case once.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use aggregator::actors::fastpath::{KeyBudget, RecentKeys};
use aggregator::event::EventKey;

const KEYS: usize = 1_000_000;
const LOOKUPS: usize = 10_000;

fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{prefix}-{n:08}")).collect()
}

fn key<'a>(topic: &'a str, event_id: &'a str) -> EventKey<'a> {
    EventKey { topic, event_id }
}

fn full_fast_path(stored: &[String]) -> RecentKeys {
    let mut recent = RecentKeys::new(KeyBudget::new(KEYS), None);
    for id in stored {
        recent.insert(key("orders", id));
    }
    recent
}

fn lookups(c: &mut Criterion) {
    let stored = ids("stored", KEYS);
    let recent = full_fast_path(&stored);
    let hits: Vec<&String> = stored.iter().rev().step_by(37).take(LOOKUPS).collect();
    let misses = ids("never", LOOKUPS);

    let mut group = c.benchmark_group("fastpath");
    group.throughput(Throughput::Elements(LOOKUPS as u64));
    group.bench_function("lookup_hit", |b| {
        b.iter(|| {
            hits.iter()
                .filter(|id| recent.contains(key("orders", id)))
                .count()
        })
    });
    group.bench_function("lookup_miss", |b| {
        b.iter(|| {
            misses
                .iter()
                .filter(|id| recent.contains(key("orders", id)))
                .count()
        })
    });
    group.bench_function("insert", |b| {
        let fresh = ids("fresh", LOOKUPS);
        b.iter_batched(
            || RecentKeys::new(KeyBudget::new(KEYS), None),
            |mut recent| {
                for id in &fresh {
                    recent.insert(key("orders", id));
                }
                black_box(recent.len())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
