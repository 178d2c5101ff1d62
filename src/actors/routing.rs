//! Which shard owns a topic.
//!
//! The hash must be stable across processes, restarts and Rust releases, because several
//! aggregators sharing one database, and one aggregator before and after a restart, must agree
//! that a topic belongs to the same shard (its counter row and its commit order live there).
//! `std`'s `DefaultHasher` promises none of that, so this is 64-bit FNV-1a, written out.

use crate::store::ShardId;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The shard, in `0..shard_count`, that owns `topic`.
pub fn shard_for_topic(topic: &str, shard_count: u32) -> ShardId {
    debug_assert!(shard_count > 0, "a tree always has at least one shard");
    let hash = topic.bytes().fold(FNV_OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    });
    // cannot fail: the remainder is below shard_count, itself a u32
    ShardId::try_from(hash % u64::from(shard_count.max(1))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_published_fnv1a() {
        // Reference values of 64-bit FNV-1a; a change here would re-home every topic.
        assert_eq!(
            shard_for_topic("", u32::MAX),
            (0xcbf2_9ce4_8422_2325u64 % u64::from(u32::MAX)) as u32
        );
        assert_eq!(
            shard_for_topic("a", u32::MAX),
            (0xaf63_dc4c_8601_ec8cu64 % u64::from(u32::MAX)) as u32
        );
    }

    #[test]
    fn topics_spread_over_every_shard() {
        let mut seen = [0u32; 4];
        for index in 0..400 {
            seen[shard_for_topic(&format!("topic-{index}"), 4) as usize] += 1;
        }
        assert!(
            seen.iter().all(|&count| count > 50),
            "uneven spread: {seen:?}"
        );
    }
}
