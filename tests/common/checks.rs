//! Assertions on what a stream of the client library reports, shared by the binaries that
//! stream through faults (`tests/fault`, `tests/failover`).

use aggregator::client::StreamReport;

/// No batch was given up, every 200 matched its request, and no request got a 500.
pub fn assert_every_batch_acknowledged_cleanly(report: &StreamReport) {
    let counts = &report.counts;
    assert_eq!(counts.failed_batches, 0, "batches given up");
    assert_eq!(
        counts.mismatched_answers, 0,
        "200s not matching their request"
    );
    assert_eq!(counts.status_500, 0, "500 answers");
}
