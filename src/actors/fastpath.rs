//! The shard's fast path: a bounded, in-memory set of keys this shard saw committed.
//!
//! A key found here is certainly stored, so its event can be answered "duplicate" without an
//! index probe (it still rides in the next commit's counter update before it is acknowledged).
//! A key not found here may or may not be stored: it always goes to the database, which decides
//! through its unique constraint. Only committed keys are ever inserted, and a lookup compares
//! the full key, never just a hash, so the fast path can never produce a false "duplicate"
//! (design brief, guarantee 4).
//!
//! Memory is bounded by one key budget shared by every shard of the process: topics hash to
//! shards unevenly, so a fixed share per shard would leave memory idle in quiet shards while
//! busy ones forget keys. Each shard keeps two generations: inserts go to the current one; when
//! it is full, or when the shared budget is spent, it becomes the previous one and the old
//! previous one is dropped whole (its keys are given back to the budget). Eviction is O(1)
//! amortised with no per-key bookkeeping; busy shards rotate more often and so hold more of the
//! budget. Each generation has a small bloom filter in front of its map: most lookups are for
//! new keys, and the filter answers those from a few bits without touching the map's memory.
//!
//! With retention in force a stored key does not stay stored: its row goes once its topic's
//! retention has passed. A generation is therefore trusted only while it is younger than the
//! *trust window* (the shortest retention in force, less a margin for commit time and clock
//! skew), and the current one is rotated once it is half that old; an untrusted hit goes to the
//! database like a miss. A purged topic's keys are dropped at once ([`RecentKeys::forget_topic`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::EventKey;

/// Bloom filter bits per key of a generation's capacity (about 1% false positives with 7 probes).
const BLOOM_BITS_PER_KEY: usize = 10;
/// Probes per bloom lookup.
const BLOOM_PROBES: u64 = 7;
/// A shard whose current generation is smaller than this does not rotate because the shared
/// budget is spent: rotating tiny generations would forget everything and free nothing.
const MIN_GENERATION: usize = 4_096;

/// The shortest trust window worth a fast path: below it, generations would rotate on almost
/// every insert for next to no hits.
const MIN_TRUST: Duration = Duration::from_secs(1);
/// Allowance for clocks: the store's, which stamps `received_at`, against this process's.
const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(1);

/// How long a shard's fast path may trust a key it saw inserted, given the shortest retention
/// in force (`None`: nothing expires, always) and the store timeout: the retention less what a
/// commit may take (a row's `received_at` may precede its key's arrival in memory by up to two
/// store timeouts, counting a resync) and the clocks' skew. Zero turns the fast path off.
pub fn trust_window(
    shortest_retention: Option<Duration>,
    store_timeout: Duration,
) -> Option<Duration> {
    let margin = store_timeout * 2 + CLOCK_SKEW_ALLOWANCE;
    shortest_retention
        .map(|shortest| shortest.saturating_sub(margin))
        .map(|trust| {
            if trust < MIN_TRUST {
                Duration::ZERO
            } else {
                trust
            }
        })
}

/// The process-wide key budget of the fast path, shared by every shard (cheap to clone).
#[derive(Debug, Clone)]
pub struct KeyBudget {
    limit: usize,
    used: Arc<AtomicUsize>,
}

impl KeyBudget {
    /// A budget of `limit` keys across all shards (0 turns the fast path off).
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Keys held by all shards together.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn is_spent(&self) -> bool {
        self.used() >= self.limit
    }
}

/// Recently committed keys of one shard, within the shared budget.
pub struct RecentKeys {
    hasher: RandomState,
    budget: KeyBudget,
    /// Largest generation: half the budget, so one shard alone may use all of it.
    generation_capacity: usize,
    /// How long after its creation a generation's keys may still be answered from memory
    /// (`None`: forever, when nothing expires).
    trust: Option<Duration>,
    current: Generation,
    previous: Generation,
}

impl RecentKeys {
    /// A shard's fast path drawing on `budget`, answering from a generation only while it is
    /// younger than `trust` (always when `None`; never when zero, which turns it off).
    pub fn new(budget: KeyBudget, trust: Option<Duration>) -> Self {
        let generation_capacity = if trust == Some(Duration::ZERO) {
            0
        } else {
            budget.limit / 2
        };
        Self {
            hasher: RandomState::new(),
            current: Generation::sized_for(generation_capacity),
            previous: Generation::sized_for(0),
            generation_capacity,
            trust,
            budget,
        }
    }

    /// Whether `key` is known to be committed, and still stored.
    pub fn contains(&self, key: EventKey<'_>) -> bool {
        let hash = self.hasher.hash_one(key);
        let trusted = |generation: &Generation| {
            self.trust
                .is_none_or(|trust| generation.born.elapsed() < trust)
        };
        (trusted(&self.current) && self.current.contains(hash, key))
            || (trusted(&self.previous) && self.previous.contains(hash, key))
    }

    /// Whether what it remembers is trusted only for a while (rows expire).
    pub fn trusts_for_a_while(&self) -> bool {
        self.trust.is_some()
    }

    /// Drops every key (rows were purged somewhere, which ones is not known).
    pub fn forget_everything(&mut self) {
        let forgotten = self.len();
        self.current = Generation::sized_for(self.generation_capacity);
        self.previous = Generation::sized_for(0);
        self.budget.used.fetch_sub(forgotten, Ordering::Relaxed);
    }

    /// Drops every key of `topic` (its rows were purged). O(keys held); purges are rare.
    pub fn forget_topic(&mut self, topic: &str) {
        let forgotten = self.current.forget_topic(topic) + self.previous.forget_topic(topic);
        self.budget.used.fetch_sub(forgotten, Ordering::Relaxed);
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
        let current_full = self.current.len() >= self.generation_capacity;
        let budget_spent = self.budget.is_spent() && self.current.len() >= MIN_GENERATION;
        // Half the trust window: the keys of a fresh generation stay trusted at least that long.
        let current_old = self
            .trust
            .is_some_and(|trust| self.current.born.elapsed() >= trust / 2);
        if current_full || budget_spent || current_old {
            let fresh = Generation::sized_for(self.generation_capacity);
            let dropped = std::mem::replace(
                &mut self.previous,
                std::mem::replace(&mut self.current, fresh),
            );
            self.budget.used.fetch_sub(dropped.len(), Ordering::Relaxed);
        }
        if self.current.insert(hash, key) {
            self.budget.used.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Keys this shard currently remembers.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for RecentKeys {
    /// A dead or stopped shard gives its keys back to the budget.
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.len(), Ordering::Relaxed);
    }
}

/// One generation: a bloom filter and a map from key hash to the full key.
struct Generation {
    /// When it was created: every key in it was committed after a commit that started no
    /// earlier than a store timeout before this.
    born: Instant,
    bloom: Vec<u64>,
    /// Full keys as `topic NUL event_id`; topics cannot contain control characters, so the
    /// joined form is unambiguous. On the rare 64-bit hash collision the newer key replaces the
    /// older one, which only costs the older one a database probe later.
    keys: HashMap<u64, Box<str>, PassThroughHash>,
}

impl Generation {
    /// The bloom filter is sized for `capacity` keys; the map grows as keys arrive, so a quiet
    /// shard does not reserve memory it never uses.
    fn sized_for(capacity: usize) -> Self {
        let bloom_words = (capacity * BLOOM_BITS_PER_KEY).div_ceil(64).max(1);
        Self {
            born: Instant::now(),
            bloom: vec![0; bloom_words],
            keys: HashMap::with_hasher(PassThroughHash),
        }
    }

    /// Removes the keys of `topic` (their bloom bits stay: a stale bit only costs a map
    /// lookup); returns how many went.
    fn forget_topic(&mut self, topic: &str) -> usize {
        let before = self.keys.len();
        self.keys.retain(|_, stored| {
            !(stored.len() > topic.len()
                && stored.starts_with(topic)
                && stored.as_bytes()[topic.len()] == 0)
        });
        before - self.keys.len()
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

    /// Adds `key`; returns whether the generation grew (a hash collision replaces instead).
    fn insert(&mut self, hash: u64, key: EventKey<'_>) -> bool {
        let bits: Vec<(usize, u64)> = self.bloom_bits(hash).collect();
        for (word, mask) in bits {
            self.bloom[word] |= mask;
        }
        let joined = format!("{}\u{0}{}", key.topic, key.event_id).into_boxed_str();
        self.keys.insert(hash, joined).is_none()
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
