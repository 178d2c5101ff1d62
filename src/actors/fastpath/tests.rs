use std::collections::HashSet;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

fn key<'a>(topic: &'a str, event_id: &'a str) -> EventKey<'a> {
    EventKey { topic, event_id }
}

#[test]
fn an_inserted_key_is_found_and_an_unseen_one_is_not() {
    let mut recent = RecentKeys::new(100);
    recent.insert(key("orders", "1"));
    assert!(recent.contains(key("orders", "1")));
    assert!(!recent.contains(key("orders", "2")));
    assert!(!recent.contains(key("payments", "1")));
}

#[test]
fn keys_that_only_differ_in_where_topic_and_id_split_are_different() {
    let mut recent = RecentKeys::new(100);
    recent.insert(key("ab", "c"));
    assert!(!recent.contains(key("a", "bc")));
    assert!(!recent.contains(key("abc", "")));
}

#[test]
fn memory_stays_within_the_budget_and_keeps_the_most_recent_keys() {
    let budget = 1_000;
    let mut recent = RecentKeys::new(budget);
    let ids: Vec<String> = (0..10_000).map(|n| n.to_string()).collect();
    for id in &ids {
        recent.insert(key("t", id));
        assert!(recent.len() <= budget);
    }
    // The newest half of the budget is always remembered.
    for id in &ids[ids.len() - budget / 2..] {
        assert!(recent.contains(key("t", id)), "recent key {id} forgotten");
    }
}

#[test]
fn a_zero_budget_remembers_nothing() {
    let mut recent = RecentKeys::new(0);
    recent.insert(key("t", "1"));
    assert!(recent.is_empty());
    assert!(!recent.contains(key("t", "1")));
}

/// The property the fast path exists under: across random streams with evictions, it never
/// claims a key it was not given (no false duplicate), and every "no" is merely a cache miss.
#[test]
fn random_streams_never_produce_a_false_duplicate() {
    for seed in 0..20u64 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let budget = rng.gen_range(0..300);
        let mut recent = RecentKeys::new(budget);
        let mut committed: HashSet<(String, String)> = HashSet::new();
        for _ in 0..5_000 {
            let topic = format!("t{}", rng.gen_range(0..5));
            let event_id = format!("{}", rng.gen_range(0..2_000));
            if rng.gen_bool(0.5) {
                recent.insert(key(&topic, &event_id));
                committed.insert((topic, event_id));
            } else if recent.contains(key(&topic, &event_id)) {
                assert!(
                    committed.contains(&(topic.clone(), event_id.clone())),
                    "seed {seed}: false duplicate for {topic}/{event_id}"
                );
            }
        }
    }
}

/// A restarted shard starts cold: nothing is claimed until it is committed again.
#[test]
fn a_fresh_fast_path_claims_nothing() {
    let recent = RecentKeys::new(1_000);
    for n in 0..1_000 {
        assert!(!recent.contains(key("t", &n.to_string())));
    }
}
