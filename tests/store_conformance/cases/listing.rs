//! Cases about reading back: topics, ordering, filters, pagination, exact round trips.

use std::collections::HashSet;

use aggregator::event::Event;
use aggregator::store::EventQuery;
use chrono::{Duration, TimeZone, Utc};

use crate::backends::Backend;
use crate::fixtures::{base_time, commit, event, event_with, everything, keys, list_all};

pub async fn topics_are_listed_sorted_and_distinct(backend: Backend) {
    let store = backend.open().await;
    commit(
        &store,
        0,
        &[event("zeta", "1"), event("alpha", "1"), event("zeta", "2")],
    )
    .await;
    commit(
        &store,
        1,
        &[
            event("Mixed", "1"),
            event("alpha", "2"),
            event("beta.1", "1"),
        ],
    )
    .await;

    let topics = store.load_counters().await.unwrap().topics;

    // Byte order (C collation) on both backends: uppercase first.
    assert_eq!(topics, ["Mixed", "alpha", "beta.1", "zeta"]);
}

pub async fn within_a_topic_query_follows_commit_order(backend: Backend) {
    let store = backend.open().await;
    // Ids sort differently from commit order, and topics interleave across commits.
    commit(
        &store,
        0,
        &[event("t", "m"), event("u", "2"), event("t", "z")],
    )
    .await;
    commit(&store, 1, &[event("u", "1")]).await;
    commit(&store, 0, &[event("t", "a"), event("t", "m")]).await;

    let t = list_all(
        &store,
        EventQuery {
            topic: Some("t".into()),
            ..everything(10)
        },
    )
    .await;
    let all = list_all(&store, everything(10)).await;

    let ids: Vec<&str> = t.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["m", "z", "a"]);
    assert!(t.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    let expected = [("t", "m"), ("t", "z"), ("t", "a"), ("u", "2"), ("u", "1")];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(keys(&all), expected);
}

pub async fn query_filters_by_topic_source_and_time_window(backend: Backend) {
    let store = backend.open().await;
    let t0 = base_time();
    let at = |minutes: i64| t0 + Duration::minutes(minutes);
    commit(
        &store,
        0,
        &[
            event_with("app", "1", at(0), "web", "{}"),
            event_with("app", "2", at(10), "api", "{}"),
            event_with("app", "3", at(20), "web", "{}"),
            event_with("db", "1", at(10), "web", "{}"),
            event_with("db", "2", at(30), "api", "{}"),
        ],
    )
    .await;
    let ids = |events: Vec<aggregator::store::StoredEvent>| -> Vec<String> {
        events
            .into_iter()
            .map(|e| format!("{}/{}", e.topic, e.event_id))
            .collect()
    };

    let by_topic = list_all(
        &store,
        EventQuery {
            topic: Some("db".into()),
            ..everything(10)
        },
    )
    .await;
    let by_source = list_all(
        &store,
        EventQuery {
            source: Some("web".into()),
            ..everything(10)
        },
    )
    .await;
    // since is inclusive, until exclusive.
    let window = EventQuery {
        since: Some(at(10)),
        until: Some(at(30)),
        ..everything(10)
    };
    let in_window = list_all(&store, window).await;
    let combined = EventQuery {
        topic: Some("app".into()),
        source: Some("web".into()),
        since: Some(at(0) + Duration::microseconds(1)),
        ..everything(10)
    };
    let narrow = list_all(&store, combined).await;
    let nothing = list_all(
        &store,
        EventQuery {
            topic: Some("nope".into()),
            ..everything(10)
        },
    )
    .await;

    assert_eq!(ids(by_topic), ["db/1", "db/2"]);
    assert_eq!(ids(by_source), ["app/1", "app/3", "db/1"]);
    assert_eq!(ids(in_window), ["app/2", "app/3", "db/1"]);
    assert_eq!(ids(narrow), ["app/3"]);
    assert!(nothing.is_empty());
}

pub async fn keyset_pagination_over_several_topics_visits_every_event_once(backend: Backend) {
    let store = backend.open().await;
    let mut committed = HashSet::new();
    for round in 0..5 {
        let batch: Vec<Event> = (0..23)
            .map(|n| event(&format!("topic-{}", n % 4), &format!("r{round}-{n}")))
            .collect();
        for e in &batch {
            committed.insert((e.topic.clone(), e.event_id.clone()));
        }
        commit(&store, round, &batch).await;
    }

    for page_size in [1, 7, 23, 115, 1000] {
        let listed = keys(&list_all(&store, everything(page_size)).await);
        let distinct: HashSet<_> = listed.iter().cloned().collect();
        assert_eq!(
            listed.len(),
            committed.len(),
            "page size {page_size}: no repeats"
        );
        assert_eq!(distinct, committed, "page size {page_size}: nothing missed");
        let mut sorted_topics: Vec<&String> = listed.iter().map(|(topic, _)| topic).collect();
        sorted_topics.sort();
        assert_eq!(
            sorted_topics,
            listed.iter().map(|(topic, _)| topic).collect::<Vec<_>>()
        );
    }
    let one_topic = EventQuery {
        topic: Some("topic-2".into()),
        ..everything(4)
    };
    assert_eq!(
        list_all(&store, one_topic).await.len(),
        committed.iter().filter(|(t, _)| t == "topic-2").count()
    );
}

pub async fn payload_text_round_trips_byte_for_byte(backend: Backend) {
    let store = backend.open().await;
    let payloads = [
        r#"{"b":2,"a":1}"#,
        "{ \"spaced\" :  [1, 2.50, 1e3] ,\n\t\"nested\": {\"x\": null} }",
        r#"{"unicode":"订单 ü 🚀","escaped":"\u00e9\n\"quote\"\\"}"#,
        r#"{"big":123456789012345678901234567890,"float":0.1000}"#,
    ];
    let batch: Vec<Event> = payloads
        .iter()
        .enumerate()
        .map(|(n, payload)| event_with("p", &n.to_string(), base_time(), "svc", payload))
        .collect();
    commit(&store, 0, &batch).await;

    let stored = list_all(&store, everything(10)).await;

    let returned: Vec<&str> = stored.iter().map(|e| e.payload.get()).collect();
    assert_eq!(returned, payloads);
}

pub async fn timestamps_round_trip_at_microsecond_precision(backend: Backend) {
    let store = backend.open().await;
    let times = [
        Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap() + Duration::microseconds(999_999),
        Utc.with_ymd_and_hms(1969, 7, 20, 20, 17, 40).unwrap() + Duration::microseconds(123_456),
        Utc.with_ymd_and_hms(2200, 1, 1, 0, 0, 0).unwrap(),
    ];
    let batch: Vec<Event> = times
        .iter()
        .enumerate()
        .map(|(n, ts)| event_with("ts", &n.to_string(), *ts, "svc", "{}"))
        .collect();
    let before_commit = Utc::now() - Duration::seconds(5);
    commit(&store, 0, &batch).await;

    let stored = list_all(&store, everything(10)).await;
    let just_at = EventQuery {
        since: Some(times[0]),
        until: Some(times[0] + Duration::microseconds(1)),
        ..everything(10)
    };
    let exactly_one = list_all(&store, just_at).await;

    let returned: Vec<_> = stored.iter().map(|e| e.timestamp).collect();
    assert_eq!(returned, times);
    assert_eq!(keys(&exactly_one), [("ts".to_string(), "0".to_string())]);
    let after_commit = Utc::now() + Duration::seconds(5);
    assert!(stored
        .iter()
        .all(|e| e.received_at > before_commit && e.received_at < after_commit));
}

pub async fn ping_succeeds_on_a_fresh_store(backend: Backend) {
    let store = backend.open().await;

    store.ping().await.unwrap();

    assert!(!store.backend().is_empty());
}

/// A page ends before the event that would take its payloads past `max_bytes`, always holds
/// one event at least, and its cursor continues exactly where it ended.
pub async fn a_page_ends_before_its_payload_byte_budget(backend: Backend) {
    let store = backend.open().await;
    let padded = |id: &str, bytes: usize| {
        let payload = format!(r#"{{"pad":"{}"}}"#, "x".repeat(bytes - 10));
        event_with("t", id, base_time(), "svc", &payload)
    };
    let events = [
        padded("1", 1_000),
        padded("2", 1_000),
        padded("3", 5_000),
        padded("4", 1_000),
    ];
    commit(&store, 0, &events).await;
    let mut query = EventQuery {
        limit: 10,
        max_bytes: 2_500,
        ..EventQuery::default()
    };

    let mut pages = Vec::new();
    loop {
        let page = store.query(&query).await.unwrap();
        let ids: Vec<String> = page.events.iter().map(|e| e.event_id.clone()).collect();
        let bytes: usize = page.events.iter().map(|e| e.payload.get().len()).sum();
        pages.push((ids, bytes));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }

    let ids: Vec<Vec<&str>> = pages
        .iter()
        .map(|(ids, _)| ids.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        ids,
        vec![vec!["1", "2"], vec!["3"], vec!["4"]],
        "pages: {pages:?}"
    );
    assert!(pages[0].1 <= 2_500);
}
