use std::collections::HashSet;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

fn key<'a>(topic: &'a str, event_id: &'a str) -> EventKey<'a> {
    EventKey { topic, event_id }
}

#[test]
fn an_inserted_key_is_found_and_an_unseen_one_is_not() {
    let mut recent = RecentKeys::new(KeyBudget::new(100), None);
    recent.insert(key("orders", "1"));
    assert!(recent.contains(key("orders", "1")));
    assert!(!recent.contains(key("orders", "2")));
    assert!(!recent.contains(key("payments", "1")));
}

#[test]
fn keys_that_only_differ_in_where_topic_and_id_split_are_different() {
    let mut recent = RecentKeys::new(KeyBudget::new(100), None);
    recent.insert(key("ab", "c"));
    assert!(!recent.contains(key("a", "bc")));
    assert!(!recent.contains(key("abc", "")));
}

#[test]
fn memory_stays_within_the_budget_and_keeps_the_most_recent_keys() {
    let budget = 1_000;
    let mut recent = RecentKeys::new(KeyBudget::new(budget), None);
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
    let mut recent = RecentKeys::new(KeyBudget::new(0), None);
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
        let mut recent = RecentKeys::new(KeyBudget::new(budget), None);
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
    let recent = RecentKeys::new(KeyBudget::new(1_000), None);
    for n in 0..1_000 {
        assert!(!recent.contains(key("t", &n.to_string())));
    }
}

/// The budget is shared: together, shards stay within it (plus one small generation each of
/// slack), a busy shard may use most of it, and a dropped shard gives its keys back.
#[test]
fn shards_share_one_budget_and_give_keys_back_when_dropped() {
    let budget = KeyBudget::new(20_000);
    let mut busy = RecentKeys::new(budget.clone(), None);
    let mut quiet = RecentKeys::new(budget.clone(), None);
    let ids: Vec<String> = (0..200_000).map(|n| n.to_string()).collect();
    for (n, id) in ids.iter().enumerate() {
        busy.insert(key("busy", id));
        if n % 50 == 0 {
            quiet.insert(key("quiet", id));
        }
        assert!(
            budget.used() <= 20_000 + 2 * MIN_GENERATION,
            "over budget: {}",
            budget.used()
        );
        assert_eq!(budget.used(), busy.len() + quiet.len());
    }
    assert!(
        busy.len() > quiet.len(),
        "the busy shard holds more of the budget"
    );
    // The most recent keys of the busy shard are still answered from memory.
    assert!(busy.contains(key("busy", &ids[ids.len() - 1])));

    drop(busy);
    assert_eq!(budget.used(), quiet.len());
}

#[test]
fn a_generation_older_than_the_trust_window_answers_nothing_and_a_fresh_one_takes_over() {
    let trust = Duration::from_millis(200);
    let mut recent = RecentKeys::new(KeyBudget::new(1_000), Some(trust));
    recent.insert(key("logs", "old"));
    assert!(recent.contains(key("logs", "old")));
    std::thread::sleep(trust + Duration::from_millis(20));
    // Its row may have expired by now: the database decides.
    assert!(!recent.contains(key("logs", "old")));
    // The next insert rotates the stale generation out; the new key is trusted again.
    recent.insert(key("logs", "new"));
    assert!(recent.contains(key("logs", "new")));
    assert!(!recent.contains(key("logs", "old")));
}

#[test]
fn a_zero_trust_window_turns_the_fast_path_off() {
    let mut recent = RecentKeys::new(KeyBudget::new(1_000), Some(Duration::ZERO));
    recent.insert(key("logs", "1"));
    assert!(!recent.contains(key("logs", "1")));
    assert!(recent.is_empty());
}

#[test]
fn forgetting_a_topic_drops_its_keys_only_and_gives_them_back_to_the_budget() {
    let budget = KeyBudget::new(1_000);
    let mut recent = RecentKeys::new(budget.clone(), None);
    for id in 0..10 {
        recent.insert(key("purged", &id.to_string()));
        recent.insert(key("purged.child", &id.to_string()));
        recent.insert(key("kept", &id.to_string()));
    }
    assert_eq!(budget.used(), 30);
    recent.forget_topic("purged");
    assert!(!recent.contains(key("purged", "3")));
    assert!(recent.contains(key("purged.child", "3")));
    assert!(recent.contains(key("kept", "3")));
    assert_eq!(budget.used(), 20);
    assert_eq!(recent.len(), 20);
}
