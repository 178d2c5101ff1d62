//! The histogram counts what `/events/count` counts: its bars, split by level, add up to the
//! total it shows, which is the API's total for the same query and range; dragging across it
//! zooms the range to the span dragged over.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};

use crate::browser::Browser;
use crate::data::{iso, mixed_events, LEVELS};
use crate::page::{console_url, SETTLE_TIMEOUT};
use crate::server::Server;

/// One `rect.bar` of `svg#histogram`.
#[derive(Debug)]
struct Bar {
    count: u64,
    level: String,
    start: String,
}

/// The bars of `svg#histogram`.
async fn bars(browser: &Browser) -> Vec<Bar> {
    let script = "return [...document.querySelectorAll('svg#histogram rect.bar')].map(bar =>
        [bar.dataset.count, bar.dataset.level, bar.dataset.start]);";
    let bars = browser.js(script, Vec::new()).await;
    bars.as_array()
        .expect("an array of bars")
        .iter()
        .map(|bar| {
            let count = bar[0].as_str().unwrap_or_default();
            Bar {
                count: count
                    .parse()
                    .unwrap_or_else(|_| panic!("data-count {count:?} is an integer")),
                level: bar[1].as_str().unwrap_or_default().to_owned(),
                start: bar[2].as_str().unwrap_or_default().to_owned(),
            }
        })
        .collect()
}

/// `data-total` of `#histogram-total`.
async fn shown_total(browser: &Browser) -> u64 {
    let total = browser
        .attr_of("#histogram-total", "data-total")
        .await
        .expect("#histogram-total has data-total");
    total
        .parse()
        .unwrap_or_else(|_| panic!("data-total {total:?} is an integer"))
}

/// The bars add up to `#histogram-total`, each holds at least one event and starts at an
/// instant; returns that total.
async fn assert_bars_add_up(browser: &Browser) -> (u64, Vec<Bar>) {
    let bars = bars(browser).await;
    let total = shown_total(browser).await;
    let sum: u64 = bars.iter().map(|bar| bar.count).sum();
    assert_eq!(sum, total, "the bars add up to #histogram-total: {bars:?}");
    for bar in &bars {
        assert!(bar.count >= 1, "an empty bar is drawn: {bar:?}");
        assert!(
            DateTime::parse_from_rfc3339(&bar.start).is_ok(),
            "data-start is an instant: {bar:?}"
        );
    }
    (total, bars)
}

#[tokio::test]
async fn histogram_bars_add_up_to_the_count() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser
        .run("histogram_bars_add_up_to_the_count", async {
            // Arrange: 60 events, all within the last 29 minutes of the hour the page shows.
            let server = Server::start().await;
            let now = Utc::now();
            server.publish(&mixed_events(60, now)).await;

            // Act
            browser
                .open_console(&console_url(&server.base_url, "", "1h"))
                .await;

            // Assert: bars, shown total and the API agree, split by the published levels.
            let (total, bars) = assert_bars_add_up(&browser).await;
            let since = iso(now - chrono::Duration::minutes(59));
            let counted = server.count("", &since, &iso(Utc::now())).await;
            assert_eq!(counted, 60, "the API counts every event published");
            assert_eq!(total, counted, "#histogram-total is the API's total");
            let levels: BTreeSet<&str> = bars.iter().map(|bar| bar.level.as_str()).collect();
            let published: BTreeSet<&str> = LEVELS.into_iter().collect();
            assert_eq!(
                levels, published,
                "the bars are split by the published levels"
            );

            // Act: drag across the middle half of the histogram.
            let histogram = browser.element("svg#histogram").await;
            let (_, _, width, _) = histogram
                .rectangle()
                .await
                .expect("the histogram is laid out");
            let quarter = (width / 4.0).round();
            let drag = MouseActions::new("mouse".into())
                .then(PointerAction::MoveToElement {
                    element: histogram.clone(),
                    duration: None,
                    x: -quarter,
                    y: 0.0,
                })
                .then(PointerAction::Down {
                    button: MOUSE_BUTTON_LEFT,
                })
                .then(PointerAction::MoveToElement {
                    element: histogram.clone(),
                    duration: Some(Duration::from_millis(150)),
                    x: 0.0,
                    y: 0.0,
                })
                .then(PointerAction::MoveToElement {
                    element: histogram.clone(),
                    duration: Some(Duration::from_millis(150)),
                    x: quarter,
                    y: 0.0,
                })
                .then(PointerAction::Up {
                    button: MOUSE_BUTTON_LEFT,
                });
            browser
                .client
                .perform_actions(drag)
                .await
                .expect("the drag is performed");

            // Assert: a custom range in the URL, whose count the page and the API agree on.
            browser
                .wait_for(
                    "new URLSearchParams(location.search).has('since')
                     && new URLSearchParams(location.search).has('until')",
                    SETTLE_TIMEOUT,
                    "the drag pins since and until in the URL",
                )
                .await;
            browser.wait_settled().await;
            assert_eq!(
                browser.value_of("#range").await,
                "custom",
                "#range after a drag"
            );
            let zoomed_since = browser.url_param("since").await.expect("since in the URL");
            let zoomed_until = browser.url_param("until").await.expect("until in the URL");
            let from = DateTime::parse_from_rfc3339(&zoomed_since).expect("since is an instant");
            let to = DateTime::parse_from_rfc3339(&zoomed_until).expect("until is an instant");
            assert!(
                from < to,
                "the zoomed range runs forward: {zoomed_since}..{zoomed_until}"
            );
            let (zoomed_total, _) = assert_bars_add_up(&browser).await;
            let zoomed_counted = server.count("", &zoomed_since, &zoomed_until).await;
            assert_eq!(
                zoomed_total, zoomed_counted,
                "#histogram-total after the zoom"
            );
            assert!(
                zoomed_total <= total,
                "zooming in cannot count more: {zoomed_total} > {total}"
            );
            browser.assert_clean_log().await;
        })
        .await;
}
