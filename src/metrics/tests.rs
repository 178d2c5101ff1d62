//! Unit tests of the metrics registry: families, isolation between apps, histogram buckets.

use std::time::Duration;

use super::registry::*;

#[test]
fn every_family_is_listed_before_anything_is_recorded() {
    let metrics = Metrics::new(2);
    let text = metrics.render();
    for name in [
        EVENTS_RECEIVED,
        EVENTS_NEW,
        EVENTS_DUPLICATE,
        FASTPATH_HITS,
        SHARD_INFLIGHT,
        SHARD_RESTARTS,
    ] {
        assert!(
            text.contains(&format!("{name}{{shard=\"1\"}} 0")),
            "{name}:\n{text}"
        );
    }
    assert!(
        text.contains(&format!("{STORE_ERRORS}{{op=\"ping\"}} 0")),
        "{text}"
    );
}

#[test]
fn two_registries_do_not_share_figures() {
    let one = Metrics::new(1);
    let other = Metrics::new(1);
    one.events_answered(0, 3, 2);
    assert!(one
        .render()
        .contains("aggregator_events_duplicate_total{shard=\"0\"} 1"));
    assert!(other
        .render()
        .contains("aggregator_events_received_total{shard=\"0\"} 0"));
}

#[test]
fn latencies_are_histograms_with_buckets() {
    let metrics = Metrics::new(1);
    metrics.publish_answered(Duration::from_millis(3));
    metrics.commit_finished(10, Duration::from_millis(1));
    let text = metrics.render();
    assert!(
        text.contains(&format!("{PUBLISH_DURATION}_bucket{{le=\"0.005\"}} 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{COMMIT_BATCH_EVENTS}_bucket{{le=\"10\"}} 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{COMMIT_DURATION}_count 1")),
        "{text}"
    );
}
