//! Deduplication on `(topic, event_id)`: re-sends, repeats inside a batch and across batches,
//! the same id in different topics, and many concurrent copies of one event.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{outcomes, result_keys, spawn_app, ApiApp};

/// Proves that re-sending an event is answered `duplicate`, stores nothing more, and moves only
/// `received` and `duplicate_dropped`.
#[tokio::test]
async fn the_same_event_published_twice_is_a_duplicate_the_second_time() {
    // Arrange
    let app = spawn_app().await;
    let event = app.event("payments", "evt-1");
    app.publish_ok(&event).await;

    // Act
    let second = app.publish_ok(&event).await;

    // Assert
    assert_eq!(outcomes(&second), ["duplicate"]);
    assert_eq!(second["received"], 1);
    assert_eq!(second["unique_processed"], 0);
    assert_eq!(second["duplicate_dropped"], 1);
    assert_eq!(app.row_count().await, 1);
    let stats = app.stats().await;
    assert_eq!(stats.received, 2);
    assert_eq!(stats.unique_processed, 1);
    assert_eq!(stats.duplicate_dropped, 1);
}

/// Proves that repeats inside one batch and repeats of earlier batches are both duplicates, that
/// the first occurrence in request order is the new one, and that outcomes follow request order.
#[tokio::test]
async fn duplicates_inside_a_batch_and_across_batches_are_each_reported_in_order() {
    // Arrange
    let app = spawn_app().await;
    let first_batch = json!({"events": [
        app.event("a", "1"),
        app.event("a", "2"),
        app.event("a", "1"),
        app.event("b", "1"),
    ]});
    let second_batch = json!([
        app.event("a", "2"),
        app.event("c", "1"),
        app.event("b", "1"),
        app.event("c", "1"),
    ]);

    // Act
    let first = app.publish_ok(&first_batch).await;
    let second = app.publish_ok(&second_batch).await;

    // Assert
    assert_eq!(outcomes(&first), ["new", "new", "duplicate", "new"]);
    assert_eq!(
        (
            first["received"].as_u64(),
            first["unique_processed"].as_u64()
        ),
        (Some(4), Some(3))
    );
    assert_eq!(first["duplicate_dropped"], 1);
    assert_eq!(
        outcomes(&second),
        ["duplicate", "new", "duplicate", "duplicate"]
    );
    assert_eq!(
        (
            second["received"].as_u64(),
            second["unique_processed"].as_u64()
        ),
        (Some(4), Some(1))
    );
    assert_eq!(second["duplicate_dropped"], 3);
    let keys = result_keys(&second);
    let expected = [("a", "2"), ("c", "1"), ("b", "1"), ("c", "1")];
    assert_eq!(keys, expected.map(|(t, id)| (t.to_owned(), id.to_owned())));

    assert_eq!(app.row_count().await, 4);
    let stats = app.stats().await;
    assert_eq!(stats.received, 8);
    assert_eq!(stats.unique_processed, 4);
    assert_eq!(stats.duplicate_dropped, 4);
}

/// Proves identity is the pair `(topic, event_id)`: one id used in two topics is two events.
#[tokio::test]
async fn the_same_event_id_in_two_topics_is_two_events() {
    // Arrange
    let app = spawn_app().await;
    let batch = json!([app.event("orders", "42"), app.event("refunds", "42")]);

    // Act
    let answer = app.publish_ok(&batch).await;

    // Assert
    assert_eq!(outcomes(&answer), ["new", "new"]);
    assert_eq!(app.row_count().await, 2);
    let stats = app.stats().await;
    assert_eq!(stats.unique_processed, 2);
    assert_eq!(stats.duplicate_dropped, 0);
    assert_eq!(stats.topics, ["orders", "refunds"]);
}

/// Proves that when 50 clients publish the same event at once exactly one is told `new`, the
/// other 49 `duplicate`, one row exists, and the counters agree.
#[tokio::test]
async fn fifty_concurrent_publishes_of_one_event_store_it_once() {
    // Arrange
    let app = spawn_app().await;
    let event = app.event("race", "only-one");

    // Act
    let answers = join_all((0..50).map(|_| app.publish(&event))).await;

    // Assert
    let mut all_outcomes = Vec::new();
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        all_outcomes.extend(outcomes(answer));
    }
    let new = all_outcomes.iter().filter(|o| *o == "new").count();
    let duplicate = all_outcomes.iter().filter(|o| *o == "duplicate").count();
    assert_eq!((new, duplicate), (1, 49), "{all_outcomes:?}");
    assert_eq!(app.row_count().await, 1);
    let stats = app.stats().await;
    assert_eq!(stats.received, 50);
    assert_eq!(stats.unique_processed, 1);
    assert_eq!(stats.duplicate_dropped, 49);
}
