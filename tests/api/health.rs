//! `/health`, `/ready` (including while the database is unreachable) and unknown routes.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::db::{postgres_address, url_with_address};
use crate::common::proxy::TcpProxy;
use crate::common::wait::wait_until;
use crate::helpers::{json_response, spawn_app, spawn_app_with, ApiApp};

/// Proves `/health` answers 200 `{"status":"healthy"}`.
#[tokio::test]
async fn health_answers_healthy() {
    let app = spawn_app().await;
    let (status, body) = app.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "healthy"}));
}

/// Proves `/ready` answers 200 `{"status":"ready"}` when the store and every shard are up.
#[tokio::test]
async fn ready_answers_ready_when_the_database_is_reachable() {
    let app = spawn_app().await;
    let (status, body) = app.get("/ready").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ready"}));
}

/// Proves `/ready` turns 503 within the store timeout once the database becomes unreachable
/// (while `/health` stays 200), and turns 200 again by itself once the database is back.
#[tokio::test]
async fn ready_answers_503_while_the_database_is_unreachable_and_recovers() {
    // Arrange
    let proxy = TcpProxy::start(postgres_address()).await;
    let app = spawn_app_with(|config| {
        let direct = config.store.database_url.take().expect("database URL set");
        config.store.database_url = Some(url_with_address(&direct, proxy.address()));
        config.store.timeout = std::time::Duration::from_millis(1000);
    })
    .await;
    assert_eq!(app.get("/ready").await.0, StatusCode::OK);
    assert!(
        proxy.accepted_connections() > 0,
        "the app does not go through the proxy"
    );

    // Act
    proxy.cut().await;
    let asked = Instant::now();
    let (status, body) = app.get("/ready").await;
    let took = asked.elapsed();

    // Assert
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert!(body["reason"].is_string(), "{body}");
    assert!(
        took < Duration::from_millis(1000 + 500),
        "readiness took {took:?}"
    );
    assert_eq!(app.get("/health").await.0, StatusCode::OK);

    proxy.restore().await;
    let recovered = wait_until(
        || async { app.get("/ready").await.0 == StatusCode::OK },
        Duration::from_secs(10),
    )
    .await;
    assert!(
        recovered,
        "/ready did not recover after the database came back"
    );
    assert_eq!(app.get("/ready").await.1, json!({"status": "ready"}));
}

/// Proves an unknown path is a 404 with a JSON error body.
#[tokio::test]
async fn an_unknown_route_is_a_404_with_a_json_body() {
    let app = spawn_app().await;
    for path in ["/nope", "/events/extra", "/publish/"] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, json!({"error": "not found"}), "{path}");
    }
}

/// Proves a known path with the wrong method is a 405 with a JSON error body.
#[tokio::test]
async fn a_wrong_method_is_a_405_with_a_json_body() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::GET, "/publish"),
        (reqwest::Method::POST, "/health"),
        (reqwest::Method::DELETE, "/events"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let (status, body) = json_response(response).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(
            body,
            json!({"error": "method not allowed"}),
            "{method} {path}"
        );
    }
}
