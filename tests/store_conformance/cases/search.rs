//! Search: for random events and random queries, each store lists exactly the events that the
//! in-memory evaluation (`StoredEvent::matches`, the model) keeps, in listing order; and rows
//! stored before the searchable text existed are found once the store has filled it.
//!
//! Events and queries come from proptest strategies drawn by a deterministic runner (the same
//! cases every run, so a failure reproduces; it prints the query).

use std::time::Duration;

use aggregator::event::Event;
use aggregator::query::eval::at_path;
use aggregator::query::parse::parse_field;
use aggregator::query::{self, Field, Query};
use aggregator::store::queries::bucket_of;
use aggregator::store::{
    CountRequest, EventQuery, ListingOrder, SearchScope, SharedQueries, SharedStore, StoredEvent,
    TimePosition, ValueCount, ValueSeries, ValuesRequest,
};
use chrono::Duration as Span;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Value};

use crate::backends::Backend;
use crate::common::wait::wait_until;
use crate::fixtures::{base_time, commit, event_with, keys, list_all};

const WORDS: [&str; 10] = [
    "order", "paid", "timeout", "retry", "user", "disk", "full", "Café", "ÜBER", "500",
];
const TOPICS: [&str; 4] = ["orders.eu", "orders.us", "billing", "ops"];
const SOURCES: [&str; 3] = ["checkout", "api", "worker"];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS.to_vec()).prop_map(str::to_owned)
}

/// A sentence of vocabulary words with punctuation between them.
fn sentence() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            word(),
            prop::sample::select(vec![" ", ", ", "-", "/", "  "]),
        ),
        0..5,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(w, sep)| format!("{w}{sep}"))
            .collect()
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        word().prop_map(Value::from),
        prop::sample::select(vec![200i64, 404, 500, 503, 7, -1, 0]).prop_map(Value::from),
        (0u32..10_000).prop_map(|tenths| json!(f64::from(tenths) / 10.0)),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn payload() -> impl Strategy<Value = Value> {
    let level = prop::sample::select(vec!["error", "warn", "info", "ERROR", "err"]);
    (
        proptest::option::of(level),
        proptest::option::of(sentence()),
        proptest::option::of(scalar()),
        proptest::option::of(prop::collection::vec(scalar(), 0..4)),
        proptest::option::of((scalar(), proptest::option::of(sentence()))),
        proptest::option::of(scalar()),
    )
        .prop_map(|(level, message, status, tags, http, latency)| {
            let mut object = Map::new();
            if let Some(level) = level {
                object.insert("level".into(), json!(level));
            }
            if let Some(message) = message {
                object.insert("message".into(), json!(message));
            }
            if let Some(status) = status {
                object.insert("status".into(), status);
            }
            if let Some(tags) = tags {
                object.insert("tags".into(), Value::Array(tags));
            }
            if let Some((status, path)) = http {
                object.insert("http".into(), json!({"status": status, "path": path}));
                object.insert("list".into(), json!([{"status": 500}]));
            }
            if let Some(latency) = latency {
                object.insert("latency_ms".into(), latency);
            }
            Value::Object(object)
        })
}

pub(super) fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        (
            prop::sample::select(TOPICS.to_vec()),
            prop::sample::select(SOURCES.to_vec()),
            0i64..40,
            prop::sample::select(vec![0i64, 30]),
            payload(),
        ),
        60..120,
    )
    .prop_map(|drawn| {
        drawn
            .into_iter()
            .enumerate()
            .map(|(n, (topic, source, minutes, seconds, payload))| {
                // Few distinct instants: many events share a timestamp, so that time order
                // breaks ties by seq; half of them inside a minute, so that counts split
                // minutes at their edges.
                let at = base_time() + Span::minutes(minutes) + Span::seconds(seconds);
                event_with(topic, &format!("e{n}"), at, source, &payload.to_string())
            })
            .collect()
    })
}

/// One term of the language, over the fields and words the events use.
fn term() -> impl Strategy<Value = String> {
    let instant = (0i64..40).prop_map(|minutes| {
        (base_time() + Span::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    });
    prop_oneof![
        word(),
        (word(), word()).prop_map(|(a, b)| format!("\"{a} {b}\"")),
        prop::sample::select(vec![
            "level:error",
            "level:ERROR",
            "level:err*",
            "level:*",
            "status:500",
            "status:\"500\"",
            "status:true",
            "status:>=500",
            "status:<0",
            "status:[7 TO 404}",
            "latency_ms:>500",
            "latency_ms:[0 TO 100.5]",
            "http.status:404",
            "http.path:*",
            "http:*",
            "tags:retry",
            "tags:7",
            "tags:500",
            "tags:false",
            "missing:*",
            "list.status:500",
            "payload.level:warn",
            "topic:orders.*",
            "topic:ops",
            "source:api",
            "source:w*",
            "event_id:e3",
            "event_id:e1*",
            "message:*",
            "status:*",
            "http.status:>200",
        ])
        .prop_map(str::to_owned),
        instant.clone().prop_map(|at| format!("timestamp:>={at}")),
        (instant.clone(), instant).prop_map(|(a, b)| format!("timestamp:[{a} TO {b}}}")),
    ]
}

/// A query built from terms with AND, OR, NOT and parentheses.
fn query_text() -> impl Strategy<Value = String> {
    term().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|parts| parts.join(" ")),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|parts| parts.join(" OR ")),
            inner.clone().prop_map(|part| format!("-({part})")),
            inner.prop_map(|part| format!("NOT ({part})")),
        ]
    })
}

pub(super) fn draw<T>(strategy: impl Strategy<Value = T>, runner: &mut TestRunner) -> T {
    strategy.new_tree(runner).expect("a value").current()
}

/// Commits random events drawn by `runner` and reads them back as stored.
pub(super) async fn store_random_events(
    store: &SharedStore,
    runner: &mut TestRunner,
) -> Vec<StoredEvent> {
    let events = draw(events(), runner);
    commit(store, 0, &events).await;
    let everything = EventQuery {
        limit: 1000,
        ..EventQuery::default()
    };
    let stored = list_all(store, everything).await;
    assert_eq!(stored.len(), events.len());
    stored
}

/// Every page of the search `filter` in topic order, 7 events a page (so that cursors are
/// crossed).
async fn search(store: &SharedStore, filter: &Query) -> Vec<(String, String)> {
    search_in(store, filter, ListingOrder::ByTopic).await
}

/// Every page of the search `filter` in `order`, 7 events a page.
async fn search_in(
    store: &SharedStore,
    filter: &Query,
    order: ListingOrder,
) -> Vec<(String, String)> {
    let mut query = EventQuery {
        filter: Some(filter.clone()),
        order,
        limit: 7,
        ..EventQuery::default()
    };
    if order == ListingOrder::ByTopic {
        return keys(&list_all(store, query).await);
    }
    let mut found = Vec::new();
    loop {
        let page = store.query(&query).await.expect("a page");
        found.extend(keys(&page.events));
        match (page.next, page.events.last()) {
            (Some(_), Some(last)) => query.after_time = Some(TimePosition::of(last)),
            _ => return found,
        }
    }
}

/// `events` in `order`, as `(topic, event_id)`.
fn in_order(mut events: Vec<&StoredEvent>, order: ListingOrder) -> Vec<(String, String)> {
    match order {
        ListingOrder::ByTopic => events.sort_by(|a, b| (&a.topic, a.seq).cmp(&(&b.topic, b.seq))),
        ListingOrder::Oldest => events.sort_by_key(|event| (event.timestamp, event.seq)),
        ListingOrder::Newest => {
            events.sort_by_key(|event| std::cmp::Reverse((event.timestamp, event.seq)))
        }
    }
    events
        .iter()
        .map(|event| (event.topic.clone(), event.event_id.clone()))
        .collect()
}

/// Proves each store's search equals the model on 300 random queries over random events.
pub async fn a_search_lists_exactly_the_events_the_model_matches(backend: Backend) {
    // Arrange
    let store = backend.open().await;
    let mut runner = TestRunner::deterministic();
    let stored = store_random_events(&store, &mut runner).await;

    let mut matched_some = 0;
    for _ in 0..300 {
        let text = draw(query_text(), &mut runner);
        let Ok(filter) = query::parse(&text) else {
            continue;
        };
        let order = draw(
            prop::sample::select(vec![
                ListingOrder::ByTopic,
                ListingOrder::Oldest,
                ListingOrder::Newest,
            ]),
            &mut runner,
        );
        // Act
        let found = search_in(&store, &filter, order).await;

        // Assert
        let matching: Vec<&StoredEvent> = stored
            .iter()
            .filter(|event| event.matches(&filter))
            .collect();
        let expected = in_order(matching, order);
        assert_eq!(
            found, expected,
            "query {text:?} (read as {filter}) in {order:?}"
        );
        if !expected.is_empty() && expected.len() < stored.len() {
            matched_some += 1;
        }
    }
    // The generated queries must discriminate, or the comparison proves little.
    assert!(
        matched_some >= 100,
        "only {matched_some} queries matched some but not all"
    );
}

/// Proves rows whose searchable text is missing (stored before it existed), and on the
/// embedded store rows missing from the full-text index, are found by a word query and a field
/// equality once the store, reopened, has filled them.
pub async fn rows_stored_before_the_searchable_text_existed_are_found_after_a_reopen(
    backend: Backend,
) {
    // Arrange
    let store = backend.open().await;
    let events = [
        event_with(
            "old",
            "1",
            base_time(),
            "svc",
            r#"{"message":"legacy Timeout"}"#,
        ),
        event_with("old", "2", base_time(), "svc", r#"{"message":"fine"}"#),
    ];
    commit(&store, 0, &events).await;
    drop(store);
    backend.execute("UPDATE events SET words = NULL").await;
    if let Backend::Embedded { .. } = backend {
        // As a file made before the full-text index existed: no entry, all rows to index.
        backend.execute("DELETE FROM events_fts").await;
        backend
            .execute(
                "INSERT INTO search_index_backfill (next_seq, end_seq) \
                 SELECT min(seq), max(seq) + 1 FROM events",
            )
            .await;
    }
    let filter = query::parse("timeout").unwrap();
    let field = query::parse("message:fine").unwrap();

    // Act
    let store = backend.open().await;
    let found = wait_until(
        || async { search(&store, &filter).await.len() == 1 },
        Duration::from_secs(10),
    )
    .await;

    // Assert
    assert!(found, "the old row was never found");
    assert_eq!(
        search(&store, &filter).await,
        [("old".to_owned(), "1".to_owned())]
    );
    assert_eq!(
        search(&store, &field).await,
        [("old".to_owned(), "2".to_owned())]
    );
}

/// Proves a search past its time limit is refused as too costly (a rejection that says how to
/// narrow it, never a transient failure to retry), and that the store serves the next read.
pub async fn a_search_past_its_time_limit_is_refused_as_too_costly(backend: Backend) {
    // Arrange: enough rows that scanning them all takes well over a millisecond.
    let store = backend.open().await;
    let events: Vec<Event> = (0..20_000)
        .map(|n| {
            let payload = format!(r#"{{"message":"line {n} of the log","n":{n}}}"#);
            event_with("slow", &format!("s{n}"), base_time(), "svc", &payload)
        })
        .collect();
    for chunk in events.chunks(2_000) {
        commit(&store, 0, chunk).await;
    }
    drop(store);
    let store = backend
        .open_with_query_timeout(Duration::from_millis(1))
        .await;
    let expensive = query::parse("n:>19999 OR nothing OR \"of the line\"").unwrap();

    // Act
    let refused = store
        .query(&EventQuery {
            filter: Some(expensive),
            limit: 10,
            ..EventQuery::default()
        })
        .await;
    let listed = store
        .query(&EventQuery {
            limit: 10,
            ..EventQuery::default()
        })
        .await;

    // Assert
    match refused {
        Err(aggregator::store::StoreError::Rejected(cause)) => {
            assert!(cause.message.contains("narrow it"), "{cause}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(listed.expect("a plain listing").events.len(), 10);
}

/// The text of `field` in `event` as the query port counts it: an event field as is, a payload
/// field when it holds a string, a number or a boolean.
fn value_text(event: &StoredEvent, field: &Field) -> Option<String> {
    match field {
        Field::Topic => Some(event.topic.clone()),
        Field::Source => Some(event.source.clone()),
        Field::EventId => Some(event.event_id.clone()),
        Field::Timestamp => None,
        Field::Payload(path) => {
            let payload: Value = serde_json::from_str(event.payload.get()).ok()?;
            match at_path(&payload, path)? {
                Value::String(text) => Some(text.clone()),
                Value::Number(number) => Some(number.to_string()),
                Value::Bool(flag) => Some(flag.to_string()),
                _ => None,
            }
        }
    }
}

/// `(bucket, events)` of `events`, in bucket order.
fn model_buckets(events: &[&StoredEvent], interval: i64) -> Vec<(i64, u64)> {
    let mut buckets = std::collections::BTreeMap::new();
    for event in events {
        *buckets
            .entry(bucket_of(event.timestamp, interval))
            .or_insert(0u64) += 1;
    }
    buckets.into_iter().collect()
}

/// Asserts the store's counts per bucket of `scope`, its series by `field` (top 3) and its top
/// values of `field` (top 4) equal the model's; returns the model's top values.
pub(super) async fn assert_counts_equal_the_model(
    queries: &SharedQueries,
    stored: &[StoredEvent],
    scope: &SearchScope,
    field: &Field,
    interval: i64,
    context: &str,
) -> Vec<ValueCount> {
    let request = CountRequest {
        scope: scope.clone(),
        interval_micros: interval,
        by: Some(field.clone()),
        top: 3,
    };
    let counts = queries.count(&request).await.expect("counts");
    let top = queries
        .top_values(&ValuesRequest {
            scope: scope.clone(),
            field: field.clone(),
            limit: 4,
        })
        .await
        .expect("top values");
    let everything = Query::All;
    let filter = scope.filter.as_ref().unwrap_or(&everything);
    let in_scope: Vec<&StoredEvent> = stored
        .iter()
        .filter(|event| event.timestamp >= scope.since && event.timestamp < scope.until)
        .filter(|event| {
            scope
                .topic
                .as_ref()
                .is_none_or(|topic| event.topic == *topic)
        })
        .filter(|event| scope.topic_prefixes.contains(&event.topic))
        .filter(|event| event.matches(filter))
        .collect();
    assert_eq!(counts.total, in_scope.len() as u64, "{context}");
    assert_eq!(
        counts.buckets,
        model_buckets(&in_scope, interval),
        "{context}"
    );
    let mut tally: std::collections::BTreeMap<String, Vec<&StoredEvent>> = Default::default();
    for event in &in_scope {
        if let Some(value) = value_text(event, field) {
            tally.entry(value).or_default().push(event);
        }
    }
    let mut ranked: Vec<(String, Vec<&StoredEvent>)> = tally.into_iter().collect();
    ranked.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let expected_top: Vec<ValueCount> = ranked
        .iter()
        .take(4)
        .map(|(value, events)| ValueCount {
            value: value.clone(),
            count: events.len() as u64,
        })
        .collect();
    assert_eq!(top, expected_top, "{context}");
    let expected_series: Vec<ValueSeries> = ranked
        .iter()
        .take(3)
        .map(|(value, events)| ValueSeries {
            value: value.clone(),
            total: events.len() as u64,
            buckets: model_buckets(events, interval),
        })
        .collect();
    assert_eq!(counts.series, expected_series, "{context}");
    expected_top
}

/// Proves each store's counts per bucket, its series by value and its top values equal the
/// model's on 150 random searches, fields, intervals and time ranges.
pub async fn counts_and_top_values_equal_the_model(backend: Backend) {
    // Arrange
    let (store, queries) = backend.open_with_queries().await;
    let mut runner = TestRunner::deterministic();
    let stored = store_random_events(&store, &mut runner).await;
    let fields = [
        "level",
        "status",
        "http.status",
        "latency_ms",
        "tags",
        "tags.0",
        "topic",
        "source",
    ];

    let mut checked = 0;
    for _ in 0..150 {
        let text = draw(query_text(), &mut runner);
        let Ok(filter) = query::parse(&text) else {
            continue;
        };
        let field =
            parse_field(draw(prop::sample::select(fields.to_vec()), &mut runner)).expect("a field");
        let interval = draw(
            prop::sample::select(vec![60i64, 300, 420, 3600]),
            &mut runner,
        ) * 1_000_000;
        let (from, to) = draw((-600i64..1800, 300i64..3600), &mut runner);
        let scope = SearchScope {
            filter: Some(filter.clone()),
            topic: None,
            source: None,
            topic_prefixes: Default::default(),
            since: base_time() + Span::seconds(from),
            until: base_time() + Span::seconds(from + to),
        };
        let context = format!("query {text:?} by {} every {interval} µs", field.name());

        // Act and assert
        let expected_top =
            assert_counts_equal_the_model(&queries, &stored, &scope, &field, interval, &context)
                .await;
        checked += usize::from(!expected_top.is_empty());
    }
    assert!(checked >= 50, "only {checked} rankings had a value");
}
