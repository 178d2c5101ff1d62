//! The final report of a publish run: counts, throughput, latency percentiles, the publisher's
//! own peak memory, and the verification verdict; printed for people or as one JSON line.
//!
//! Latencies are recorded per logical request (from the first attempt to the accepted answer,
//! retries and backoff included: what a producer experiences) in an HDR histogram with
//! microsecond precision, and printed in milliseconds.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::stats::ServerCounters;

/// Highest latency the histogram tracks exactly (one hour, in microseconds); larger values are
/// recorded as this.
const MAX_TRACKED_MICROS: u64 = 3_600_000_000;

/// Request latencies, mergeable across workers.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty recorder.
    pub fn new() -> Self {
        // Three significant figures over 1 µs .. 1 h: about 200 KiB.
        // cannot fail: constant bounds with low >= 1, high >= 2 * low and a precision of 3
        let histogram =
            Histogram::new_with_bounds(1, MAX_TRACKED_MICROS, 3).expect("valid histogram bounds");
        Self { histogram }
    }

    /// Records one request.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
    }

    /// Adds another worker's latencies.
    pub fn merge(&mut self, other: &Latencies) {
        // Both histograms share the same bounds, so adding cannot fail.
        if self.histogram.add(&other.histogram).is_err() {
            debug_assert!(false, "histograms with different bounds");
        }
    }

    /// Number of requests recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// p50 / p90 / p99 / max, in milliseconds (zeros when nothing was recorded).
    pub fn summary(&self) -> LatencySummary {
        if self.histogram.is_empty() {
            return LatencySummary::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            p50: ms(self.histogram.value_at_quantile(0.50)),
            p90: ms(self.histogram.value_at_quantile(0.90)),
            p99: ms(self.histogram.value_at_quantile(0.99)),
            max: ms(self.histogram.max()),
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest request.
    pub max: f64,
}

/// What the server said about the events, summed over every accepted answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    /// Events reported `new`.
    pub new: u64,
    /// Events reported `duplicate`.
    pub duplicate: u64,
}

/// Everything a run measured and concluded.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The aggregator's URL.
    pub url: String,
    /// The seed of the stream (pass it as `--seed` to replay the same keys).
    pub seed: u64,
    /// Prefix of every event id of the run.
    pub run_id: String,
    /// Events acknowledged by the server, duplicates included.
    pub sent: u64,
    /// Distinct keys among them.
    pub distinct: u64,
    /// Re-sent events.
    pub duplicates_sent: u64,
    /// Requests acknowledged.
    pub requests: u64,
    /// Extra attempts made because an attempt failed transiently.
    pub retries: u64,
    /// Requests that never got an answer within the retry budget, or were refused.
    pub failures: u64,
    /// Wall time of the stream, `/stats` reads excluded.
    pub elapsed_seconds: f64,
    /// `sent / elapsed_seconds`.
    pub events_per_second: f64,
    /// Per-request latency percentiles.
    pub latency_ms: LatencySummary,
    /// The publisher's own peak resident memory, from `/proc/self/status` (Linux only).
    pub peak_rss_mib: Option<f64>,
    /// Outcomes the server reported per event.
    pub outcomes: OutcomeCounts,
    /// `/stats` counters before the run (absent with `--no-verify`).
    pub stats_before: Option<ServerCounters>,
    /// `/stats` counters after the run.
    pub stats_after: Option<ServerCounters>,
    /// `true` when every check passed.
    pub verified: bool,
    /// What did not add up (empty when verified or not checked).
    pub mismatches: Vec<String>,
}

impl Report {
    /// The report as one line of JSON.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|err| format!(r#"{{"error":"{err}"}}"#))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency_ms;
        writeln!(
            f,
            "publish report for {} (seed {}, run {})",
            self.url, self.seed, self.run_id
        )?;
        writeln!(f, "  events sent       {}", self.sent)?;
        writeln!(f, "  distinct keys     {}", self.distinct)?;
        writeln!(f, "  duplicates sent   {}", self.duplicates_sent)?;
        writeln!(f, "  requests          {}", self.requests)?;
        writeln!(f, "  retries           {}", self.retries)?;
        writeln!(f, "  failures          {}", self.failures)?;
        writeln!(f, "  elapsed           {:.2} s", self.elapsed_seconds)?;
        writeln!(
            f,
            "  throughput        {:.0} events/s",
            self.events_per_second
        )?;
        writeln!(
            f,
            "  latency (ms)      p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            l.p50, l.p90, l.p99, l.max
        )?;
        match self.peak_rss_mib {
            Some(mib) => writeln!(f, "  publisher rss     {mib:.1} MiB peak")?,
            None => writeln!(f, "  publisher rss     unknown")?,
        }
        writeln!(
            f,
            "  server outcomes   {} new, {} duplicate",
            self.outcomes.new, self.outcomes.duplicate
        )?;
        if let (Some(before), Some(after)) = (self.stats_before, self.stats_after) {
            writeln!(
                f,
                "  /stats delta      received +{}, unique_processed +{}, duplicate_dropped +{}",
                after.received.saturating_sub(before.received),
                after
                    .unique_processed
                    .saturating_sub(before.unique_processed),
                after
                    .duplicate_dropped
                    .saturating_sub(before.duplicate_dropped),
            )?;
        }
        match (self.verified, self.stats_before.is_some()) {
            (true, _) => writeln!(f, "  verified          yes: the server's counts match"),
            (false, false) => writeln!(f, "  verified          not checked (--no-verify)"),
            (false, true) => {
                writeln!(f, "  verified          NO")?;
                for mismatch in &self.mismatches {
                    writeln!(f, "    - {mismatch}")?;
                }
                Ok(())
            }
        }
    }
}

/// Peak resident set size of this process in MiB (`VmHWM`), where the OS tells it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm_kib(&status).map(|kib| kib as f64 / 1024.0)
}

fn parse_vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution_are_right_to_three_figures() {
        let mut latencies = Latencies::new();
        for millis in 1..=1000u64 {
            latencies.record(Duration::from_millis(millis));
        }
        let summary = latencies.summary();
        let close = |actual: f64, expected: f64| (actual - expected).abs() <= expected * 0.001;
        assert!(close(summary.p50, 500.0), "{summary:?}");
        assert!(close(summary.p90, 900.0), "{summary:?}");
        assert!(close(summary.p99, 990.0), "{summary:?}");
        assert!(close(summary.max, 1000.0), "{summary:?}");
    }

    #[test]
    fn merged_workers_count_every_request_and_keep_microseconds() {
        let mut first = Latencies::new();
        let mut second = Latencies::new();
        first.record(Duration::from_micros(250));
        second.record(Duration::from_micros(750));
        second.record(Duration::from_secs(7200)); // beyond the tracked range: saturates
        first.merge(&second);
        assert_eq!(first.count(), 3);
        assert_eq!(first.summary().p50, 0.75);
        assert!(first.summary().max >= 3_599_000.0);
    }

    #[test]
    fn an_empty_run_reports_zero_latency() {
        assert_eq!(Latencies::new().summary(), LatencySummary::default());
    }

    #[test]
    fn vm_hwm_is_read_from_proc_status() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(parse_vm_hwm_kib(status), Some(5120));
        assert_eq!(parse_vm_hwm_kib("Name:\tx\n"), None);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mib().is_some_and(|mib| mib > 0.0));
        }
    }

    #[test]
    fn the_json_line_has_the_documented_fields() {
        let report = Report {
            url: "http://x".into(),
            seed: 1,
            run_id: "s1".into(),
            sent: 10,
            distinct: 8,
            duplicates_sent: 2,
            requests: 2,
            retries: 0,
            failures: 0,
            elapsed_seconds: 0.5,
            events_per_second: 20.0,
            latency_ms: LatencySummary::default(),
            peak_rss_mib: Some(10.0),
            outcomes: OutcomeCounts::default(),
            stats_before: None,
            stats_after: None,
            verified: true,
            mismatches: vec![],
        };
        let line = report.to_json_line();
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        for field in [
            "sent",
            "distinct",
            "duplicates_sent",
            "retries",
            "elapsed_seconds",
        ] {
            assert!(value.get(field).is_some(), "{field}");
        }
        for field in ["p50", "p90", "p99", "max"] {
            assert!(value["latency_ms"].get(field).is_some(), "{field}");
        }
        assert_eq!(value["verified"], true);
        assert_eq!(value["events_per_second"], 20.0);
    }
}
