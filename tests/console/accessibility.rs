//! Accessibility checked by axe-core (vendored for the tests in `vendor/`, see its README) on the
//! console with results and an open row: no violation of impact `serious` or `critical`.

use chrono::Utc;
use serde_json::Value;

use crate::browser::Browser;
use crate::data::mixed_events;
use crate::page::{console_url, SETTLE_TIMEOUT};
use crate::server::Server;

/// axe-core, run in the page through WebDriver (which the page's CSP does not restrict).
const AXE: &str = include_str!("vendor/axe.min.js");

/// Runs axe on the whole document; answers its violations, each shortened to what a failure
/// message needs.
const RUN_AXE: &str = "const done = arguments[arguments.length - 1];
    axe.run(document, {resultTypes: ['violations']})
        .then(results => done(results.violations.map(violation => ({
            id: violation.id,
            impact: violation.impact,
            help: violation.help,
            nodes: violation.nodes.slice(0, 5).map(node => node.target.join(' ')),
        }))))
        .catch(error => done({error: String(error)}));";

#[tokio::test]
async fn axe_finds_no_serious_or_critical_violation() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run("axe_finds_no_serious_or_critical_violation", async {
            // Arrange: results listed and the first row open.
            let server = Server::start().await;
            server.publish(&mixed_events(20, Utc::now())).await;
            browser
                .open_console(&console_url(&server.base_url, "", "1h"))
                .await;
            browser
                .click("#results li.event:first-child button.event-summary")
                .await;
            browser
                .wait_for(
                    "document.querySelector('#results li.event:first-child .event-details')",
                    SETTLE_TIMEOUT,
                    "the first row opens",
                )
                .await;

            // Act
            let injected = browser
                .js(&format!("{AXE}\nreturn typeof window.axe;"), Vec::new())
                .await;
            assert_eq!(injected, "object", "axe-core is loaded into the page");
            let violations = browser
                .client
                .execute_async(RUN_AXE, Vec::new())
                .await
                .expect("axe runs");

            // Assert
            let violations = match violations {
                Value::Array(violations) => violations,
                other => panic!("axe failed: {other}"),
            };
            let ids: Vec<String> = violations
                .iter()
                .map(|violation| format!("{} ({})", violation["id"], violation["impact"]))
                .collect();
            println!("axe violations of any impact: {ids:?}");
            let blocking: Vec<&Value> = violations
                .iter()
                .filter(|violation| {
                    matches!(violation["impact"].as_str(), Some("serious" | "critical"))
                })
                .collect();
            assert!(
                blocking.is_empty(),
                "axe found serious or critical violations: {blocking:#?}\n\
                 all violations: {violations:#?}"
            );
        })
        .await;
}
