//! The shard's fast path: a bounded, in-memory set of keys this shard saw committed.
//!
//! A key found here is certainly stored, so its event can be answered "duplicate" without an
//! index probe (it still rides in the next commit's counter update before it is acknowledged).
//! A key not found here may or may not be stored: it always goes to the database, which decides
//! through its unique constraint. Only committed keys are ever inserted, and a lookup compares
//! the full key, never just a hash, so the fast path can never produce a false "duplicate"
//! (design brief, guarantee 4).
//!
//! Memory is bounded by a key budget split over two generations: inserts go to the current
//! generation; when it is full it becomes the previous one and the old previous one is dropped
//! whole. Eviction is therefore O(1) amortised with no per-key bookkeeping, and the keys kept are
//! always the most recent `budget / 2` to `budget`. Each generation has a small bloom filter in
//! front of its map: most lookups are for new keys, and the filter answers those from a few
//! bits without touching the map's much larger memory.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use crate::event::EventKey;

/// Bloom filter bits per key of a generation's capacity (about 1% false positives with 7 probes).
const BLOOM_BITS_PER_KEY: usize = 10;
/// Probes per bloom lookup.
const BLOOM_PROBES: u64 = 7;

/// Recently committed keys of one shard, within a fixed budget.
pub struct RecentKeys {
    hasher: RandomState,
    generation_capacity: usize,
    current: Generation,
    previous: Generation,
}

impl RecentKeys {
    /// A fast path that remembers at most `budget` keys (0 disables it).
    pub fn new(budget: usize) -> Self {
        let generation_capacity = budget / 2;
        Self {
            hasher: RandomState::new(),
            generation_capacity,
            current: Generation::with_capacity(generation_capacity),
            previous: Generation::with_capacity(0),
        }
    }

    /// Whether `key` is known to be committed.
    pub fn contains(&self, key: EventKey<'_>) -> bool {
        let hash = self.hasher.hash_one(key);
        self.current.contains(hash, key) || self.previous.contains(hash, key)
    }

    /// Records that `key` is committed.
    pub fn insert(&mut self, key: EventKey<'_>) {
        if self.generation_capacity == 0 {
            return;
        }
        let hash = self.hasher.hash_one(key);
        if self.current.contains(hash, key) {
            return;
        }
        if self.current.len() >= self.generation_capacity {
            let fresh = Generation::with_capacity(self.generation_capacity);
            self.previous = std::mem::replace(&mut self.current, fresh);
        }
        self.current.insert(hash, key);
    }

    /// Keys currently remembered.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One generation: a bloom filter and a map from key hash to the full key.
struct Generation {
    bloom: Vec<u64>,
    /// Full keys as `topic NUL event_id`; topics cannot contain control characters, so the
    /// joined form is unambiguous. On the rare 64-bit hash collision the newer key replaces the
    /// older one, which only costs the older one a database probe later.
    keys: HashMap<u64, Box<str>, PassThroughHash>,
}

impl Generation {
    fn with_capacity(capacity: usize) -> Self {
        let bloom_words = (capacity * BLOOM_BITS_PER_KEY).div_ceil(64).max(1);
        Self {
            bloom: vec![0; bloom_words],
            keys: HashMap::with_capacity_and_hasher(capacity, PassThroughHash),
        }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn bloom_bits(&self, hash: u64) -> impl Iterator<Item = (usize, u64)> {
        let bits = (self.bloom.len() * 64) as u64;
        let (low, high) = (hash & 0xffff_ffff, (hash >> 32) | 1);
        (0..BLOOM_PROBES).map(move |probe| {
            let bit = low.wrapping_add(probe.wrapping_mul(high)) % bits;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    fn contains(&self, hash: u64, key: EventKey<'_>) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        let maybe = self
            .bloom_bits(hash)
            .all(|(word, mask)| self.bloom[word] & mask != 0);
        maybe
            && self
                .keys
                .get(&hash)
                .is_some_and(|stored| same_key(stored, key))
    }

    fn insert(&mut self, hash: u64, key: EventKey<'_>) {
        let bits: Vec<(usize, u64)> = self.bloom_bits(hash).collect();
        for (word, mask) in bits {
            self.bloom[word] |= mask;
        }
        let joined = format!("{}\u{0}{}", key.topic, key.event_id).into_boxed_str();
        self.keys.insert(hash, joined);
    }
}

fn same_key(stored: &str, key: EventKey<'_>) -> bool {
    stored.len() == key.topic.len() + 1 + key.event_id.len()
        && stored.starts_with(key.topic)
        && stored.as_bytes()[key.topic.len()] == 0
        && stored.ends_with(key.event_id)
}

/// The map's keys are already well-mixed 64-bit hashes: hashing them again is wasted work.
#[derive(Clone, Copy, Default)]
struct PassThroughHash;

impl BuildHasher for PassThroughHash {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

/// See [`PassThroughHash`].
#[derive(Default)]
struct PassThroughHasher(u64);

impl std::hash::Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; this fallback keeps the type total.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests;
