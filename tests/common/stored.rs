//! "Every sent text stored exactly once", checked the way a user would see it, for the binaries
//! that feed the real `aggregator serve` from a real client (`tests/shipper`, `tests/otlp`,
//! `tests/loki`): what one topic holds (`GET /events` to the last page), each sent text there
//! once and nothing else, the rows awaited in SQL, and `/stats` counters that add up.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aggregator::client::ServerStats;
use serde::Deserialize;
use serde_json::Value;

use super::app::get_stats;
use super::db::{count_rows, rows_reach, TestDb};
use super::wait::wait_until;

/// How long [`assert_counters_exact`] lets `/stats` trail the rows (after a restart it may).
const COUNTERS_DEADLINE: Duration = Duration::from_secs(10);

/// What a client sends, as the checks here name it and find it once stored.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// What one is called in failure messages (`line`, `record`); a plural adds an `s`.
    pub noun: &'static str,
    /// The payload field that carries its text once stored (`message`, `body`).
    pub field: &'static str,
}

/// One `GET /events` page, as far as these tests read it.
#[derive(Deserialize)]
struct Page {
    events: Vec<Listed>,
    next_cursor: Option<String>,
}

/// One listed event.
#[derive(Debug, Deserialize)]
pub struct Listed {
    pub topic: String,
    pub event_id: String,
    pub source: String,
    pub payload: Value,
}

impl Listed {
    /// The payload's string `field` (`""` when it is missing or not a string).
    pub fn text(&self, field: &str) -> &str {
        self.payload[field].as_str().unwrap_or_default()
    }
}

/// Every event of `topic`, page after page; fails if a page repeats an event id, which would
/// make a count hide a lost one.
pub async fn topic_events(base_url: &str, topic: &str) -> Vec<Listed> {
    let client = reqwest::Client::new();
    let mut events = Vec::new();
    let mut ids = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(format!("{base_url}/events"))
            .query(&[("topic", topic), ("limit", "1000")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let response = request.send().await.expect("GET /events answers");
        assert_eq!(response.status(), 200, "GET /events");
        let page: Page = response.json().await.expect("an events page");
        for event in page.events {
            assert_eq!(
                event.topic, topic,
                "GET /events?topic= lists only that topic"
            );
            assert!(
                ids.insert(event.event_id.clone()),
                "GET /events repeated {}",
                event.event_id
            );
            events.push(event);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return events,
        }
    }
}

/// Each of `sent` is the `sent_as.field` of exactly one of `stored`, and nothing else is
/// stored. `context` (e.g. the client's output) is shown when it fails.
pub fn assert_each_stored_once(sent: &[String], stored: &[Listed], sent_as: Sent, context: &str) {
    let Sent { noun, field } = sent_as;
    let mut times: HashMap<&str, usize> = HashMap::new();
    for event in stored {
        *times.entry(event.text(field)).or_default() += 1;
    }
    let missing: Vec<&String> = sent
        .iter()
        .filter(|text| !times.contains_key(text.as_str()))
        .collect();
    let repeated: Vec<(&str, usize)> = times
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(text, count)| (*text, *count))
        .collect();
    let expected: HashSet<&str> = sent.iter().map(String::as_str).collect();
    let foreign: Vec<&str> = times
        .keys()
        .copied()
        .filter(|text| !expected.contains(text))
        .collect();
    assert!(
        missing.is_empty() && repeated.is_empty() && foreign.is_empty(),
        "of {} {noun}s sent, {} stored events: {} missing (first: {:?}), {} stored more than \
         once (first: {:?}), {} never sent (first: {:?})\n{context}",
        sent.len(),
        stored.len(),
        missing.len(),
        missing.first(),
        repeated.len(),
        repeated.first(),
        foreign.len(),
        foreign.first(),
    );
    assert_eq!(stored.len(), sent.len(), "stored events vs {noun}s sent");
}

/// Waits until `db` holds `expected` rows, at most `deadline`; otherwise fails with
/// `<n> of <expected> <noun>s stored within <deadline>` followed by `context()` (e.g. the
/// client's output, read only then).
pub async fn wait_for_rows(
    db: &TestDb,
    expected: usize,
    deadline: Duration,
    sent_as: Sent,
    context: impl FnOnce() -> String,
) {
    let client = db.client().await;
    let all = rows_reach(&client, expected as u64, deadline).await;
    assert!(
        all,
        "{} of {expected} {}s stored within {deadline:?}{}",
        count_rows(&client).await,
        sent_as.noun,
        context(),
    );
}

/// Checks the counters of the aggregator at `base_url` are exact: `unique_processed` reaches
/// `unique` within 10 s and `received = unique + duplicates`. Returns them for the figures.
pub async fn assert_counters_exact(base_url: &str, unique: u64, sent_as: Sent) -> ServerStats {
    let exact = wait_until(
        || async move { get_stats(base_url).await.unique_processed == unique },
        COUNTERS_DEADLINE,
    )
    .await;
    let stats = get_stats(base_url).await;
    assert!(
        exact,
        "unique_processed {} vs {unique} {}s",
        stats.unique_processed, sent_as.noun
    );
    assert_eq!(
        stats.received,
        stats.unique_processed + stats.duplicate_dropped,
        "received vs unique + duplicates"
    );
    stats
}
