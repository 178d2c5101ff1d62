//! The side panels say what the API says: the counters are `/stats`'s, the topics are those
//! counted in the page's range with how long each is kept, the instances are those sharing the
//! store; and the header links to the API documentation and the metrics.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use serde_json::Value;

use crate::browser::Browser;
use crate::data::{mixed_events, TOPICS};
use crate::page::{console_url, SETTLE_TIMEOUT};
use crate::server::Server;

/// The counters of `/stats` that `dl#counters` shows.
const COUNTERS: [&str; 4] = [
    "received",
    "unique_processed",
    "duplicate_dropped",
    "stored_events",
];

/// `[a, b]` of every element matching `css`, where `a` and `b` are JavaScript expressions over
/// the element `row`.
async fn table(browser: &Browser, css: &str, a: &str, b: &str) -> Vec<(String, String)> {
    let script =
        format!("return [...document.querySelectorAll(arguments[0])].map(row => [{a}, {b}]);");
    let rows = browser.js(&script, vec![Value::from(css)]).await;
    rows.as_array()
        .expect("an array of rows")
        .iter()
        .map(|row| {
            let text = |index: usize| row[index].as_str().unwrap_or_default().trim().to_owned();
            (text(0), text(1))
        })
        .collect()
}

#[tokio::test]
async fn side_panels_show_the_counters_topics_and_instances_of_the_api() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run(
            "side_panels_show_the_counters_topics_and_instances_of_the_api",
            async {
                // Arrange: 30 events (10 per topic), 5 of them sent twice; payments.* kept a day.
                let rule = vec!["--retention-rule".to_string(), "payments.*=1d".to_string()];
                let server = Server::start_with_args(rule).await;
                let events = mixed_events(30, Utc::now());
                server.publish(&events).await;
                server.publish(&events[..5]).await;
                let stats = server.get_json("/stats", &[]).await;
                assert_eq!(
                    stats["duplicate_dropped"], 5,
                    "/stats counts the duplicates"
                );

                // Act
                browser
                    .open_console(&console_url(&server.base_url, "", "1h"))
                    .await;

                // Assert: the counters.
                browser
                    .wait_for(
                        "document.querySelectorAll('dl#counters dd[data-counter]').length > 0
                     && document.querySelectorAll('table#topics tbody tr[data-topic]').length > 0
                     && document.querySelectorAll('table#instances tbody tr[data-instance]')
                            .length > 0",
                        SETTLE_TIMEOUT,
                        "the side panels are filled",
                    )
                    .await;
                for counter in COUNTERS {
                    let css = format!("dl#counters dd[data-counter=\"{counter}\"]");
                    let shown = browser.text_of(&css).await;
                    let expected = stats[counter].to_string();
                    assert_eq!(
                        shown.as_deref().map(str::trim),
                        Some(expected.as_str()),
                        "{css}"
                    );
                }

                // Assert: the topics, each with its count in the range and its retention.
                let topics = table(
                    &browser,
                    "table#topics tbody tr[data-topic]",
                    "row.dataset.topic + ' ' + row.querySelector('td.count').textContent.trim()",
                    "row.querySelector('td.retention').textContent",
                )
                .await;
                let shown: BTreeMap<String, String> = topics.into_iter().collect();
                let default_keep = stats["retention"]["default"].as_str().expect("a default");
                let rule_keep = stats["retention"]["rules"][0]["keep"]
                    .as_str()
                    .expect("a rule");
                let expected: BTreeMap<String, String> = TOPICS
                    .iter()
                    .map(|topic| {
                        let keep = if topic.starts_with("payments.") {
                            rule_keep
                        } else {
                            default_keep
                        };
                        (format!("{topic} 10"), keep.to_owned())
                    })
                    .collect();
                assert_eq!(shown, expected, "#topics: topic and count, then retention");

                // Assert: the instances.
                let instances = table(
                    &browser,
                    "table#instances tbody tr[data-instance]",
                    "row.dataset.instance",
                    "''",
                )
                .await;
                let shown: BTreeSet<String> = instances.into_iter().map(|(name, _)| name).collect();
                let expected: BTreeSet<String> = stats["instances"]
                    .as_array()
                    .expect("/stats lists instances")
                    .iter()
                    .filter_map(|instance| instance["instance"].as_str().map(str::to_owned))
                    .collect();
                assert_eq!(shown, expected, "#instances");

                // Assert: the links.
                let docs = browser.attr_of("a#docs-link", "href").await;
                assert_eq!(docs.as_deref(), Some("/docs"), "a#docs-link");
                let metrics = browser.attr_of("a#metrics-link", "href").await;
                assert_eq!(metrics.as_deref(), Some("/metrics"), "a#metrics-link");
                browser.assert_clean_log().await;
            },
        )
        .await;
}
