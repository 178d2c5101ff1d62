use std::collections::{HashMap, HashSet};

use chrono::TimeZone;

use super::*;

fn spec(seed: u64, events: u64, ratio: f64, shape: BatchShape) -> WorkloadSpec {
    WorkloadSpec {
        seed,
        run_id: format!("s{seed}"),
        events,
        duplicate_ratio: ratio,
        topics: 10,
        shape,
        payload_bytes: 200,
        base_time: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
    }
}

fn all_events(spec: WorkloadSpec) -> Vec<(u64, GeneratedEvent)> {
    Workload::new(spec)
        .enumerate()
        .flat_map(|(batch, b)| b.events.into_iter().map(move |e| (batch as u64, e)))
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_stream_and_another_seed_does_not() {
    let shape = BatchShape::Mixed { max: 20 };
    let first: Vec<Batch> = Workload::new(spec(7, 2_000, 0.2, shape)).collect();
    let again: Vec<Batch> = Workload::new(spec(7, 2_000, 0.2, shape)).collect();
    let other: Vec<Batch> = Workload::new(spec(8, 2_000, 0.2, shape)).collect();
    assert_eq!(first, again);
    assert_ne!(first, other);
}

#[test]
fn the_stream_has_exactly_the_requested_events_duplicates_and_distinct_keys() {
    for (events, ratio) in [
        (10_000, 0.2),
        (1_000, 0.0),
        (1_000, 0.5),
        (1, 0.2),
        (3, 0.9),
    ] {
        let spec = spec(42, events, ratio, BatchShape::Fixed(37));
        let (planned_dups, planned_distinct) = (spec.planned_duplicates(), spec.planned_distinct());
        let stream = all_events(spec);
        let duplicates = stream.iter().filter(|(_, e)| e.duplicate).count() as u64;
        let distinct: HashSet<(&str, &str)> = stream
            .iter()
            .map(|(_, e)| (e.topic.as_str(), e.event_id.as_str()))
            .collect();
        assert_eq!(stream.len() as u64, events);
        assert_eq!(duplicates, planned_dups);
        assert_eq!(distinct.len() as u64, planned_distinct, "{events} {ratio}");
        let share = duplicates as f64 / events as f64;
        assert!(
            events < 100 || (share - ratio).abs() < 0.01,
            "{share} vs {ratio}"
        );
    }
}

#[test]
fn duplicates_only_resend_keys_generated_earlier_and_byte_for_byte() {
    let stream = all_events(spec(3, 5_000, 0.3, BatchShape::Mixed { max: 50 }));
    let mut originals: HashMap<u64, &GeneratedEvent> = HashMap::new();
    for (_, event) in &stream {
        match originals.get(&event.key) {
            Some(original) => {
                assert!(event.duplicate, "key {} sent twice as new", event.key);
                assert_eq!(original.event_id, event.event_id);
                assert_eq!(original.payload, event.payload);
                assert_eq!(original.timestamp, event.timestamp);
            }
            None => {
                assert!(
                    !event.duplicate,
                    "key {} re-sent before it was sent",
                    event.key
                );
                assert_eq!(
                    event.key,
                    originals.len() as u64,
                    "new keys are numbered in order"
                );
                originals.insert(event.key, event);
            }
        }
    }
}

#[test]
fn some_duplicates_land_in_the_same_batch_and_some_much_later() {
    let stream = all_events(spec(11, 20_000, 0.2, BatchShape::Fixed(100)));
    let mut first_seen: HashMap<u64, (usize, u64)> = HashMap::new();
    let (mut same_batch, mut far) = (0, 0);
    for (position, (batch, event)) in stream.iter().enumerate() {
        match first_seen.get(&event.key) {
            Some(&(_, in_batch)) if in_batch == *batch => same_batch += 1,
            Some(&(at, _)) if position - at > 5_000 => far += 1,
            Some(_) => {}
            None => {
                first_seen.insert(event.key, (position, *batch));
            }
        }
    }
    assert!(
        same_batch > 200,
        "only {same_batch} duplicates in the same batch"
    );
    assert!(
        far > 200,
        "only {far} duplicates more than 5000 events later"
    );
}

#[test]
fn fixed_batches_have_the_requested_size_and_the_last_one_the_rest() {
    let sizes: Vec<usize> = Workload::new(spec(1, 250, 0.2, BatchShape::Fixed(100)))
        .map(|batch| batch.events.len())
        .collect();
    assert_eq!(sizes, vec![100, 100, 50]);
}

#[test]
fn mixed_batches_contain_singles_and_larger_requests() {
    let sizes: Vec<usize> = Workload::new(spec(5, 5_000, 0.2, BatchShape::Mixed { max: 50 }))
        .map(|batch| batch.events.len())
        .collect();
    let singles = sizes.iter().filter(|&&len| len == 1).count();
    assert!(
        singles > sizes.len() / 3,
        "{singles} singles of {}",
        sizes.len()
    );
    assert!(sizes.iter().any(|&len| len > 10));
    assert!(sizes.iter().all(|&len| (1..=50).contains(&len)));
}

#[test]
fn events_are_about_300_bytes_of_valid_json_at_the_default_payload_size() {
    let spec = spec(9, 100, 0.0, BatchShape::Fixed(1));
    for batch in Workload::new(spec) {
        let event = &batch.events[0];
        let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
        assert!(payload.is_object());
        let wire = serde_json::json!({
            "topic": event.topic, "event_id": event.event_id, "timestamp": event.timestamp,
            "source": event.source, "payload": payload,
        })
        .to_string();
        assert!(
            (250..350).contains(&wire.len()),
            "{} bytes: {wire}",
            wire.len()
        );
        assert!(crate::event::parse_timestamp(&event.timestamp).is_ok());
    }
}

#[test]
fn more_than_ten_topics_get_distinct_names() {
    let mut spec = spec(2, 2_000, 0.0, BatchShape::Fixed(10));
    spec.topics = 25;
    let topics: HashSet<String> = all_events(spec).into_iter().map(|(_, e)| e.topic).collect();
    assert_eq!(topics.len(), 25);
}

#[test]
fn key_for_names_the_key_of_the_generated_event() {
    let spec = spec(9, 500, 0.2, BatchShape::Fixed(50));
    for (_, event) in all_events(spec.clone()) {
        assert_eq!(key_for(&spec, event.key), (event.topic, event.event_id));
    }
}
