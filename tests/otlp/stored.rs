//! What the aggregator holds for one topic, read back the way a user would (`GET /events` to
//! the last page), and the check that every logged message is stored there exactly once.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

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
    /// The record's body (`""` when it is not a string).
    pub fn body(&self) -> &str {
        self.payload["body"].as_str().unwrap_or_default()
    }
}

/// Every event of `topic`, page after page; fails if a page repeats an event id, which would
/// make a count hide a lost record.
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
            assert_eq!(event.topic, topic, "GET /events?topic= lists that topic");
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

/// Each of `sent` is the body of exactly one of `stored`, and nothing else is stored.
/// `context` (e.g. the exporter's output) is shown when it fails.
pub fn assert_each_record_stored_once(sent: &[String], stored: &[Listed], context: &str) {
    let mut times: HashMap<&str, usize> = HashMap::new();
    for event in stored {
        *times.entry(event.body()).or_default() += 1;
    }
    let missing: Vec<&String> = sent
        .iter()
        .filter(|message| !times.contains_key(message.as_str()))
        .collect();
    let repeated: Vec<(&str, usize)> = times
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(message, count)| (*message, *count))
        .collect();
    let expected: HashSet<&str> = sent.iter().map(String::as_str).collect();
    let foreign: Vec<&str> = times
        .keys()
        .copied()
        .filter(|message| !expected.contains(message))
        .collect();
    assert!(
        missing.is_empty() && repeated.is_empty() && foreign.is_empty(),
        "of {} records sent, {} stored events: {} missing (first: {:?}), {} stored more than \
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
    assert_eq!(stored.len(), sent.len(), "stored events vs records sent");
}
