//! `GET /events` read to the end, as the fault suite checks what a store lists.

use std::collections::HashSet;

use serde::Deserialize;

use crate::common::db::Key;

/// One `GET /events` page, as far as the fault suite reads it.
#[derive(Deserialize)]
pub struct Page {
    pub events: Vec<Listed>,
    pub next_cursor: Option<String>,
}

/// One listed event.
#[derive(Deserialize)]
pub struct Listed {
    pub seq: i64,
    pub topic: String,
    pub event_id: String,
}

/// Every stored key, read through `GET /events` pagination; also checks that no page repeats
/// an event (which would hide a lost one in a count).
pub async fn keys_via_events(base_url: &str) -> HashSet<Key> {
    let client = reqwest::Client::new();
    let mut keys = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(format!("{base_url}/events"))
            .query(&[("limit", "1000")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "GET /events");
        let page: Page = response.json().await.unwrap();
        for event in page.events {
            let key = (event.topic, event.event_id);
            assert!(keys.insert(key.clone()), "GET /events repeated {key:?}");
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return keys,
        }
    }
}
