//! `GET /metrics`: the listed families are exposed, and their values move by exactly what this
//! app did. Every app has its own registry (nothing is installed process-wide), so the figures
//! of the other tests running in this process never show up here and deltas are exact.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ApiApp, TestApp};

/// Every family the service promises, with its type.
const FAMILIES: &[(&str, &str)] = &[
    ("aggregator_events_received_total", "counter"),
    ("aggregator_events_new_total", "counter"),
    ("aggregator_events_duplicate_total", "counter"),
    ("aggregator_fastpath_hits_total", "counter"),
    ("aggregator_shard_inflight_events", "gauge"),
    ("aggregator_shard_restarts_total", "counter"),
    ("aggregator_store_errors_total", "counter"),
    ("aggregator_http_responses_total", "counter"),
    ("aggregator_publish_request_duration_seconds", "histogram"),
    ("aggregator_commit_batch_events", "histogram"),
    ("aggregator_commit_duration_seconds", "histogram"),
];

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// Sum of every sample of `name` whose labels contain `label` (all samples when empty).
fn sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let series_name = series.split('{').next()?;
            (series_name == name && series.contains(label)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// Proves every listed family is exposed with its type, before any traffic.
#[tokio::test]
async fn metrics_expose_every_listed_family() {
    // Arrange
    let app = spawn_app().await;
    app.get("/health").await;

    // Act
    let text = scrape(&app).await;

    // Assert
    for (name, kind) in FAMILIES {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}:\n{text}"
        );
    }
    let shards = app.config.tree.shards;
    for shard in 0..shards {
        let series = format!("aggregator_events_received_total{{shard=\"{shard}\"}} 0");
        assert!(text.contains(&series), "{series}:\n{text}");
    }
    assert!(!text.contains("topic="), "topics are never labels:\n{text}");
}

/// Proves publishing moves the event counters by exactly the new and duplicate counts, and the
/// publish, commit and response figures along with them.
#[tokio::test]
async fn publishing_moves_the_event_counters_by_exactly_what_was_published() {
    // Arrange: 30 distinct events over 3 topics, then 10 of them again.
    let app = spawn_app().await;
    let fresh: Vec<Value> = (0..30)
        .map(|i| app.event(&format!("metrics-{}", i % 3), &format!("evt-{i}")))
        .collect();
    let repeats: Vec<Value> = fresh[..10].to_vec();
    let before = scrape(&app).await;

    // Act
    app.publish_ok(&json!({ "events": fresh })).await;
    app.publish_ok(&json!({ "events": repeats })).await;
    let (status, _) = app.publish(&json!({"events": []})).await;
    let after = scrape(&app).await;

    // Assert
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let delta = |name: &str, label: &str| sum(&after, name, label) - sum(&before, name, label);
    assert_eq!(
        delta("aggregator_events_received_total", ""),
        40.0,
        "{after}"
    );
    assert_eq!(delta("aggregator_events_new_total", ""), 30.0, "{after}");
    assert_eq!(
        delta("aggregator_events_duplicate_total", ""),
        10.0,
        "{after}"
    );
    assert_eq!(
        delta("aggregator_publish_request_duration_seconds_count", ""),
        3.0
    );
    // Two publishes, and the first scrape, counted once it was answered.
    assert_eq!(
        delta("aggregator_http_responses_total", "status=\"200\""),
        3.0
    );
    assert_eq!(
        delta("aggregator_http_responses_total", "status=\"422\""),
        1.0
    );
    assert!(
        delta("aggregator_commit_duration_seconds_count", "") >= 1.0,
        "{after}"
    );
    assert_eq!(
        delta("aggregator_commit_batch_events_sum", ""),
        40.0,
        "{after}"
    );
    assert_eq!(sum(&after, "aggregator_shard_inflight_events", ""), 0.0);
    assert_eq!(sum(&after, "aggregator_store_errors_total", ""), 0.0);
}

/// Proves the per-shard counters agree with `/stats` shard by shard.
#[tokio::test]
async fn per_shard_counters_match_the_stats_of_each_shard() {
    // Arrange
    let app = spawn_app().await;
    let events: Vec<Value> = (0..40)
        .map(|i| app.event(&format!("topic-{i}"), "same-id"))
        .collect();
    app.publish_ok(&json!({ "events": events })).await;

    // Act
    let text = scrape(&app).await;
    let stats = app.stats().await;

    // Assert
    for shard in &stats.shards {
        let label = format!("shard=\"{}\"", shard.shard);
        let received = sum(&text, "aggregator_events_received_total", &label);
        assert_eq!(received, shard.received as f64, "{label}");
        let new = sum(&text, "aggregator_events_new_total", &label);
        assert_eq!(new, shard.unique_processed as f64, "{label}");
    }
}

/// Proves fast-path hits are counted: a re-sent batch moves `aggregator_fastpath_hits_total`
/// by its size, and the per-shard figures of `/stats` agree.
#[tokio::test]
async fn fast_path_hits_are_counted_in_metrics() {
    // Arrange
    let app = spawn_app().await;
    let events: Vec<Value> = (0..30)
        .map(|n| app.event(&format!("topic-{}", n % 7), &format!("evt-{n}")))
        .collect();
    let batch = json!({ "events": events });
    app.publish_ok(&batch).await;
    let before = sum(&scrape(&app).await, "aggregator_fastpath_hits_total", "");

    // Act
    app.publish_ok(&batch).await;

    // Assert
    let after = sum(&scrape(&app).await, "aggregator_fastpath_hits_total", "");
    assert_eq!(after - before, 30.0);
    let stats = app.stats().await;
    let from_stats: u64 = stats.shards.iter().map(|shard| shard.fastpath_hits).sum();
    assert_eq!(from_stats, 30);
}
