//! `aggregator publish`: a load generator that also checks the server's counting.
//!
//! [`run`] reads `/stats`, streams a generated workload (see [`workload`]) through `--concurrency`
//! workers with the retrying [`client`], reads `/stats` again, [`verify`]s the deltas and prints
//! a [`report::Report`]. `aggregator demo` (`demo.rs`) runs it against an in-process server.
//!
//! Event ids are `r<seed as 16 hex digits>-<key index>`. Without `--seed`, the seed is drawn
//! from the clock and the OS's randomness, so every run sends fresh keys; the report prints it.
//! With `--seed`, the keys (and topics, payloads, request shapes) are the same on every run:
//! a second run with the same seed against the same server re-sends only keys the server
//! already holds, so all of them count as duplicates. Pass `--replay` to verify such a run
//! (it then expects `unique_processed` not to move). Timestamps always follow the clock.
//!
//! Verification assumes this publisher is the only one writing to the server during the run;
//! use `--no-verify` on a shared server.

pub mod config;
pub mod http;
pub mod progress;
pub mod report;
pub mod verify;
pub mod worker;
pub mod workload;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

pub use config::PublishConfig;
pub use report::Report;
pub use verify::VerificationError;

use http::{Client, ServerCounters};
use progress::Progress;
use verify::RunFacts;
use worker::{KeyLedger, Pacer, Shared, Tally};
use workload::Workload;

/// How long to wait for counters to settle when an uncertain attempt may still commit.
const SETTLE_DEADLINE: Duration = Duration::from_secs(3);
/// Pause between `/stats` reads while settling.
const SETTLE_POLL: Duration = Duration::from_millis(100);

/// Runs one publish: prints the report (and, with `--json`, a JSON line last) and returns it.
/// Fails when a request fails for good or when verification finds a mismatch; the error of the
/// latter is a [`VerificationError`].
pub async fn run(config: PublishConfig) -> anyhow::Result<Report> {
    let spec = config.workload.spec('r');
    let seed = spec.seed;
    let expected_new = if config.replay {
        0
    } else {
        spec.planned_distinct()
    };
    let client = Client::new(&config.url, config.request_timeout, config.retry_for)
        .context("failed to set up the http client")?;
    let before = match config.no_verify {
        true => None,
        false => Some(
            read_counters(&client)
                .await
                .context("failed to read /stats before the run")?,
        ),
    };

    let progress = Progress::start(spec.events);
    let shared = Arc::new(Shared {
        workload: Mutex::new(Workload::new(spec.clone())),
        client: client.clone(),
        pacer: config.rate.map(Pacer::new),
        ledger: Mutex::new(KeyLedger::default()),
        counters: progress.counters(),
        abort: AtomicBool::new(false),
    });
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..config.concurrency {
        workers.spawn(worker::work(shared.clone()));
    }
    let mut tally = Tally::default();
    while let Some(joined) = workers.join_next().await {
        tally.merge(joined.context("a publish worker panicked")?);
    }
    let elapsed = started.elapsed();
    progress.finish().await;

    let (facts, distinct) = {
        let ledger = shared.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        let facts = RunFacts {
            sent: tally.sent,
            expected_new,
            uncertain_events: tally.uncertain_events,
            failures: tally.failures,
            reported_new: tally.outcomes.new,
            keys_reported_new_twice: ledger.new_twice,
            mismatched_answers: tally.mismatched_answers,
        };
        (facts, ledger.distinct_acked())
    };
    let (after, mismatches) = match before {
        Some(before) => {
            let (after, mismatches) = settle(&client, before, &facts).await?;
            (Some(after), mismatches)
        }
        None => (None, Vec::new()),
    };

    let report = Report {
        url: config.url.clone(),
        seed,
        run_id: spec.run_id.clone(),
        sent: tally.sent,
        distinct,
        duplicates_sent: tally.duplicates_sent,
        requests: tally.requests,
        retries: tally.retries,
        failures: tally.failures,
        elapsed_seconds: elapsed.as_secs_f64(),
        events_per_second: tally.sent as f64 / elapsed.as_secs_f64().max(1e-9),
        latency_ms: tally.latencies.summary(),
        peak_rss_mib: report::peak_rss_mib(),
        outcomes: tally.outcomes,
        stats_before: before,
        stats_after: after,
        verified: before.is_some() && mismatches.is_empty(),
        mismatches: mismatches.iter().map(ToString::to_string).collect(),
    };
    print!("{report}");
    if config.json {
        println!("{}", report.to_json_line());
    }
    if let Some(failure) = tally.first_failure {
        return Err(anyhow!(failure).context("publishing failed"));
    }
    if !mismatches.is_empty() {
        if config.workload.seed.is_some() && !config.replay && tally.outcomes.new == 0 {
            eprintln!("hint: every key was already stored; to re-verify a seed, pass --replay");
        }
        return Err(VerificationError { mismatches }.into());
    }
    Ok(report)
}

/// Reads `/stats` after the run. A transiently failed attempt may still commit after its
/// retry was answered (a 503 on an ingest timeout, for one), so when there were such attempts
/// the counters get a few seconds to settle before a mismatch is believed.
async fn settle(
    client: &Client,
    before: ServerCounters,
    facts: &RunFacts,
) -> anyhow::Result<(ServerCounters, Vec<verify::Mismatch>)> {
    let deadline = Instant::now() + SETTLE_DEADLINE;
    loop {
        let after = read_counters(client)
            .await
            .context("failed to read /stats after the run")?;
        let mismatches = verify::verify(before, after, facts);
        if mismatches.is_empty() || facts.uncertain_events == 0 || Instant::now() >= deadline {
            return Ok((after, mismatches));
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

async fn read_counters(client: &Client) -> anyhow::Result<ServerCounters> {
    Ok(client.get::<ServerCounters>("/stats").await?)
}
