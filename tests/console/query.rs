//! The console shows what the API answers: the rows of a query opened from the URL are the API's
//! events for that query, newest first, and a row's "only this value" and "without this value"
//! buttons narrow the query the way the same query typed into the API does. The test ends on the
//! README's screenshot of the console (`target/ui-screenshots/readme-console.png`, 1280×900).

use chrono::Utc;
use serde_json::Value;

use crate::browser::Browser;
use crate::data::{iso, mixed_events};
use crate::page::{console_url, SETTLE_TIMEOUT};
use crate::server::Server;

/// The query the test opens: three levels of four, across all three topics.
const QUERY: &str = "-level:debug";

/// The screenshot the README shows, saved as `target/ui-screenshots/readme-console.png`.
const README_SCREENSHOT: &str = "readme-console";
const README_WIDTH: u32 = 1280;
const README_HEIGHT: u32 = 900;

/// Opens the first row of `#results` and waits until its details show.
async fn open_first_row(browser: &Browser) {
    browser
        .click("#results li.event:first-child button.event-summary")
        .await;
    browser
        .wait_for(
            "document.querySelector('#results li.event:first-child button.event-summary')
                 .getAttribute('aria-expanded') === 'true'
             && document.querySelector('#results li.event:first-child .event-details') !== null",
            SETTLE_TIMEOUT,
            "the first row opens",
        )
        .await;
}

/// Clicks `button` (`only-value` or `without-value`) on field `field` of the first (open) row,
/// then waits until the page URL's query holds `added` and the page has settled again.
async fn narrow_by_first_row(browser: &Browser, field: &str, button: &str, added: &str) {
    let css =
        format!("#results li.event:first-child tr.field[data-field=\"{field}\"] button.{button}");
    browser.click(&css).await;
    let url_has_it = format!(
        "(new URLSearchParams(location.search).get('q') || '').includes({})",
        serde_json::to_string(added).expect("a string serializes")
    );
    browser
        .wait_for(
            &url_has_it,
            SETTLE_TIMEOUT,
            "the URL takes the narrowed query",
        )
        .await;
    browser.wait_settled().await;
}

#[tokio::test]
async fn query_shows_what_the_api_returns_newest_first() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run("query_shows_what_the_api_returns_newest_first", async {
            // Arrange: 60 events over the last 29 minutes; the page asks for the last hour.
            let server = Server::start().await;
            let now = Utc::now();
            server.publish(&mixed_events(60, now)).await;
            let since = iso(now - chrono::Duration::minutes(59));
            let expected = server.newest(QUERY, &since).await;
            assert_eq!(expected.len(), 45, "the API's answer to {QUERY}");
            let page_url = console_url(&server.base_url, QUERY, "1h");

            // Act
            browser.open_console(&page_url).await;

            // Assert: the rows are the API's events, newest first, timestamps as the API has them.
            browser.wait_for_rows(&expected).await;
            assert_eq!(
                browser.value_of("#query").await,
                QUERY,
                "#query shows the URL's query"
            );
            assert_eq!(browser.error_shown().await, None, "#error");

            // Assert: an open row shows the event as the API returns it.
            open_first_row(&browser).await;
            let shown_json = browser
                .text_of("#results li.event:first-child pre.event-json")
                .await
                .expect("the open row has pre.event-json");
            let shown: Value = serde_json::from_str(&shown_json)
                .unwrap_or_else(|err| panic!("pre.event-json is JSON: {err}: {shown_json}"));
            assert_eq!(shown, expected[0], "pre.event-json is the API's event");
            let level = expected[0]["payload"]["level"]
                .as_str()
                .expect("a level")
                .to_owned();

            // Act: only this row's level.
            let only = format!("level:\"{level}\"");
            narrow_by_first_row(&browser, "level", "only-value", &only).await;

            // Assert: the query gained the term and the rows are the API's for the same filter.
            let query = browser.value_of("#query").await;
            assert!(
                query.contains(QUERY) && query.contains(&only),
                "#query after only-value: {query:?}"
            );
            let narrowed = server
                .newest(&format!("{QUERY} level:{level}"), &since)
                .await;
            assert_eq!(narrowed.len(), 15, "one level of four");
            browser.wait_for_rows(&narrowed).await;

            // Act: back to the first query, then everything but this row's level.
            browser.open_console(&page_url).await;
            open_first_row(&browser).await;
            let without = format!("-level:\"{level}\"");
            narrow_by_first_row(&browser, "level", "without-value", &without).await;

            // Assert
            let query = browser.value_of("#query").await;
            assert!(
                query.contains(QUERY) && query.contains(&without),
                "#query after without-value: {query:?}"
            );
            let excluded = server
                .newest(&format!("{QUERY} -level:{level}"), &since)
                .await;
            assert_eq!(excluded.len(), 30, "two levels of four");
            browser.wait_for_rows(&excluded).await;
            browser.assert_clean_log().await;

            // The README's picture: the whole last hour (three topics, four levels, messages),
            // the side panels filled in, the newest event open.
            browser
                .open_console(&console_url(&server.base_url, "", "1h"))
                .await;
            let everything = server.newest("", &since).await;
            browser.wait_for_rows(&everything).await;
            browser
                .wait_for(
                    "document.querySelectorAll('table#topics tbody tr[data-topic]').length === 3
                     && document.querySelectorAll('#counters dd').length > 0",
                    SETTLE_TIMEOUT,
                    "the side panels are filled in",
                )
                .await;
            open_first_row(&browser).await;
            browser
                .save_screenshot_sized(README_SCREENSHOT, README_WIDTH, README_HEIGHT)
                .await;
        })
        .await;
}
