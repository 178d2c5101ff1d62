//! The publisher against servers: a test double that acknowledges everything but under-reports
//! `/stats` (verification must fail), a double that answers 503 now and then (retries must
//! not break verification), and the real app on PostgreSQL (verification must pass).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use aggregator::client::verify::Mismatch;
use aggregator::client::workload::WorkloadOptions;
use aggregator::client::{self, PublishConfig, VerificationError};

#[path = "common/mod.rs"]
mod common;

use common::app::{start_app, test_config, RunningApp};
use common::db::TestDb;

/// A fake aggregator: dedups honestly, can lie in `/stats` and can refuse some requests.
#[derive(Default)]
struct Double {
    seen: Mutex<HashSet<(String, String)>>,
    received: AtomicU64,
    unique: AtomicU64,
    requests: AtomicU64,
    /// `/stats` reports this many fewer unique events than were stored.
    under_report: u64,
    /// Every n-th publish gets a 503 (0: never).
    unavailable_every: u64,
}

async fn double_publish(State(double): State<Arc<Double>>, Json(body): Json<Value>) -> Response {
    let request = double.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if double.unavailable_every > 0 && request % double.unavailable_every == 0 {
        let headers = [(header::RETRY_AFTER, "0")];
        return (StatusCode::SERVICE_UNAVAILABLE, headers, "busy").into_response();
    }
    let events = match body {
        Value::Array(events) => events,
        Value::Object(mut object) if object.contains_key("events") => match object.remove("events")
        {
            Some(Value::Array(events)) => events,
            _ => return StatusCode::BAD_REQUEST.into_response(),
        },
        single => vec![single],
    };
    let mut seen = double.seen.lock().unwrap();
    let mut results = Vec::new();
    for event in &events {
        let key = (
            event["topic"].as_str().unwrap().to_string(),
            event["event_id"].as_str().unwrap().to_string(),
        );
        let outcome = if seen.insert(key.clone()) {
            "new"
        } else {
            "duplicate"
        };
        results.push(json!({"topic": key.0, "event_id": key.1, "outcome": outcome}));
    }
    let new = results.iter().filter(|r| r["outcome"] == "new").count() as u64;
    double
        .received
        .fetch_add(events.len() as u64, Ordering::SeqCst);
    double.unique.fetch_add(new, Ordering::SeqCst);
    Json(json!({
        "status": "accepted", "received": events.len(), "unique_processed": new,
        "duplicate_dropped": events.len() as u64 - new, "results": results,
    }))
    .into_response()
}

async fn double_stats(State(double): State<Arc<Double>>) -> Json<Value> {
    let received = double.received.load(Ordering::SeqCst);
    let unique = double.unique.load(Ordering::SeqCst);
    let reported_unique = unique.saturating_sub(double.under_report);
    Json(json!({
        "received": received, "unique_processed": reported_unique,
        "duplicate_dropped": received - reported_unique, "topics": [], "uptime_seconds": 1.0,
        "shards": [],
    }))
}

async fn spawn_double(double: Double) -> SocketAddr {
    let router = Router::new()
        .route("/publish", post(double_publish))
        .route("/stats", get(double_stats))
        .with_state(Arc::new(double));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

fn args_for(address: SocketAddr, events: u64, batch_size: usize) -> PublishConfig {
    PublishConfig {
        url: format!("http://{address}"),
        workload: WorkloadOptions {
            events,
            batch_size,
            ..WorkloadOptions::default()
        },
        concurrency: 8,
        retry_for: std::time::Duration::from_secs(10),
        ..PublishConfig::default()
    }
}

#[tokio::test]
async fn a_server_that_under_reports_unique_events_fails_verification() {
    let address = spawn_double(Double {
        under_report: 1,
        ..Double::default()
    })
    .await;

    let err = client::run(args_for(address, 1_000, 10)).await.unwrap_err();

    let verification = err
        .downcast_ref::<VerificationError>()
        .expect("a verification error");
    assert!(
        verification.mismatches.iter().any(|m| matches!(
            m,
            Mismatch::UniqueDelta {
                actual: 799,
                expected: 800
            }
        )),
        "{verification}"
    );
}

#[tokio::test]
async fn an_honest_server_that_sometimes_answers_503_is_verified_after_retries() {
    let address = spawn_double(Double {
        unavailable_every: 4,
        ..Double::default()
    })
    .await;

    let report = client::run(args_for(address, 2_000, 20)).await.unwrap();

    assert!(report.verified, "{report}");
    assert!(report.retries >= 20, "{report}");
    assert_eq!(
        (report.sent, report.distinct, report.failures),
        (2_000, 1_600, 0)
    );
}

#[tokio::test]
async fn a_server_that_refuses_requests_fails_the_run_without_retrying_forever() {
    let router = Router::new()
        .route(
            "/publish",
            post(|| async { (StatusCode::UNPROCESSABLE_ENTITY, "no") }),
        )
        .route(
            "/stats",
            get(|| async {
                Json(json!({"received": 0, "unique_processed": 0, "duplicate_dropped": 0}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let err = client::run(args_for(address, 100, 10)).await.unwrap_err();

    assert!(format!("{err:#}").contains("422"), "{err:#}");
}

// --- the real app on PostgreSQL -------------------------------------------------------------

/// The real app on a fresh PostgreSQL database, port 0.
async fn spawn_app() -> RunningApp {
    start_app(test_config(&TestDb::create().await.url)).await
}

#[tokio::test]
async fn the_real_app_is_verified_with_single_batched_and_mixed_requests() {
    let app = spawn_app().await;

    let singles = client::run(PublishConfig {
        concurrency: 32,
        ..args_for(app.address, 2_000, 1)
    })
    .await
    .unwrap();
    let batched = client::run(args_for(app.address, 3_000, 250))
        .await
        .unwrap();
    let mut mixed = args_for(app.address, 2_000, 50);
    mixed.workload.mixed = true;
    let mixed = client::run(mixed).await.unwrap();

    for report in [&singles, &batched, &mixed] {
        assert!(report.verified, "{report}");
        assert_eq!(report.failures, 0);
        assert_eq!(report.outcomes.new, report.distinct, "{report}");
    }
    assert_eq!(
        (singles.sent, singles.distinct, singles.requests),
        (2_000, 1_600, 2_000)
    );
    assert_eq!(
        (batched.sent, batched.distinct, batched.requests),
        (3_000, 2_400, 12)
    );
    let after = mixed.stats_after.unwrap();
    assert_eq!(after.unique_processed, 1_600 + 2_400 + 1_600);
    app.stop().await;
}

#[tokio::test]
async fn a_second_run_with_the_same_seed_sends_only_duplicates() {
    let app = spawn_app().await;
    let mut seeded = args_for(app.address, 1_000, 25);
    seeded.workload.seed = Some(4242);

    let first = client::run(seeded.clone()).await.unwrap();
    let unverified_replay = client::run(seeded.clone()).await.unwrap_err();
    let replay = client::run(PublishConfig {
        replay: true,
        ..seeded
    })
    .await
    .unwrap();

    assert_eq!(first.run_id, replay.run_id);
    assert_eq!(first.outcomes.new, 800);
    assert!(
        unverified_replay
            .downcast_ref::<VerificationError>()
            .is_some(),
        "{unverified_replay:#}"
    );
    assert!(replay.verified, "{replay}");
    assert_eq!((replay.outcomes.new, replay.outcomes.duplicate), (0, 1_000));
    app.stop().await;
}
