//! Which indexes searches use: on a table of 100,000 rows, the plan each store chooses
//! (`Queries::explain`, its `EXPLAIN`) for a selective word query, a field equality and a
//! time-bounded count names an index and never scans the whole `events` table.
//!
//! PostgreSQL builds its search indexes in the background (`CREATE INDEX CONCURRENTLY`): the
//! test waits until they are valid and analyses the table, as autovacuum would, so that the
//! planner knows the words are rare. It cannot know that `user:u7` is (its statistics of JSON
//! hold only the values its sample saw), so that listing shows the store's fallback: the
//! planner's walk of the time index runs past its budget and the page is read through the GIN
//! index (`postgres/reads.rs::run_listing`).

use std::time::Duration;

use aggregator::event::{Event, TopicPrefixes};
use aggregator::query;
use aggregator::store::{
    CountRequest, EventQuery, ListingOrder, SearchScope, SearchStatement, SharedQueries,
};
use chrono::Duration as Span;

use crate::backends::Backend;
use crate::common::db::connect;
use crate::common::wait::wait_until;
use crate::fixtures::{base_time, commit, event_with};

const ROWS: usize = 100_000;
const SEARCH_INDEXES: [&str; 3] = ["events_words_gin", "events_payload_gin", "events_source_ts"];

/// `ROWS` events a second apart over 20 sources; one in a thousand holds the word
/// `kafkarebalance`, one in a thousand belongs to user `u7`.
fn events() -> Vec<Event> {
    (0..ROWS)
        .map(|n| {
            let message = match n % 1000 {
                0 => format!("partition {n} moved after a kafkarebalance"),
                _ => format!("request {n} completed in {} ms", n % 700),
            };
            let user = if n % 1000 == 1 {
                "u7".to_owned()
            } else {
                format!("u{}", n % 5000 + 100)
            };
            let level = ["info", "info", "info", "warn", "error"][n % 5];
            // Forty numbers besides: work to read for each row a plan walks through (no words,
            // so they cost the searchable text nothing), so that walking the whole table for a
            // rare value always runs past the listing's budget on the planner's plan.
            let metrics: serde_json::Map<String, serde_json::Value> =
                (0..40).map(|k| (format!("m{k}"), (n * k).into())).collect();
            let payload = serde_json::json!({
                "level": level, "message": message, "user": user, "latency_ms": n % 700,
                "metrics": metrics,
            });
            let at = base_time() + Span::seconds(n as i64);
            event_with(
                "plans",
                &format!("e{n}"),
                at,
                &format!("src{}", n % 20),
                &payload.to_string(),
            )
        })
        .collect()
}

/// Lets the planner see the finished indexes and the table's statistics.
async fn prepare_planner(backend: &Backend) {
    let Backend::Postgres { url } = backend else {
        return;
    };
    let client = connect(url).await;
    let built = wait_until(
        || async {
            let valid: i64 = client
                .query_one(
                    "SELECT count(*) FROM pg_index WHERE indisvalid \
                 AND indexrelid::regclass::text = ANY($1)",
                    &[&SEARCH_INDEXES.to_vec()],
                )
                .await
                .expect("read pg_index")
                .get(0);
            valid == SEARCH_INDEXES.len() as i64
        },
        Duration::from_secs(120),
    )
    .await;
    assert!(
        built,
        "the search indexes were not built within two minutes"
    );
    client
        .batch_execute("ANALYZE events")
        .await
        .expect("analyze");
}

fn listing(q: &str) -> SearchStatement {
    SearchStatement::Listing(EventQuery {
        filter: Some(query::parse(q).expect("a valid query")),
        order: ListingOrder::Newest,
        limit: 100,
        ..EventQuery::default()
    })
}

/// A count over one hour of the 28 the events span, in 5-minute buckets.
fn hour_count(q: &str) -> SearchStatement {
    let since = base_time() + Span::hours(10);
    SearchStatement::Count(CountRequest {
        scope: SearchScope {
            filter: Some(query::parse(q).expect("a valid query")),
            topic: None,
            source: None,
            topic_prefixes: TopicPrefixes::default(),
            since,
            until: since + Span::hours(1),
        },
        interval_micros: 300_000_000,
        by: None,
        top: 0,
    })
}

async fn plan(queries: &SharedQueries, statement: &SearchStatement) -> String {
    queries.explain(statement).await.expect("a plan")
}

/// Whether `plan` reads every row of `events` (not of an index, not of `events_fts`).
fn scans_the_table(plan: &str) -> bool {
    plan.lines().any(|line| {
        let line = line.trim().trim_start_matches("->").trim();
        line.starts_with("Seq Scan on events")
            || line.starts_with("Parallel Seq Scan on events")
            || line == "SCAN events"
            || line.starts_with("SCAN events USING")
    })
}

fn assert_uses(plan: &str, index: &str, what: &str) {
    assert!(
        plan.contains(index),
        "{what}: no {index} in the plan:\n{plan}"
    );
    assert!(
        !scans_the_table(plan),
        "{what}: the plan scans the table:\n{plan}"
    );
}

/// Proves a selective word query, a field equality and a time-bounded count each use an index.
pub async fn searches_use_an_index_not_a_full_scan(backend: Backend) {
    // Arrange
    let (store, queries) = backend.open_with_queries().await;
    for chunk in events().chunks(5_000) {
        commit(&store, 0, chunk).await;
    }
    prepare_planner(&backend).await;
    let postgres = matches!(backend, Backend::Postgres { .. });
    let (word_index, field_index, source_index) = match postgres {
        true => ("events_words_gin", "events_payload_gin", "events_source_ts"),
        false => ("events_fts", "events_fts", "events_source_ts"),
    };

    // Act
    let word = plan(&queries, &listing("kafkarebalance")).await;
    let phrase = plan(&queries, &listing("\"after a kafkarebalance\"")).await;
    let field = plan(&queries, &listing("user:u7")).await;
    let by_source = plan(&queries, &listing("source:src7 level:error")).await;
    let count = plan(&queries, &hour_count("latency_ms:>500")).await;
    let level_count = plan(&queries, &hour_count("level:error")).await;

    // Assert
    assert_uses(&word, word_index, "a rare word");
    assert_uses(&phrase, word_index, "a phrase of a rare word");
    assert_uses(&field, field_index, "a field equality");
    assert_uses(&by_source, source_index, "one source's errors");
    assert_uses(&count, "events_ts_seq", "an hour's count");
    assert_uses(&level_count, "event_volume", "an hour's count of a level");
}
