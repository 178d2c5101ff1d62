//! The event volume (`store/volume.rs`): counts and rankings of searches on `level` and
//! `topic` are read from it, and equal the model's, across the seconds around its whole
//! minutes, inside a key's topic prefixes, after removals, while a `level` it cannot place lies
//! in the range, and for rows stored before it existed.

use std::time::Duration;

use aggregator::event::TopicPrefixes;
use aggregator::query::parse::parse_field;
use aggregator::query::{self, Field};
use aggregator::store::{CountRequest, SearchScope, SearchStatement, SharedQueries, StoredEvent};
use chrono::Duration as Span;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use super::removal::{end_of, purge};
use super::search::{assert_counts_equal_the_model, draw, store_random_events};
use crate::backends::Backend;
use crate::common::wait::wait_until;
use crate::fixtures::{base_time, commit, event_with, everything, list_all};

/// Searches the volume answers.
const QUERIES: [&str; 11] = [
    "",
    "level:error",
    "level:err*",
    "level:*",
    "-level:*",
    "topic:orders.*",
    "topic:ops level:error",
    "level:error OR level:warn",
    "NOT topic:ops",
    "topic:orders.* -(level:info OR level:ERROR)",
    "payload.level:warn",
];

fn scope_of(text: &str, since: chrono::DateTime<chrono::Utc>, seconds: i64) -> SearchScope {
    SearchScope {
        filter: Some(query::parse(text).expect("a valid query")),
        topic: None,
        source: None,
        topic_prefixes: TopicPrefixes::default(),
        since,
        until: since + Span::seconds(seconds),
    }
}

/// Whether the store reads the count of `scope` from the volume.
async fn from_volume(queries: &SharedQueries, scope: &SearchScope, interval: i64) -> bool {
    let count = SearchStatement::Count(CountRequest {
        scope: scope.clone(),
        interval_micros: interval,
        by: None,
        top: 0,
    });
    let plan = queries.explain(&count).await.expect("a plan");
    plan.contains("event_volume")
}

/// Checks `rounds` random volume searches against the model; returns how many were read from
/// the volume.
async fn check_random_counts(
    queries: &SharedQueries,
    stored: &[StoredEvent],
    runner: &mut TestRunner,
    rounds: usize,
) -> usize {
    let mut answered = 0;
    for _ in 0..rounds {
        let text = draw(prop::sample::select(QUERIES.to_vec()), runner);
        let field = draw(prop::sample::select(vec!["level", "topic"]), runner);
        let field = parse_field(field).expect("a field");
        let interval = draw(prop::sample::select(vec![60i64, 300, 3600]), runner) * 1_000_000;
        let (from, minutes, seconds) = draw(
            (
                -10i64..30,
                3i64..50,
                prop::sample::select(vec![0i64, 15, 45]),
            ),
            runner,
        );
        let since = base_time() + Span::minutes(from) + Span::seconds(seconds);
        let mut scope = scope_of(text, since, minutes * 60 + 20);
        if draw(prop::bool::weighted(0.3), runner) {
            scope.topic_prefixes = TopicPrefixes::new(["orders.".to_owned()]);
        }
        let context = format!("query {text:?} by {} every {interval} µs", field.name());
        answered += usize::from(from_volume(queries, &scope, interval).await);
        assert_counts_equal_the_model(queries, stored, &scope, &field, interval, &context).await;
    }
    answered
}

/// Proves counts and rankings of `level` and `topic` searches come from the volume and equal
/// the model, before and after a purge of part of a topic.
pub async fn volume_counts_equal_the_model_before_and_after_a_removal(backend: Backend) {
    // Arrange
    let (store, queries) = backend.open_with_queries().await;
    let mut runner = TestRunner::deterministic();
    let stored = store_random_events(&store, &mut runner).await;

    // Act and assert
    let answered = check_random_counts(&queries, &stored, &mut runner, 40).await;
    assert!(
        answered >= 30,
        "only {answered} of 40 counts read the volume"
    );
    let horizon = end_of(&store, "orders.eu").await;
    let report = purge(&store, "orders.eu", horizon - 10, 1000).await;
    assert!(report.removed > 0, "the purge removed rows");
    let stored = list_all(&store, everything(1000)).await;
    let answered = check_random_counts(&queries, &stored, &mut runner, 40).await;
    assert!(
        answered >= 30,
        "only {answered} of 40 counts read the volume"
    );
}

/// Proves a range holding a `level` the volume cannot place (a number, an array) is counted
/// from the events when the search compares levels, and still from the volume when it does not.
pub async fn a_level_the_volume_cannot_place_is_counted_from_the_events(backend: Backend) {
    // Arrange
    let (store, queries) = backend.open_with_queries().await;
    let payloads = [
        r#"{"level":"error"}"#,
        r#"{"level":"error"}"#,
        r#"{"level":3}"#,
        r#"{"level":["error","retry"]}"#,
        r#"{"level":"info"}"#,
        r#"{"message":"no level"}"#,
    ];
    let events: Vec<_> = payloads
        .iter()
        .enumerate()
        .map(|(n, payload)| {
            let at = base_time() + Span::minutes(n as i64) + Span::seconds(10);
            event_with("ops", &format!("e{n}"), at, "svc", payload)
        })
        .collect();
    commit(&store, 0, &events).await;
    let stored = list_all(&store, everything(100)).await;
    let minute = 60_000_000;
    let since = base_time() - Span::minutes(1);

    // Act and assert
    for text in ["level:error", "level:3", "level:*", "topic:ops"] {
        let scope = scope_of(text, since, 600);
        for field in [Field::Topic, parse_field("level").expect("a field")] {
            let context = format!("query {text:?} by {}", field.name());
            assert_counts_equal_the_model(&queries, &stored, &scope, &field, minute, &context)
                .await;
        }
    }
    assert!(!from_volume(&queries, &scope_of("level:error", since, 600), minute).await);
    assert!(from_volume(&queries, &scope_of("level:*", since, 600), minute).await);
    assert!(from_volume(&queries, &scope_of("topic:ops", since, 600), minute).await);
}

/// Proves rows stored before the volume existed are counted once the store, reopened, has
/// counted them (PostgreSQL in the background, the embedded store when it opens), and that
/// counts equal the model meanwhile, a purge included.
pub async fn rows_stored_before_the_volume_existed_are_counted_after_a_reopen(backend: Backend) {
    // Arrange: a store as an older version left it, its rows not in the volume.
    let (store, queries) = backend.open_with_queries().await;
    let mut runner = TestRunner::deterministic();
    store_random_events(&store, &mut runner).await;
    match backend {
        Backend::Postgres { .. } => {
            backend
                .execute(
                    "DELETE FROM event_volume; \
                     UPDATE event_volume_backfill SET upto_seq = (SELECT max(seq) FROM events), \
                     done_topic = NULL, done_seq = NULL, complete = false",
                )
                .await;
        }
        Backend::Embedded { .. } => {
            drop((store, queries));
            backend
                .execute(
                    "DROP TRIGGER events_volume_delete; DROP VIEW event_volume_keys; \
                     DROP TABLE event_volume; PRAGMA user_version = 4",
                )
                .await;
            return check_after_reopen(&backend, &mut runner).await;
        }
    }
    let stored = list_all(&store, everything(1000)).await;
    let whole = scope_of("level:error", base_time(), 3600);
    assert!(
        !from_volume(&queries, &whole, 60_000_000).await,
        "the volume is not read before it is complete"
    );
    check_random_counts(&queries, &stored, &mut runner, 10).await;
    let horizon = end_of(&store, "ops").await;
    purge(&store, "ops", horizon - 5, 1000).await;
    drop((store, queries));

    // Act and assert
    check_after_reopen(&backend, &mut runner).await;
}

async fn check_after_reopen(backend: &Backend, runner: &mut TestRunner) {
    let (store, queries) = backend.open_with_queries().await;
    let whole = scope_of("level:error", base_time(), 3600);
    let counted = wait_until(
        || async { from_volume(&queries, &whole, 60_000_000).await },
        Duration::from_secs(30),
    )
    .await;
    assert!(counted, "the older rows were never counted");
    let stored = list_all(&store, everything(1000)).await;
    let answered = check_random_counts(&queries, &stored, runner, 30).await;
    assert!(
        answered >= 20,
        "only {answered} of 30 counts read the volume"
    );
}
