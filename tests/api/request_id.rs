//! Request ids: a client's `x-request-id` is kept and echoed, a missing one is generated.

use reqwest::StatusCode;

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

/// Proves a request without an id gets a generated one in the answer (`<process prefix>-<n>`),
/// different every time, and that two app processes do not share a prefix.
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
    let prefix = |id: &str| id.rsplit_once('-').expect("<prefix>-<n>").0.to_owned();
    for id in &ids {
        let (head, sequence) = id.rsplit_once('-').expect("<prefix>-<n>");
        assert_eq!(head.len(), 12, "{id:?}");
        assert!(head.chars().all(|c| c.is_ascii_hexdigit()), "{id:?}");
        sequence
            .parse::<u64>()
            .unwrap_or_else(|err| panic!("{id:?}: {err}"));
    }
    assert_ne!(ids[0], ids[1]);
    let other_app = spawn_app().await;
    let other = other_app
        .client
        .post(other_app.url("/publish"))
        .send()
        .await
        .unwrap();
    let other_id = other.headers()[HEADER].to_str().unwrap().to_owned();
    assert_ne!(prefix(&other_id), prefix(&ids[0]));
}
