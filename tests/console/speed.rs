//! How soon the console shows something: with 10,000 events matching its query, the first rows
//! are drawn within a second of the navigation (the console marks the moment with
//! `performance.mark("console:first-results")`).

use chrono::Utc;

use crate::browser::Browser;
use crate::data::bulk_events;
use crate::page::console_url;
use crate::server::Server;

/// Events published, all matching the query.
const MATCHING: usize = 10_000;

/// Events per `POST /publish`.
const BATCH: usize = 1_000;

/// The most the first results may take, from the start of the navigation, in milliseconds.
const FIRST_RESULTS_BUDGET_MS: f64 = 1_000.0;

#[tokio::test]
async fn first_render_of_10000_matching_events_within_a_second() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run(
            "first_render_of_10000_matching_events_within_a_second",
            async {
                // Arrange: 10,000 events over the last 50 minutes, all holding the word `perfrun`.
                let server = Server::start().await;
                let events = bulk_events(MATCHING, Utc::now());
                for batch in events.chunks(BATCH) {
                    server.publish(batch).await;
                }
                // A first page (matching nothing) starts the renderer and fetches the console's
                // files, so what is measured is the console's work and not Chromium's start.
                browser
                    .open_console(&console_url(&server.base_url, "nothingmatchesthis", "15m"))
                    .await;

                // Act
                browser
                    .open_console(&console_url(&server.base_url, "perfrun", "1h"))
                    .await;

                // Assert
                let script = "const marks = performance.getEntriesByName('console:first-results');
                return marks.length > 0 ? marks[0].startTime : null;";
                let first_results = browser.js(script, Vec::new()).await;
                let first_results_ms = first_results
                    .as_f64()
                    .unwrap_or_else(|| panic!("no console:first-results mark: {first_results}"));
                println!("console:first-results at {first_results_ms:.0} ms");
                assert!(
                    first_results_ms <= FIRST_RESULTS_BUDGET_MS,
                    "the first results took {first_results_ms:.0} ms \
                 (budget {FIRST_RESULTS_BUDGET_MS} ms)"
                );
                let total = browser.attr_of("#histogram-total", "data-total").await;
                assert_eq!(total, Some(MATCHING.to_string()), "all 10,000 events match");
                let rows = browser.rows().await;
                assert_eq!(
                    rows.first().map(|row| row.event_id.as_str()),
                    Some("p-00000"),
                    "the newest event comes first"
                );
            },
        )
        .await;
}
