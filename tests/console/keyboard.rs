//! The console with the keyboard alone (Tab, typing, Enter, Escape, sent to whatever has the
//! focus): reach the query box, run a query, open a row's details and close them again, the focus
//! going back to the row's summary.

use chrono::Utc;
use fantoccini::key::Key;

use crate::browser::Browser;
use crate::data::{iso, mixed_events};
use crate::page::{console_url, SETTLE_TIMEOUT};
use crate::server::Server;

/// The most Tab presses the test makes looking for one element.
const MAX_TABS: usize = 80;

/// Presses Tab until `focused` (a JavaScript expression over `document.activeElement`) holds;
/// fails after [`MAX_TABS`] presses.
async fn tab_until(browser: &Browser, focused: &str, what: &str) {
    for _ in 0..MAX_TABS {
        if browser.holds(focused).await {
            return;
        }
        browser.press(&Key::Tab.to_string()).await;
    }
    let active = browser
        .js(
            "return document.activeElement.outerHTML.slice(0, 200);",
            Vec::new(),
        )
        .await;
    panic!("{what}: not reached in {MAX_TABS} Tab presses; the focus is on {active}");
}

#[tokio::test]
async fn the_console_can_be_driven_with_the_keyboard_alone() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run("the_console_can_be_driven_with_the_keyboard_alone", async {
            // Arrange
            let server = Server::start().await;
            let now = Utc::now();
            server.publish(&mixed_events(40, now)).await;
            browser
                .open_console(&console_url(&server.base_url, "", "1h"))
                .await;

            // Act: Tab to the query box, type a query, Enter.
            tab_until(&browser, "document.activeElement.id === 'query'", "#query").await;
            browser.press("level:error").await;
            browser.press(&Key::Enter.to_string()).await;

            // Assert: the query ran.
            browser
                .wait_for(
                    "new URLSearchParams(location.search).get('q') === 'level:error'",
                    SETTLE_TIMEOUT,
                    "Enter runs the typed query",
                )
                .await;
            browser.wait_settled().await;
            let since = iso(now - chrono::Duration::minutes(59));
            let errors = server.newest("level:error", &since).await;
            browser.wait_for_rows(&errors).await;

            // Act: Tab to a row's summary, Enter.
            tab_until(
                &browser,
                "document.activeElement.matches('#results button.event-summary')",
                "a row's summary",
            )
            .await;
            // Remembered in the page, so later checks name the same row wherever the focus is.
            let remember_row = "window.__keyboardRow = document.activeElement.closest('li.event');";
            browser.js(remember_row, Vec::new()).await;
            browser.press(&Key::Enter.to_string()).await;

            // Assert: the row is open and its details show.
            browser
                .wait_for(
                    "window.__keyboardRow.querySelector('button.event-summary')
                         .getAttribute('aria-expanded') === 'true'
                     && window.__keyboardRow.querySelector('.event-details')?.checkVisibility()",
                    SETTLE_TIMEOUT,
                    "Enter opens the row's details",
                )
                .await;

            // Act: Tab into the details, then Escape.
            browser.press(&Key::Tab.to_string()).await;
            let in_details = "window.__keyboardRow.querySelector('.event-details')
                .contains(document.activeElement)";
            assert!(
                browser.holds(in_details).await,
                "Tab from an open summary goes into its details"
            );
            browser.press(&Key::Escape.to_string()).await;

            // Assert: closed, and the focus is back on the summary.
            browser
                .wait_for(
                    "window.__keyboardRow.querySelector('button.event-summary')
                         .getAttribute('aria-expanded') === 'false'
                     && !window.__keyboardRow.querySelector('.event-details')?.checkVisibility()
                     && document.activeElement
                         === window.__keyboardRow.querySelector('button.event-summary')",
                    SETTLE_TIMEOUT,
                    "Escape closes the row and focuses its summary",
                )
                .await;
            browser.assert_clean_log().await;
        })
        .await;
}
