//! The web console (`GET /ui`) in a real browser: headless Chromium driven through Debian's
//! `chromedriver` with the `fantoccini` WebDriver client, against the real `aggregator` binary on
//! an embedded store. Each test starts its own aggregator and its own browser (at most two
//! browsers at once, see [`browser`]) and leaves a screenshot of its last page in
//! `target/ui-screenshots/`. The tests read the page through the DOM contract of the console
//! (stable ids and `data-` attributes, `body[data-busy]` to know when a query has been drawn) and
//! compare what it shows with what the HTTP API answers.
//!
//! Without chromedriver the tests print "skipped: chromedriver not found" and pass, unless `CI`
//! is set.

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod data;
mod page;
mod server;

mod accessibility;
mod harness;
mod histogram;
mod keyboard;
mod keys;
mod live;
mod page_load;
mod panels;
mod query;
mod speed;
mod suggestions;
