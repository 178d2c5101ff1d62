//! The query bar's suggestions, driven from the keyboard as the ARIA combobox pattern says:
//! typing part of a field name offers `name:`, taking it offers that field's values with their
//! counts in the range, taking one puts `name:value` in the box, and Enter then runs it. Escape
//! closes the list, and `aria-expanded` on `#query` says whether it is open.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use fantoccini::key::Key;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::data::{event, iso, TOPICS};
use crate::page::{console_url, SETTLE_TIMEOUT};
use crate::server::Server;

/// The levels the test publishes, each as often as its count says.
const LEVEL_COUNTS: [(&str, usize); 3] = [("info", 12), ("warn", 8), ("error", 4)];

/// The condition that `ul#suggestions` shows, with `aria-expanded="true"` on `#query`.
const LIST_OPEN: &str = "document.getElementById('suggestions').checkVisibility()
    && document.getElementById('query').getAttribute('aria-expanded') === 'true'";

/// The condition that `ul#suggestions` is hidden, with `aria-expanded="false"` on `#query`.
const LIST_CLOSED: &str = "!document.getElementById('suggestions').checkVisibility()
    && document.getElementById('query').getAttribute('aria-expanded') === 'false'";

/// Events with a payload `level` as [`LEVEL_COUNTS`] says, over [`TOPICS`], one every 29 s back
/// from `now`.
fn levelled_events(now: DateTime<Utc>) -> Vec<Value> {
    let levels = LEVEL_COUNTS
        .iter()
        .flat_map(|(level, count)| std::iter::repeat_n(*level, *count));
    levels
        .enumerate()
        .map(|(index, level)| {
            let payload = json!({"level": level, "message": format!("suggested {index}")});
            let age = chrono::Duration::seconds(29 * index as i64 + 5);
            let topic = TOPICS[index % TOPICS.len()];
            event(topic, &format!("s-{index:03}"), now - age, payload)
        })
        .collect()
}

/// The texts of the options of `ul#suggestions`, top to bottom.
async fn option_texts(browser: &Browser) -> Vec<String> {
    let texts = browser
        .js(
            "return [...document.querySelectorAll('ul#suggestions li[role=option]')]
                .map(option => option.textContent);",
            Vec::new(),
        )
        .await;
    texts
        .as_array()
        .expect("a list of options")
        .iter()
        .map(|text| text.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Presses ↓ and waits until the first option is the highlighted one.
async fn highlight_first_option(browser: &Browser) {
    browser.press(&Key::Down.to_string()).await;
    browser
        .wait_for(
            "document.getElementById('query').getAttribute('aria-activedescendant')
                 === 'suggestion-0'
             && document.getElementById('suggestion-0').getAttribute('aria-selected') === 'true'",
            SETTLE_TIMEOUT,
            "↓ highlights the first suggestion",
        )
        .await;
}

#[tokio::test]
async fn the_query_bar_suggests_a_field_then_its_values_and_runs_the_choice() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run(
            "the_query_bar_suggests_a_field_then_its_values_and_runs_the_choice",
            async {
                // Arrange
                let server = Server::start().await;
                let now = Utc::now();
                server.publish(&levelled_events(now)).await;
                browser
                    .open_console(&console_url(&server.base_url, "", "1h"))
                    .await;
                browser.click("input#query").await;

                // Act: part of a field name.
                browser.press("lev").await;

                // Assert: `level:` is offered; Escape closes the list.
                let offers_level = format!(
                    "{LIST_OPEN} && [...document.querySelectorAll('ul#suggestions \
                     li[role=option]')].some(option => option.textContent === 'level:')"
                );
                browser
                    .wait_for(&offers_level, SETTLE_TIMEOUT, "`lev` offers level:")
                    .await;
                browser.press(&Key::Escape.to_string()).await;
                browser
                    .wait_for(LIST_CLOSED, SETTLE_TIMEOUT, "Escape closes the list")
                    .await;
                assert_eq!(
                    browser.value_of("#query").await,
                    "lev",
                    "Escape keeps the text"
                );

                // Act: one more letter opens it again; ↓ and Enter take `level:`.
                browser.press("e").await;
                browser
                    .wait_for(&offers_level, SETTLE_TIMEOUT, "`leve` offers level:")
                    .await;
                assert_eq!(option_texts(&browser).await, ["level:"], "the only name");
                highlight_first_option(&browser).await;
                browser.press(&Key::Enter.to_string()).await;

                // Assert: the box holds `level:` and the values are offered with their counts.
                browser
                    .wait_for(
                        "document.getElementById('query').value === 'level:'",
                        SETTLE_TIMEOUT,
                        "Enter takes level:",
                    )
                    .await;
                let offers_values = format!(
                    "{LIST_OPEN} && [...document.querySelectorAll('ul#suggestions \
                     li[role=option]')].length > 0 && [...document.querySelectorAll(\
                     'ul#suggestions li[role=option]')].every(option => \
                     option.textContent.startsWith('level:') && option.textContent !== 'level:')"
                );
                browser
                    .wait_for(&offers_values, SETTLE_TIMEOUT, "level: offers its values")
                    .await;
                let offered: BTreeSet<String> = option_texts(&browser).await.into_iter().collect();
                let expected: BTreeSet<String> = LEVEL_COUNTS
                    .iter()
                    .map(|(level, count)| format!("level:{level}  ({count})"))
                    .collect();
                assert_eq!(offered, expected, "the values of level with their counts");

                // Act: ↓ and Enter take the first value.
                highlight_first_option(&browser).await;
                browser.press(&Key::Enter.to_string()).await;

                // Assert: the box holds `level:<value>`, the list is closed, nothing ran yet.
                browser
                    .wait_for(
                        "document.getElementById('query').value !== 'level:'",
                        SETTLE_TIMEOUT,
                        "Enter takes a value",
                    )
                    .await;
                let query = browser.value_of("#query").await;
                let value = query.strip_prefix("level:").unwrap_or_default();
                assert!(
                    LEVEL_COUNTS.iter().any(|(level, _)| *level == value),
                    "#query holds level: and a published value: {query:?}"
                );
                browser
                    .wait_for(
                        LIST_CLOSED,
                        SETTLE_TIMEOUT,
                        "taking a value closes the list",
                    )
                    .await;
                assert_eq!(
                    browser.url_param("q").await,
                    None,
                    "taking a suggestion does not run the query"
                );

                // Act: Enter again runs the query.
                browser.press(&Key::Enter.to_string()).await;

                // Assert: the rows are the API's for that query.
                let runs = format!(
                    "new URLSearchParams(location.search).get('q') === {}",
                    serde_json::to_string(&query).expect("a string serializes")
                );
                browser
                    .wait_for(&runs, SETTLE_TIMEOUT, "Enter runs the query")
                    .await;
                browser.wait_settled().await;
                let since = iso(now - chrono::Duration::minutes(59));
                let expected_rows = server.newest(&query, &since).await;
                let count = LEVEL_COUNTS
                    .iter()
                    .find(|(level, _)| *level == value)
                    .map(|(_, count)| *count);
                assert_eq!(
                    Some(expected_rows.len()),
                    count,
                    "the API's answer to {query}"
                );
                browser.wait_for_rows(&expected_rows).await;
                assert!(browser.holds(LIST_CLOSED).await, "the list stays closed");
                browser.assert_clean_log().await;
            },
        )
        .await;
}
