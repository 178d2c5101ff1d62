//! The workload generator: a reproducible stream of requests with a controlled share of
//! duplicates. Pure and synchronous; the workers of a stream (`worker.rs`) pull [`Batch`]es from it.
//!
//! Every distinct key has an index `k` (0, 1, 2, ... in order of first appearance). Everything
//! about event `k` (topic, id, timestamp, source, payload) is a pure function of the seed, the run
//! id and `k`, so a duplicate is an exact re-send of the original and nothing is remembered per
//! key. A stream-level RNG, seeded from the seed alone, decides which positions are duplicates,
//! which earlier key each duplicate re-sends, and how large each request is.
//!
//! The number of duplicates is exact: `round(events × ratio)` (at most `events - 1`, since the
//! first event cannot re-send anything), placed at random by sampling without replacement.
//! A duplicate re-sends, by turns, a key from the same request, a recent key, or any earlier key
//! (usually one generated much earlier in the stream).

use chrono::{DateTime, Duration as TimeDelta, SecondsFormat, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Topic names; past the tenth, names repeat with a numeric suffix.
const TOPIC_NAMES: [&str; 10] = [
    "orders",
    "payments",
    "auth",
    "inventory",
    "shipping",
    "billing",
    "search",
    "notifications",
    "users",
    "audit",
];
const SOURCES: [&str; 5] = ["api-gateway", "checkout", "worker", "scheduler", "edge"];
const LEVELS: [&str; 4] = ["debug", "info", "warn", "error"];
const MESSAGES: [&str; 6] = [
    "request completed",
    "cache miss",
    "retrying upstream call",
    "user signed in",
    "job finished",
    "payment authorised",
];
/// Filler for the payload's `detail` field.
const LOREM: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod \
                     tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam ";
/// How far back a "recent" duplicate reaches, in keys.
const RECENT_WINDOW: u64 = 64;

/// How many events each request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchShape {
    /// Every request has this many events (the last one may have fewer).
    Fixed(usize),
    /// About half the requests carry one event, the rest 2 to `max` events.
    Mixed {
        /// Largest request.
        max: usize,
    },
}

/// Default number of events sent (duplicates included).
pub const DEFAULT_EVENTS: u64 = 5_000;
/// Default share of the sent events that re-send an earlier event.
pub const DEFAULT_DUPLICATE_RATIO: f64 = 0.2;
/// Default number of topics.
pub const DEFAULT_TOPICS: u32 = 10;
/// Default events per request.
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// Default approximate size of one payload object; the whole event is about 100 bytes more.
pub const DEFAULT_PAYLOAD_BYTES: usize = 200;

/// The workload as a person asks for it (`publish` and `bench ceiling` share these flags);
/// [`WorkloadOptions::spec`] turns it into the exact [`WorkloadSpec`] of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadOptions {
    /// Events to send, duplicates included.
    pub events: u64,
    /// Share of the sent events that re-send an event already generated, in `[0, 1)`.
    pub duplicate_ratio: f64,
    /// Number of distinct topics (at least 1).
    pub topics: u32,
    /// Events per request; 1 sends single-event POSTs.
    pub batch_size: usize,
    /// Mix request shapes: about half single events, the rest 2 to `batch_size` events.
    pub mixed: bool,
    /// Approximate size of each event's payload object, in bytes.
    pub payload_bytes: usize,
    /// Seed of the stream; the same seed gives the same keys. A fresh one when `None`.
    pub seed: Option<u64>,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        Self {
            events: DEFAULT_EVENTS,
            duplicate_ratio: DEFAULT_DUPLICATE_RATIO,
            topics: DEFAULT_TOPICS,
            batch_size: DEFAULT_BATCH_SIZE,
            mixed: false,
            payload_bytes: DEFAULT_PAYLOAD_BYTES,
            seed: None,
        }
    }
}

impl WorkloadOptions {
    /// The spec of one run: event ids start with `run_prefix` and the seed in hex. Without a
    /// seed, one is drawn from the clock and the OS's randomness, so that two runs never share
    /// keys. Timestamps start now.
    pub fn spec(&self, run_prefix: char) -> WorkloadSpec {
        let seed = self.seed.unwrap_or_else(fresh_seed);
        WorkloadSpec {
            seed,
            run_id: format!("{run_prefix}{seed:016x}"),
            events: self.events,
            duplicate_ratio: self.duplicate_ratio,
            topics: self.topics.max(1),
            shape: match self.mixed {
                true => BatchShape::Mixed {
                    max: self.batch_size.max(1),
                },
                false => BatchShape::Fixed(self.batch_size.max(1)),
            },
            payload_bytes: self.payload_bytes,
            base_time: Utc::now(),
        }
    }
}

/// A seed for a run without one: the time mixed with OS randomness.
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    nanos ^ rand::random::<u64>()
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    /// Drives every random choice.
    pub seed: u64,
    /// Prefix of every event id; two runs share keys exactly when they share it.
    pub run_id: String,
    /// Events to send, duplicates included.
    pub events: u64,
    /// Requested share of duplicates, in `[0, 1)`.
    pub duplicate_ratio: f64,
    /// Number of topics (at least 1).
    pub topics: u32,
    /// Request sizes.
    pub shape: BatchShape,
    /// Approximate size of one payload object, in bytes.
    pub payload_bytes: usize,
    /// Timestamp of key 0; key `k` is `k` milliseconds later.
    pub base_time: DateTime<Utc>,
}

impl WorkloadSpec {
    /// Exactly how many of the events will be duplicates.
    pub fn planned_duplicates(&self) -> u64 {
        let wanted = (self.events as f64 * self.duplicate_ratio.clamp(0.0, 1.0)).round() as u64;
        wanted.min(self.events.saturating_sub(1))
    }

    /// Exactly how many distinct keys the stream contains.
    pub fn planned_distinct(&self) -> u64 {
        self.events - self.planned_duplicates()
    }
}

/// One generated event, ready to serialise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedEvent {
    /// Index of the event's key, in order of first appearance.
    pub key: u64,
    /// `true` when this is a re-send of an earlier event.
    pub duplicate: bool,
    /// The topic.
    pub topic: String,
    /// `<run id>-<key>`.
    pub event_id: String,
    /// RFC 3339, millisecond precision.
    pub timestamp: String,
    /// The producing service.
    pub source: String,
    /// A JSON object, as text.
    pub payload: String,
}

/// The events of one request, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Position of the first event in the stream.
    pub first_position: u64,
    /// The events.
    pub events: Vec<GeneratedEvent>,
}

/// Iterator over the requests of one run.
#[derive(Debug)]
pub struct Workload {
    spec: WorkloadSpec,
    rng: SmallRng,
    /// Events handed out so far.
    emitted: u64,
    /// Duplicates still to place.
    duplicates_left: u64,
    /// Keys generated so far; the next new key gets this index.
    next_key: u64,
}

impl Workload {
    /// A generator for `spec`.
    pub fn new(spec: WorkloadSpec) -> Self {
        let duplicates_left = spec.planned_duplicates();
        Self {
            rng: SmallRng::seed_from_u64(spec.seed),
            spec,
            emitted: 0,
            duplicates_left,
            next_key: 0,
        }
    }

    /// What is being generated.
    pub fn spec(&self) -> &WorkloadSpec {
        &self.spec
    }

    fn next_batch_len(&mut self) -> usize {
        let remaining = self.spec.events - self.emitted;
        let wanted = match self.spec.shape {
            BatchShape::Fixed(size) => size.max(1),
            BatchShape::Mixed { max } if max >= 2 && self.rng.gen_bool(0.5) => {
                self.rng.gen_range(2..=max)
            }
            BatchShape::Mixed { .. } => 1,
        };
        usize::try_from(remaining).map_or(wanted, |remaining| wanted.min(remaining))
    }

    /// Sampling without replacement: the chance of a duplicate is what is left to place over
    /// the positions left, so exactly `planned_duplicates` are placed. The first event is
    /// always new (nothing to re-send yet).
    fn next_is_duplicate(&mut self) -> bool {
        let positions_left = self.spec.events - self.emitted;
        if self.next_key == 0 || self.duplicates_left == 0 {
            return false;
        }
        if self.duplicates_left >= positions_left {
            return true;
        }
        self.rng.gen_range(0..positions_left) < self.duplicates_left
    }

    /// Which earlier key a duplicate re-sends: from this request, a recent one or any.
    fn pick_original(&mut self, batch_first_key: u64) -> u64 {
        let generated = self.next_key; // > 0: a duplicate is only placed once a key exists
        let roll: f64 = self.rng.gen();
        let low = if roll < 0.3 && batch_first_key < generated {
            batch_first_key
        } else if roll < 0.55 {
            generated.saturating_sub(RECENT_WINDOW)
        } else {
            0
        };
        self.rng.gen_range(low..generated)
    }
}

impl Iterator for Workload {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.emitted >= self.spec.events {
            return None;
        }
        let first_position = self.emitted;
        let len = self.next_batch_len();
        let batch_first_key = self.next_key;
        let mut events = Vec::with_capacity(len);
        for _ in 0..len {
            let duplicate = self.next_is_duplicate();
            let key = if duplicate {
                self.duplicates_left -= 1;
                self.pick_original(batch_first_key)
            } else {
                self.next_key += 1;
                self.next_key - 1
            };
            events.push(event_for_key(&self.spec, key, duplicate));
            self.emitted += 1;
        }
        debug_assert!(self.emitted < self.spec.events || self.duplicates_left == 0);
        Some(Batch {
            first_position,
            events,
        })
    }
}

/// The event with key index `key`: a pure function of the spec's seed, run id and `key`.
pub fn event_for_key(spec: &WorkloadSpec, key: u64, duplicate: bool) -> GeneratedEvent {
    let mut rng = key_rng(spec, key);
    let topic = draw_topic(spec, &mut rng);
    let millis = i64::try_from(key).unwrap_or(i64::MAX);
    let timestamp = spec
        .base_time
        .checked_add_signed(TimeDelta::milliseconds(millis))
        .unwrap_or(spec.base_time);
    GeneratedEvent {
        key,
        duplicate,
        topic,
        event_id: event_id(spec, key),
        timestamp: timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        source: SOURCES[rng.gen_range(0..SOURCES.len())].to_string(),
        payload: payload(&mut rng, key, spec.payload_bytes),
    }
}

/// The `(topic, event_id)` of key index `key`, as [`event_for_key`] makes it, without the rest
/// of the event (cheap enough to list every key of a stream).
pub fn key_for(spec: &WorkloadSpec, key: u64) -> (String, String) {
    let topic = draw_topic(spec, &mut key_rng(spec, key));
    (topic, event_id(spec, key))
}

/// A per-key RNG, so that a re-send is byte-identical without remembering anything.
fn key_rng(spec: &WorkloadSpec, key: u64) -> SmallRng {
    SmallRng::seed_from_u64(spec.seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The topic: the first draw of the key's RNG.
fn draw_topic(spec: &WorkloadSpec, rng: &mut SmallRng) -> String {
    let topic_index = rng.gen_range(0..spec.topics.max(1)) as usize;
    let name = TOPIC_NAMES[topic_index % TOPIC_NAMES.len()];
    match topic_index / TOPIC_NAMES.len() {
        0 => name.to_string(),
        round => format!("{name}-{round}"),
    }
}

fn event_id(spec: &WorkloadSpec, key: u64) -> String {
    format!("{}-{key:08}", spec.run_id)
}

/// A JSON object of about `target_bytes` bytes (never less than its fixed fields).
fn payload(rng: &mut SmallRng, key: u64, target_bytes: usize) -> String {
    let head = format!(
        r#"{{"level":"{}","message":"{}","seq":{key},"user_id":{},"latency_ms":{},"detail":""#,
        LEVELS[rng.gen_range(0..LEVELS.len())],
        MESSAGES[rng.gen_range(0..MESSAGES.len())],
        rng.gen_range(1..100_000u32),
        rng.gen_range(1..2_000u32),
    );
    let filler_len = target_bytes.saturating_sub(head.len() + 2);
    let start = rng.gen_range(0..LOREM.len());
    let mut body = head;
    body.reserve(filler_len + 2);
    // LOREM is ASCII, so any byte offset is a char boundary.
    body.extend(LOREM.chars().cycle().skip(start).take(filler_len));
    body.push_str("\"}");
    body
}

#[cfg(test)]
mod tests;
