//! `DELETE /topics/{topic}`: a purge answers its count and the topic's last `seq`, removes that
//! topic's rows only and counts them as `purged`; a purged key is new again; a purge racing a
//! publisher keeps exactly the events committed after it began; who may purge; invalid topics.
//! Every case runs on PostgreSQL and on the embedded store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aggregator::auth::Scope;
use reqwest::StatusCode;
use serde_json::json;

use crate::auth_support::{answer, bearer, get_as, publish_ok_as, KeysFile, Presented};
use crate::common::wait::wait_until;
use crate::helpers::{outcomes, ApiApp, TestApp};
use crate::retention_support::{
    ids, list_topic, on_both_stores, publish_range, purge, purge_request, seqs, spawn_on, Store,
};

on_both_stores!(
    a_purge_answers_its_count_and_removes_only_that_topics_rows,
    a_purge_racing_a_publisher_keeps_exactly_a_suffix_committed_after_it_began,
    only_an_admin_key_reaching_the_topic_may_purge_it,
    an_invalid_topic_is_a_400_naming_topic,
);

/// Proves a purge of a topic holding `/` and a space (percent-encoded) answers its count and
/// the topic's last `seq`, leaves a topic it is a prefix of and any other topic whole, counts
/// `purged` (`stored_events` drops, `unique_processed` does not), and that its keys are new
/// again right after; a second purge takes only what came since.
async fn a_purge_answers_its_count_and_removes_only_that_topics_rows(store: Store) {
    // Arrange
    let app = spawn_on(store, |_| {}).await;
    let app: &TestApp = &app;
    let topic = "billing/doomed v2";
    let neighbour = "billing/doomed v2.keep";
    publish_range(app, topic, "d", 0..5).await;
    publish_range(app, neighbour, "n", 0..3).await;
    publish_range(app, "other", "o", 0..4).await;
    let last_seq = *seqs(&list_topic(app, topic).await).iter().max().unwrap();

    // Act
    let (status, body) = purge(app, topic).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"topic": topic, "purged": 5, "up_to_seq": last_seq})
    );
    assert_eq!(
        list_topic(app, topic).await,
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(list_topic(app, neighbour).await.len(), 3);
    assert_eq!(list_topic(app, "other").await.len(), 4);
    let stats = app.stats().await;
    assert_eq!(
        (stats.received, stats.unique_processed, stats.stored_events),
        (12, 12, Some(7)),
        "{stats:?}"
    );
    assert_eq!((stats.purged, stats.expired), (5, 0), "{stats:?}");

    let again = app
        .publish_ok(&json!([
            app.event(topic, "d0"),
            app.event(topic, "d4"),
            app.event(neighbour, "n0"),
        ]))
        .await;
    assert_eq!(outcomes(&again), ["new", "new", "duplicate"], "{again}");
    assert_eq!(
        outcomes(&app.publish_ok(&app.event(topic, "d0")).await),
        ["duplicate"]
    );
    let stored = list_topic(app, topic).await;
    let mut stored_ids = ids(&stored);
    stored_ids.sort_unstable();
    assert_eq!(stored_ids, ["d0", "d4"]);
    assert!(
        seqs(&stored).iter().all(|&seq| seq > last_seq),
        "{stored:?}"
    );
    let stats = app.stats().await;
    assert_eq!(
        (stats.unique_processed, stats.stored_events, stats.purged),
        (14, Some(9), 5),
        "{stats:?}"
    );

    let (status, second) = purge(app, topic).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["purged"], 2, "{second}");
    assert_eq!(
        second["up_to_seq"],
        json!(seqs(&stored).iter().max()),
        "{second}"
    );
    let (status, empty) = purge(app, "never-published").await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty["purged"], 0, "{empty}");
    let stats = app.stats().await;
    assert_eq!(
        (stats.purged, stats.stored_events),
        (7, Some(7)),
        "{stats:?}"
    );
}

/// How long the publisher goes on after the purge answered (and at least since it started).
const AFTER_PURGE: Duration = Duration::from_millis(500);
const PUBLISHING: Duration = Duration::from_secs(2);

/// Proves that a purge of `race` sent while a publisher sends `e0, e1, ...` one at a time
/// (each acknowledged before the next) fails no publish, and leaves listed exactly a suffix of
/// the acknowledged sequence, every one above `up_to_seq`: nothing acknowledged before the
/// purge was sent, everything sent after its answer arrived; `purged` and `stored_events`
/// account for every acknowledged event.
async fn a_purge_racing_a_publisher_keeps_exactly_a_suffix_committed_after_it_began(store: Store) {
    // Arrange
    let app = spawn_on(store, |_| {}).await;
    let app: &TestApp = &app;
    let acked = &AtomicUsize::new(0);
    let purge_answered: &Mutex<Option<Instant>> = &Mutex::new(None);
    let started = Instant::now();
    let publisher = async move {
        let mut log: Vec<(String, Instant)> = Vec::new();
        loop {
            let answered = *purge_answered.lock().unwrap();
            if answered.is_some_and(|at| at.elapsed() >= AFTER_PURGE)
                && started.elapsed() >= PUBLISHING
            {
                return log;
            }
            assert!(
                started.elapsed() < Duration::from_secs(12),
                "purge never answered"
            );
            let id = format!("e{}", log.len());
            let sent_at = Instant::now();
            let answer = app.publish_ok(&app.event("race", &id)).await;
            assert_eq!(outcomes(&answer), ["new"], "{id}: {answer}");
            log.push((id, sent_at));
            acked.store(log.len(), Ordering::SeqCst);
        }
    };
    let purger = async move {
        let midway = wait_until(
            move || async move {
                acked.load(Ordering::SeqCst) >= 20 && started.elapsed() >= PUBLISHING / 2
            },
            Duration::from_secs(10),
        )
        .await;
        assert!(midway, "the publisher did not get going");
        let acked_before = acked.load(Ordering::SeqCst);
        let (status, body) = purge(app, "race").await;
        *purge_answered.lock().unwrap() = Some(Instant::now());
        (acked_before, status, body)
    };

    // Act
    let (log, (acked_before, status, body)) = tokio::join!(publisher, purger);

    // Assert
    assert_eq!(status, StatusCode::OK, "{body}");
    let up_to_seq = body["up_to_seq"].as_i64().expect("up_to_seq");
    let listed = list_topic(app, "race").await;
    let kept = listed.len();
    let acked_ids: Vec<String> = log.iter().map(|(id, _)| id.clone()).collect();
    let first_kept = acked_ids.len() - kept;
    assert_eq!(
        ids(&listed),
        acked_ids[first_kept..],
        "not a suffix of the acknowledged e0..e{}",
        acked_ids.len() - 1
    );
    let listed_seqs = seqs(&listed);
    assert!(
        listed_seqs.iter().all(|&seq| seq > up_to_seq),
        "kept at or below up_to_seq {up_to_seq}: {listed_seqs:?}"
    );
    assert!(
        first_kept >= acked_before,
        "e{first_kept} was acknowledged before the purge was sent (e0..e{})",
        acked_before - 1
    );
    let answered = purge_answered.lock().unwrap().expect("answered");
    let sent_after = log
        .iter()
        .position(|(_, sent_at)| *sent_at > answered)
        .expect("events were sent after the purge answered");
    assert!(
        first_kept <= sent_after,
        "e{sent_after} was sent after the purge answered yet e0..e{} are gone",
        first_kept - 1
    );
    assert_eq!(body["purged"], first_kept, "{body}");
    let stats = app.stats().await;
    assert_eq!(stats.purged, first_kept as u64, "{stats:?}");
    assert_eq!(stats.stored_events, Some(kept as u64), "{stats:?}");
    assert_eq!(stats.unique_processed, log.len() as u64, "{stats:?}");
}

/// Proves that with keys in force a purge needs `admin` on the topic: no key is a 401, a
/// publish-only key and an admin key for other prefixes are 403 with a JSON error and
/// remove nothing, an admin key covering the topic purges it.
async fn only_an_admin_key_reaching_the_topic_may_purge_it(store: Store) {
    // Arrange
    let keys = KeysFile::new();
    let publisher = bearer(&keys.add("publisher", &[Scope::Publish], &[], None));
    let elsewhere = bearer(&keys.add("elsewhere", &[Scope::Admin], &["other."], None));
    let admin = bearer(&keys.add("admin", &[Scope::Admin, Scope::Read], &["secure."], None));
    let path = keys.path().to_owned();
    let app = spawn_on(store, move |config| config.access.keys_file = Some(path)).await;
    let app: &TestApp = &app;
    let events: Vec<_> = (0..4)
        .map(|i| app.event("secure.logs", &format!("s{i}")))
        .collect();
    publish_ok_as(app, &publisher, &events).await;
    let purge_as = |key: Presented| async move {
        let response = key.apply(purge_request(app, "secure.logs")).send();
        let (status, _, body) = answer(response.await.expect("DELETE sent")).await;
        (status, body)
    };

    // Act
    let anonymous = purge_as(Presented::Nothing).await;
    let publishing = purge_as(publisher.clone()).await;
    let other_prefix = purge_as(elsewhere).await;
    let (_, still_there) = get_as(app, "/events?topic=secure.logs", &admin).await;
    let allowed = purge_as(admin.clone()).await;

    // Assert
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED, "{}", anonymous.1);
    for (status, body) in [&publishing, &other_prefix] {
        assert_eq!(*status, StatusCode::FORBIDDEN, "{body}");
        assert!(body["error"].is_string(), "{body}");
    }
    assert_eq!(still_there["count"], 4, "{still_there}");
    assert_eq!(allowed.0, StatusCode::OK, "{}", allowed.1);
    assert_eq!(allowed.1["purged"], 4, "{}", allowed.1);
    let (_, after) = get_as(app, "/events?topic=secure.logs", &admin).await;
    assert_eq!(after["count"], 0, "{after}");
}

/// Proves a blank topic and one of 256 characters are 400s naming `topic` that purge nothing,
/// while 255 characters is a topic.
async fn an_invalid_topic_is_a_400_naming_topic(store: Store) {
    // Arrange
    let app = spawn_on(store, |_| {}).await;
    let app: &TestApp = &app;
    let longest = "a".repeat(255);
    publish_range(app, &longest, "x", 0..2).await;

    // Act
    let blank = purge(app, "   ").await;
    let too_long = purge(app, &format!("{longest}a")).await;
    let stored = list_topic(app, &longest).await.len();
    let (status, longest_purged) = purge(app, &longest).await;

    // Assert
    for (status, body) in [&blank, &too_long] {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"].is_string(), "{body}");
        let fields: Vec<_> = body["details"]
            .as_array()
            .expect("details")
            .iter()
            .map(|issue| issue["field"].clone())
            .collect();
        assert_eq!(fields, [json!("topic")], "{body}");
    }
    assert_eq!(stored, 2);
    assert_eq!(status, StatusCode::OK, "{longest_purged}");
    assert_eq!(longest_purged["purged"], 2, "{longest_purged}");
}
