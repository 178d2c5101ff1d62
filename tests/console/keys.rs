//! The console with API keys in force: it asks for a key, says so when one is refused, and once
//! signed in with a key limited to `orders.` shows only that key's topics, while the key never
//! appears in the page URL. A key that may publish but not read is signed in too, and the page
//! says in sentences why it shows no events.

use chrono::Utc;

use crate::browser::{Browser, LogEntry};
use crate::data::{iso, mixed_events};
use crate::page::{console_url, SETTLE_TIMEOUT};
use crate::server::{Keys, Server};

/// A well-formed key (`agg_` and 64 hex digits) that no keys file holds.
const WRONG_KEY: &str = "agg_0000000000000000000000000000000000000000000000000000000000000000";

/// Types `key` into `#signin-key` (emptied first) and submits the sign-in form.
async fn sign_in_with(browser: &Browser, key: &str) {
    let input = browser.element("input#signin-key").await;
    input.clear().await.expect("#signin-key can be emptied");
    input
        .send_keys(key)
        .await
        .expect("#signin-key takes the key");
    browser.click("button#signin-submit").await;
}

#[tokio::test]
async fn the_console_signs_in_with_a_key_and_shows_only_its_topics() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run(
            "the_console_signs_in_with_a_key_and_shows_only_its_topics",
            async {
                // Arrange: keys to read `orders.` only, to read everything, to publish.
                let keys = Keys::new();
                let orders_key = keys.add("orders-reader", "read", Some("orders."));
                let read_key = keys.add("everything-reader", "read", None);
                let publish_key = keys.add("publisher", "publish", None);
                let server = Server::start_with_keys(&keys, publish_key, read_key).await;
                let now = Utc::now();
                server.publish(&mixed_events(30, now)).await;
                let since = iso(now - chrono::Duration::minutes(59));
                let everything = server.newest("", &since).await;
                assert!(
                    everything
                        .iter()
                        .any(|event| event["topic"] == "payments.eu"),
                    "events outside orders. exist"
                );

                // Act: no key yet.
                browser.goto(&console_url(&server.base_url, "", "1h")).await;

                // Assert
                browser
                    .wait_for(
                        "document.body.dataset.state === 'signin'",
                        SETTLE_TIMEOUT,
                        "the console asks for a key",
                    )
                    .await;
                assert!(
                    browser
                        .element("form#signin")
                        .await
                        .is_displayed()
                        .await
                        .expect("displayed?"),
                    "form#signin shows"
                );
                let message = browser.text_of("#signin-message").await.unwrap_or_default();
                assert_eq!(
                    message.trim(),
                    "",
                    "#signin-message before any key is tried"
                );

                // Act: a key the server does not know.
                sign_in_with(&browser, WRONG_KEY).await;

                // Assert
                browser
                    .wait_for(
                        "document.getElementById('signin-message')
                         .textContent.includes('not accepted')",
                        SETTLE_TIMEOUT,
                        "#signin-message says the key was not accepted",
                    )
                    .await;
                assert_eq!(
                    browser.attr_of("body", "data-state").await.as_deref(),
                    Some("signin"),
                    "a refused key leaves the console signed out"
                );

                // Act: the key limited to orders.
                sign_in_with(&browser, &orders_key).await;
                browser.wait_settled().await;

                // Assert: the page says which key it uses and shows only that key's topics.
                let access = browser.text_of("#access").await.unwrap_or_default();
                assert!(
                    access.contains("orders-reader") && access.contains("orders."),
                    "#access describes the key: {access:?}"
                );
                let rows = browser.rows().await;
                assert!(!rows.is_empty(), "the orders. events are listed");
                let foreign: Vec<_> = rows
                    .iter()
                    .filter(|row| !row.topic.starts_with("orders."))
                    .collect();
                assert!(foreign.is_empty(), "rows outside orders.: {foreign:?}");
                browser
                    .wait_for(
                        "document.querySelectorAll('table#topics tbody tr[data-topic]').length > 0",
                        SETTLE_TIMEOUT,
                        "#topics lists the key's topics",
                    )
                    .await;
                let topics = browser
                    .js(
                        "return [...document.querySelectorAll('table#topics tbody tr[data-topic]')]
                        .map(row => row.dataset.topic);",
                        Vec::new(),
                    )
                    .await;
                let topics: Vec<&str> = topics
                    .as_array()
                    .expect("a list of topics")
                    .iter()
                    .filter_map(|topic| topic.as_str())
                    .collect();
                assert!(
                    topics.iter().all(|topic| topic.starts_with("orders.")),
                    "#topics lists only orders. topics: {topics:?}"
                );
                let kept = browser
                    .js(
                        "return [JSON.stringify({...sessionStorage}),
                             JSON.stringify({...localStorage}), document.cookie];",
                        Vec::new(),
                    )
                    .await;
                let kept_in = |index: usize| {
                    kept[index]
                        .as_str()
                        .unwrap_or_default()
                        .contains(&orders_key)
                };
                assert!(kept_in(0), "the key is kept in sessionStorage");
                assert!(
                    !kept_in(1) && !kept_in(2),
                    "the key outlives the tab: {kept}"
                );
                let url = browser.url().await;
                assert!(
                    !url.as_str().contains(&orders_key),
                    "the key is in the page URL: {url}"
                );

                // Act: sign out.
                browser.click("button#signout").await;

                // Assert
                browser
                    .wait_for(
                        "document.body.dataset.state === 'signin'",
                        SETTLE_TIMEOUT,
                        "signing out asks for a key again",
                    )
                    .await;
                browser.assert_no_script_error().await;
            },
        )
        .await;
}

/// Whether `entry` is the line Chromium logs by itself for an answer refused with `401` or
/// `403` ("Failed to load resource: the server responded with a status of 403 (Forbidden)").
fn is_refusal_logged_by_chromium(entry: &LogEntry) -> bool {
    entry.message.contains("Failed to load resource")
        && (entry.message.contains("status of 401") || entry.message.contains("status of 403"))
}

#[tokio::test]
async fn a_key_without_the_read_scope_gets_a_sentence_not_a_blank_page() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run(
            "a_key_without_the_read_scope_gets_a_sentence_not_a_blank_page",
            async {
                // Arrange: a publish-only key, and events it could read were it allowed to.
                let keys = Keys::new();
                let read_key = keys.add("everything-reader", "read", None);
                let publish_key = keys.add("publisher", "publish", None);
                let server = Server::start_with_keys(&keys, publish_key.clone(), read_key).await;
                server.publish(&mixed_events(10, Utc::now())).await;
                browser.goto(&console_url(&server.base_url, "", "1h")).await;
                browser
                    .wait_for(
                        "document.body.dataset.state === 'signin'",
                        SETTLE_TIMEOUT,
                        "the console asks for a key",
                    )
                    .await;

                // Act
                sign_in_with(&browser, &publish_key).await;

                // Assert: signed in, the page says why it shows no events.
                browser.wait_settled().await;
                let access = browser.text_of("#access").await.unwrap_or_default();
                assert!(
                    access.contains("publisher") && access.contains("cannot read"),
                    "#access says the key cannot read events: {access:?}"
                );
                browser
                    .wait_for(
                        "document.getElementById('error').checkVisibility()",
                        SETTLE_TIMEOUT,
                        "#error shows",
                    )
                    .await;
                let error = browser.error_shown().await.unwrap_or_default();
                assert!(
                    error.contains("403") && error.contains("does not allow"),
                    "#error says the key does not allow reading: {error:?}"
                );
                assert!(browser.rows().await.is_empty(), "no events are listed");
                let log = browser.log().await;
                let errors: Vec<&LogEntry> = log
                    .iter()
                    .filter(|entry| {
                        entry.level == "SEVERE" || entry.message.contains("Content Security Policy")
                    })
                    .filter(|entry| !is_refusal_logged_by_chromium(entry))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "the browser console has errors besides 401/403 answers: {errors:#?}"
                );
            },
        )
        .await;
}
