//! The stream a [`super::Publisher`] sends: distinct keys spread over many topics, plus
//! duplicates that re-send earlier keys, cut into batches; reproducible from a seed.

use std::collections::HashSet;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::common::db::Key;

/// The stream to send.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Events in the stream, duplicates included.
    pub events: usize,
    /// Topics the distinct keys are spread over (round robin).
    pub topics: usize,
    /// Share of events that re-send an earlier key.
    pub duplicate_ratio: f64,
    /// Events per request.
    pub batch_size: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Pause of each worker after each batch (to stretch a stream over a fault).
    pub pace: Duration,
    /// Seed of the generator (the stream is reproducible).
    pub seed: u64,
}

/// One request of the stream: its keys, in order, and its body.
pub(super) struct Batch {
    pub(super) keys: Vec<Key>,
    pub(super) body: Vec<u8>,
}

/// The stream: new keys go round robin over the topics; with probability `duplicate_ratio` an
/// event re-sends a random earlier key instead (in the same batch or an earlier one).
pub(super) fn generate(spec: &StreamSpec) -> (Vec<Batch>, HashSet<Key>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
    let mut distinct: Vec<Key> = Vec::new();
    let mut stream: Vec<Key> = Vec::with_capacity(spec.events);
    for _ in 0..spec.events {
        if !distinct.is_empty() && rng.gen_bool(spec.duplicate_ratio) {
            let earlier = rng.gen_range(0..distinct.len());
            stream.push(distinct[earlier].clone());
        } else {
            let n = distinct.len();
            let key = (format!("topic-{}", n % spec.topics), format!("event-{n}"));
            distinct.push(key.clone());
            stream.push(key);
        }
    }
    let batches = stream
        .chunks(spec.batch_size)
        .map(|keys| {
            let events: Vec<Value> = keys
                .iter()
                .map(|(topic, id)| {
                    json!({"topic": topic, "event_id": id, "timestamp": "2024-05-01T12:00:00Z",
                           "source": "fault-suite", "payload": {"id": id, "level": "info"}})
                })
                .collect();
            Batch {
                keys: keys.to_vec(),
                body: serde_json::to_vec(&json!({ "events": events })).unwrap(),
            }
        })
        .collect();
    (batches, distinct.into_iter().collect())
}
