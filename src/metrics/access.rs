//! Metrics of API keys: answers per key name and status, events published per key, requests
//! refused before any key was recognised. Key names come from the keys file, so the label's
//! cardinality is bounded by it; keys themselves never appear.

use ::metrics::Label;

use super::registry::{counter, Metrics, AUTH_REFUSALS, KEY_EVENTS, KEY_REQUESTS};

impl Metrics {
    /// A request made with the key `name` was answered `status`.
    pub fn key_answered(&self, name: &str, status: u16) {
        let labels = vec![
            Label::new("key", name.to_owned()),
            Label::new("status", status.to_string()),
        ];
        counter(self.recorder(), KEY_REQUESTS, labels).increment(1);
    }

    /// The key `name` published `events` events that were acknowledged.
    pub fn key_published(&self, name: &str, events: usize) {
        let labels = vec![Label::new("key", name.to_owned())];
        counter(self.recorder(), KEY_EVENTS, labels).increment(events as u64);
    }

    /// A request was answered `401`, for `reason` (`missing` or `unknown`).
    pub fn auth_refused(&self, reason: &'static str) {
        let labels = vec![Label::new("reason", reason)];
        counter(self.recorder(), AUTH_REFUSALS, labels).increment(1);
    }
}
