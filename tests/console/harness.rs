//! The harness itself, on a page with no aggregator behind it: what a page logs comes back
//! through chromedriver's log endpoint, so the console tests' "no error in the console" checks
//! can fail.

use crate::browser::Browser;

#[tokio::test]
async fn the_harness_reads_what_a_page_logs() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run("the_harness_reads_what_a_page_logs", async {
            // Arrange
            browser
                .goto("data:text/html,<title>probe</title><p>probe</p>")
                .await;

            // Act
            browser
                .js("console.error('harness-probe', 42);", Vec::new())
                .await;

            // Assert
            let log = browser.log().await;
            let probe = log
                .iter()
                .find(|entry| entry.message.contains("harness-probe"));
            let probe = probe.unwrap_or_else(|| panic!("the probe is in the log: {log:#?}"));
            assert_eq!(probe.level, "SEVERE", "console.error is SEVERE: {probe:?}");
            // What was read once is kept: a later read still holds it.
            let again = browser.log().await;
            assert!(again
                .iter()
                .any(|entry| entry.message.contains("harness-probe")));
        })
        .await;
}
