//! Loading the console: no error nor Content Security Policy violation in the browser, the
//! headers that make it safe and cheap to load again (`Content-Security-Policy`, `ETag` and
//! `304`), the redirect of a browser asking for `/`, and what a first load costs on the wire.

use chrono::Utc;
use reqwest::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_SECURITY_POLICY, ETAG, IF_NONE_MATCH};
use reqwest::{redirect, StatusCode};
use serde_json::Value;

use crate::browser::Browser;
use crate::data::mixed_events;
use crate::server::Server;

/// The most a first load of the console may transfer: the page and every file it loads.
const FIRST_LOAD_BUDGET_BYTES: u64 = 300_000;

/// `url` answers 200 with a CSP limited to its own origin and an `ETag`, and the same request
/// with `If-None-Match` answers 304.
async fn assert_strict_and_revalidated(http: &reqwest::Client, url: &str) {
    let first = http.get(url).send().await.expect("the console answers");
    assert_eq!(first.status(), StatusCode::OK, "GET {url}");
    let header = |name| {
        first
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let policy = header(CONTENT_SECURITY_POLICY).unwrap_or_default();
    assert!(
        policy.contains("default-src 'self'"),
        "GET {url}: Content-Security-Policy is {policy:?}"
    );
    let etag = header(ETAG).unwrap_or_else(|| panic!("GET {url} has no ETag"));

    let second = http
        .get(url)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("the console answers");
    assert_eq!(
        second.status(),
        StatusCode::NOT_MODIFIED,
        "GET {url} with If-None-Match {etag}"
    );
}

#[tokio::test]
async fn page_loads_without_console_errors_or_csp_violations() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run(
            "page_loads_without_console_errors_or_csp_violations",
            async {
                // Arrange
                let server = Server::start().await;
                server.publish(&mixed_events(30, Utc::now())).await;
                let http = reqwest::Client::builder()
                    .redirect(redirect::Policy::none())
                    .build()
                    .expect("an HTTP client");

                // Act
                browser.open_console(&server.url("/ui?range=1h")).await;

                // Assert: the browser saw no error, the page shows none.
                browser.assert_clean_log().await;
                assert_eq!(browser.error_shown().await, None, "#error after loading");
                assert!(
                    !browser.rows().await.is_empty(),
                    "the last hour's events are listed"
                );

                // Assert: the page and a file it loads are strict and revalidated.
                assert_strict_and_revalidated(&http, &server.url("/ui")).await;
                assert_strict_and_revalidated(&http, &server.url("/ui/console.css")).await;

                // Assert: a browser asking for `/` goes to the console; a shipper still gets JSON.
                let browsing = http
                    .get(server.url("/"))
                    .header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
                    .send()
                    .await
                    .expect("/ answers");
                assert_eq!(
                    browsing.status(),
                    StatusCode::SEE_OTHER,
                    "GET / as a browser"
                );
                let location = browsing
                    .headers()
                    .get("location")
                    .and_then(|value| value.to_str().ok());
                assert_eq!(location, Some("/ui"), "GET / as a browser");
                let probing = http.get(server.url("/")).send().await.expect("/ answers");
                assert_eq!(probing.status(), StatusCode::OK, "GET / as a shipper");
                let elastic: Value = probing.json().await.expect("GET / answers JSON");
                assert!(
                    elastic["version"]["number"].is_string(),
                    "GET / answers Elasticsearch's root document: {elastic}"
                );
            },
        )
        .await;
}

#[tokio::test]
async fn first_load_transfers_at_most_300_kb() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run("first_load_transfers_at_most_300_kb", async {
            // Arrange
            let server = Server::start().await;
            let http = reqwest::Client::new();

            // Act: a first load in a fresh profile (nothing cached).
            browser.open_console(&server.url("/ui")).await;
            let script = "const console = location.origin + '/ui';
                return [...performance.getEntriesByType('navigation'),
                        ...performance.getEntriesByType('resource')]
                    .filter(entry => entry.name.startsWith(console))
                    .map(entry => [entry.name, entry.transferSize]);";
            let loaded = browser.js(script, Vec::new()).await;

            // Assert: what the browser says it transferred for the console's own files.
            let loaded: Vec<(String, u64)> = loaded
                .as_array()
                .expect("a list of loads")
                .iter()
                .map(|entry| {
                    let url = entry[0].as_str().unwrap_or_default().to_owned();
                    (url, entry[1].as_f64().unwrap_or_default() as u64)
                })
                .collect();
            assert!(
                loaded.iter().any(|(url, _)| url.ends_with(".js")),
                "the console loads its scripts from /ui: {loaded:?}"
            );
            let browser_total: u64 = loaded.iter().map(|(_, bytes)| bytes).sum();
            assert!(
                browser_total <= FIRST_LOAD_BUDGET_BYTES,
                "the browser transferred {browser_total} bytes for the console: {loaded:?}"
            );

            // Assert: the same files fetched with gzip accepted, body bytes as sent.
            let mut wire_total = 0;
            let mut sizes = Vec::new();
            for (url, _) in &loaded {
                let response = http
                    .get(url)
                    .header(ACCEPT_ENCODING, "gzip")
                    .send()
                    .await
                    .expect("the console's file answers");
                assert_eq!(response.status(), StatusCode::OK, "GET {url}");
                // reqwest is built without its gzip feature: these are the bytes on the wire.
                let body = response.bytes().await.expect("the body arrives");
                wire_total += body.len() as u64;
                sizes.push((url.clone(), body.len()));
            }
            assert!(
                wire_total <= FIRST_LOAD_BUDGET_BYTES,
                "the console's files are {wire_total} bytes compressed: {sizes:?}"
            );
        })
        .await;
}
