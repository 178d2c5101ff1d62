//! `aggregator publish`: one [`Stream`] with a progress display, and the server's counting
//! checked around it. [`run`] reads `/stats`, sends the stream, reads `/stats` again,
//! [`verify`](super::verify)s the deltas and prints a [`Report`].

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use super::config::PublishConfig;
use super::http::Client;
use super::progress::Progress;
use super::report::{self, Report};
use super::retry::RetryPolicy;
use super::stats::ServerCounters;
use super::stream::{Stream, StreamConfig, StreamReport};
use super::verify::{self, Mismatch, RunFacts, VerificationError};

/// How long to wait for counters to settle when an uncertain attempt may still commit.
const SETTLE_DEADLINE: Duration = Duration::from_secs(3);
/// Pause between `/stats` reads while settling.
const SETTLE_POLL: Duration = Duration::from_millis(100);

/// Runs one publish: prints the report (and, with `--json`, a JSON line last) and returns it.
/// Fails when a request fails for good or when verification finds a mismatch; the error of the
/// latter is a [`VerificationError`].
pub async fn run(config: PublishConfig) -> anyhow::Result<Report> {
    let spec = config.workload.spec('r');
    let expected_new = match config.replay {
        true => 0,
        false => spec.planned_distinct(),
    };
    let retry = RetryPolicy::within(config.retry_for);
    let client = Client::new(&config.url, config.request_timeout, retry, &config.access)
        .context("failed to set up the http client")?;
    let before = match config.no_verify {
        true => None,
        false => Some(
            read_counters(&client)
                .await
                .context("failed to read /stats before the run")?,
        ),
    };

    let stream_config = StreamConfig {
        concurrency: config.concurrency,
        rate: config.rate,
        retry,
        request_timeout: config.request_timeout,
        stop_on_failure: true,
        access: config.access.clone(),
        ..StreamConfig::default()
    };
    let stream = Stream::start(&config.url, spec.clone(), stream_config)
        .context("failed to set up the http client")?;
    let progress = Progress::start(spec.events, stream.live_counters());
    let finished = stream.finish().await;
    progress.finish().await;
    let stream = finished.context("the stream broke off")?;

    let facts = run_facts(&stream, expected_new);
    let (after, mismatches) = match before {
        Some(before) => {
            let (after, mismatches) = settle(&client, before, &facts).await?;
            (Some(after), mismatches)
        }
        None => (None, Vec::new()),
    };
    let report = build_report(&config, &stream, before, after, &mismatches);
    print!("{report}");
    if config.json {
        println!("{}", report.to_json_line());
    }
    if let Some(failure) = stream.tally.first_failure {
        return Err(anyhow!(failure).context("publishing failed"));
    }
    if !mismatches.is_empty() {
        if config.workload.seed.is_some() && !config.replay && stream.tally.outcomes.new == 0 {
            eprintln!("hint: every key was already stored; to re-verify a seed, pass --replay");
        }
        return Err(VerificationError { mismatches }.into());
    }
    Ok(report)
}

/// What the publisher itself knows about its run, for verification.
fn run_facts(stream: &StreamReport, expected_new: u64) -> RunFacts {
    RunFacts {
        sent: stream.counts.acked_events,
        expected_new,
        uncertain_events: stream.tally.uncertain_events,
        failures: stream.counts.failed_batches,
        reported_new: stream.tally.outcomes.new,
        keys_reported_new_twice: stream.ledger.new_twice,
        mismatched_answers: stream.counts.mismatched_answers,
    }
}

fn build_report(
    config: &PublishConfig,
    stream: &StreamReport,
    before: Option<ServerCounters>,
    after: Option<ServerCounters>,
    mismatches: &[Mismatch],
) -> Report {
    let counts = &stream.counts;
    let elapsed = stream.elapsed.as_secs_f64();
    Report {
        url: config.url.clone(),
        seed: stream.spec.seed,
        run_id: stream.spec.run_id.clone(),
        sent: counts.acked_events,
        distinct: stream.ledger.distinct_acked(),
        duplicates_sent: stream.tally.duplicates_sent,
        requests: counts.ok_responses,
        retries: counts.retries,
        failures: counts.failed_batches,
        elapsed_seconds: elapsed,
        events_per_second: counts.acked_events as f64 / elapsed.max(1e-9),
        latency_ms: stream.tally.latencies.summary(),
        peak_rss_mib: report::peak_rss_mib(),
        outcomes: stream.tally.outcomes,
        stats_before: before,
        stats_after: after,
        verified: before.is_some() && mismatches.is_empty(),
        mismatches: mismatches.iter().map(ToString::to_string).collect(),
    }
}

/// Reads `/stats` after the run until it matches, for at most a few seconds: a transiently
/// failed attempt may still commit after its retry was answered (a 503 on an ingest timeout,
/// for one), and behind a load balancer `/stats` comes from whichever instance answers, each
/// up to about a second behind the others' commits. A mismatch is believed only once it lasts.
async fn settle(
    client: &Client,
    before: ServerCounters,
    facts: &RunFacts,
) -> anyhow::Result<(ServerCounters, Vec<Mismatch>)> {
    let deadline = Instant::now() + SETTLE_DEADLINE;
    loop {
        let after = read_counters(client)
            .await
            .context("failed to read /stats after the run")?;
        let mismatches = verify::verify(before, after, facts);
        if mismatches.is_empty() || Instant::now() >= deadline {
            return Ok((after, mismatches));
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

async fn read_counters(client: &Client) -> anyhow::Result<ServerCounters> {
    Ok(client.stats().await?.counters())
}
