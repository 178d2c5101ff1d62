//! The console's DOM contract as the tests read it: `body[data-state]` and `body[data-busy]`
//! to know when the page has settled, the rows of `#results`, element text and attributes, the
//! page URL's parameters. Reads go through one script each (a single WebDriver round trip);
//! whatever a user does (click, type, drag) goes through WebDriver's input commands instead.

use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::Locator;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::common::wait::wait_until;

/// How long a page may take to settle: generous, the machines have two shared cores.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One `li.event` of `#results`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Row {
    pub topic: String,
    pub event_id: String,
    /// `data-timestamp`, the timestamp as the API wrote it.
    pub timestamp: String,
}

impl Row {
    /// The row the console should show for `event`, as the API gave it.
    pub fn of_event(event: &Value) -> Self {
        let field = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
        Self {
            topic: field("topic"),
            event_id: field("event_id"),
            timestamp: field("timestamp"),
        }
    }

    /// `(topic, event_id)`, the event's key.
    pub fn key(&self) -> (String, String) {
        (self.topic.clone(), self.event_id.clone())
    }
}

impl Browser {
    /// Whether `condition` (a JavaScript expression) is true in the page now.
    pub async fn holds(&self, condition: &str) -> bool {
        let script = format!("return Boolean({condition});");
        self.js(&script, Vec::new()).await == json!(true)
    }

    /// Waits until `condition` (a JavaScript expression) holds, at most `timeout`; fails
    /// saying `what` was awaited, and how the page stood then.
    pub async fn wait_for(&self, condition: &str, timeout: Duration, what: &str) {
        let held = wait_until(move || self.holds(condition), timeout).await;
        if !held {
            let state = self.body_state().await;
            panic!("{what}: not within {timeout:?} ({condition}); the page: {state}");
        }
    }

    /// `data-state`, `data-busy` and `#error`'s text, for failure messages.
    pub async fn body_state(&self) -> Value {
        let script = "const error = document.getElementById('error');
            return {state: document.body.dataset.state, busy: document.body.dataset.busy,
                    error: error ? error.textContent : null, url: location.href};";
        self.js(script, Vec::new()).await
    }

    /// Waits until the console is signed in and has rendered everything for its query.
    pub async fn wait_settled(&self) {
        self.wait_for(
            "document.body.dataset.state === 'ready' && document.body.dataset.busy === '0'",
            SETTLE_TIMEOUT,
            "the console settles (ready, not busy)",
        )
        .await;
    }

    /// Opens `url` and waits until the console has settled.
    pub async fn open_console(&self, url: &str) {
        self.goto(url).await;
        self.wait_settled().await;
    }

    /// The rows of `#results`, top to bottom.
    pub async fn rows(&self) -> Vec<Row> {
        let script = "return [...document.querySelectorAll('#results li.event')].map(row =>
            [row.dataset.topic, row.dataset.eventId, row.dataset.timestamp]);";
        let rows = self.js(script, Vec::new()).await;
        rows.as_array()
            .expect("an array of rows")
            .iter()
            .map(|row| {
                let part = |index: usize| row[index].as_str().unwrap_or_default().to_owned();
                Row {
                    topic: part(0),
                    event_id: part(1),
                    timestamp: part(2),
                }
            })
            .collect()
    }

    /// Whether `#load-more` is shown (the listing has a next page).
    pub async fn load_more_shown(&self) -> bool {
        self.holds(
            "(() => { const more = document.getElementById('load-more');
                return more !== null && !more.hidden && more.offsetParent !== null; })()",
        )
        .await
    }

    /// Waits until `#results` shows `expected` (the API's events for the page's query, newest
    /// first): all of them, or a first part of them while `#load-more` offers the rest; fails
    /// with both lists. Returns the rows.
    pub async fn wait_for_rows(&self, expected: &[Value]) -> Vec<Row> {
        let expected: Vec<Row> = expected.iter().map(Row::of_event).collect();
        let wanted = &expected;
        let shows_expected = move || async move {
            let rows = self.rows().await;
            if wanted.is_empty() {
                return rows.is_empty();
            }
            let complete = rows.len() == wanted.len() || self.load_more_shown().await;
            !rows.is_empty() && complete && wanted.starts_with(&rows)
        };
        let shown = wait_until(shows_expected, SETTLE_TIMEOUT).await;
        let rows = self.rows().await;
        assert!(
            shown,
            "#results does not show what the API answers\n\
             shown:    {rows:?}\nexpected: {expected:?}\npage: {}",
            self.body_state().await
        );
        rows
    }

    /// `(topic, event_id)` of the rows of `#results`, top to bottom.
    pub async fn row_keys(&self) -> Vec<(String, String)> {
        self.rows().await.iter().map(Row::key).collect()
    }

    /// The text content of the first element matching `css` (`None`: no such element).
    pub async fn text_of(&self, css: &str) -> Option<String> {
        let script = "const element = document.querySelector(arguments[0]);
            return element ? element.textContent : null;";
        self.js(script, vec![json!(css)])
            .await
            .as_str()
            .map(str::to_owned)
    }

    /// Attribute `name` of the first element matching `css` (`None`: no element or attribute).
    pub async fn attr_of(&self, css: &str, name: &str) -> Option<String> {
        let script = "const element = document.querySelector(arguments[0]);
            return element ? element.getAttribute(arguments[1]) : null;";
        let value = self.js(script, vec![json!(css), json!(name)]).await;
        value.as_str().map(str::to_owned)
    }

    /// The value of the input matching `css`.
    pub async fn value_of(&self, css: &str) -> String {
        let script = "return document.querySelector(arguments[0]).value;";
        let value = self.js(script, vec![json!(css)]).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The element matching `css` (fails when there is none).
    pub async fn element(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("the page has {css}: {err}"))
    }

    /// Clicks the element matching `css` as a user would.
    pub async fn click(&self, css: &str) {
        self.element(css)
            .await
            .click()
            .await
            .unwrap_or_else(|err| panic!("{css} can be clicked: {err}"));
    }

    /// The page URL.
    pub async fn url(&self) -> reqwest::Url {
        self.client.current_url().await.expect("the page has a URL")
    }

    /// Parameter `name` of the page URL's query string.
    pub async fn url_param(&self, name: &str) -> Option<String> {
        let url = self.url().await;
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// Text of `#error` when it shows one (`None` when it is empty).
    pub async fn error_shown(&self) -> Option<String> {
        let text = self.text_of("#error").await.unwrap_or_default();
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }
}

/// `/ui?q=<q>&range=<range>` on `base_url`, the query percent-encoded.
pub fn console_url(base_url: &str, q: &str, range: &str) -> String {
    let mut url: reqwest::Url = format!("{base_url}/ui").parse().expect("a valid URL");
    url.query_pairs_mut()
        .append_pair("q", q)
        .append_pair("range", range);
    url.to_string()
}
