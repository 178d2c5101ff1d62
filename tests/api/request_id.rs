//! Request ids: a client's `x-request-id` is kept and echoed, a missing one is generated.

use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::spawn_app;

const HEADER: &str = aggregator::http::REQUEST_ID_HEADER;

/// Proves a client-supplied request id comes back unchanged, on success and on errors alike.
#[tokio::test]
async fn a_request_id_sent_by_the_client_is_echoed() {
    let app = spawn_app().await;
    for (path, expected) in [
        ("/health", StatusCode::OK),
        ("/nope", StatusCode::NOT_FOUND),
    ] {
        let response = app
            .client
            .get(app.url(path))
            .header(HEADER, "client-chosen-id-42")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{path}");
        assert_eq!(response.headers()[HEADER], "client-chosen-id-42", "{path}");
    }
}

/// Proves a request without an id gets a fresh UUID in the answer, different every time.
#[tokio::test]
async fn a_missing_request_id_is_generated() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = app.client.post(app.url("/publish")).send().await.unwrap();
        let id = response.headers()[HEADER].to_str().unwrap().to_owned();
        ids.push(id);
    }

    // Assert
    for id in &ids {
        Uuid::parse_str(id).unwrap_or_else(|err| panic!("{id:?} is not a UUID: {err}"));
    }
    assert_ne!(ids[0], ids[1]);
}
