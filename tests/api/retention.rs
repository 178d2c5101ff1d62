//! Retention: the pruner deletes the rows whose retention ran out, within a bounded time, and
//! never fresh ones; rules per topic; an expired key is stored again when re-published; a pager
//! crossing a pruning run; the policy in `/stats` and the pruner's figures in `/metrics`. Every
//! case runs on PostgreSQL and on the embedded store.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aggregator::retention::Keep;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::wait::wait_until;
use crate::helpers::{outcomes, ApiApp, TestApp};
use crate::retention_support::{
    ids, list_topic, metric, on_both_stores, one_second, publish_range, retention, seqs, spawn_on,
    Store, EXPIRY_WAIT,
};

on_both_stores!(
    expired_rows_disappear_within_a_bounded_time_and_fresh_rows_never,
    a_rule_expires_its_topics_and_leaves_every_other_topic_whole,
    an_expired_event_published_again_is_stored_again,
    a_pager_crossing_a_pruning_run_sees_no_error_and_no_repeat,
    stats_show_the_policy_and_metrics_count_the_expired_rows,
);

/// Events per topic in a batch.
const N: usize = 40;

/// `expected` sorted, as owned strings, to compare with sorted [`ids`].
fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort_unstable();
    ids
}

/// `<prefix><i>` for `i` in `0..n`, sorted.
fn names(prefix: &str, n: usize) -> Vec<String> {
    sorted((0..n).map(|i| format!("{prefix}{i}")).collect())
}

/// Waits until `topic` lists nothing and `/stats` counts at least `expired` expired rows.
async fn wait_for_expiry(app: &TestApp, topic: &str, expired: u64) -> bool {
    wait_until(
        move || async move {
            list_topic(app, topic).await.is_empty() && app.stats().await.expired >= expired
        },
        EXPIRY_WAIT,
    )
    .await
}

/// Proves that with a 1 s retention on `logs` (and `keep.*` kept forever) the old rows go
/// within a bounded time, counted as `expired`, while `keep.a` keeps every row throughout, a
/// fresh batch is listed at once, and `received`/`unique_processed` never move back.
async fn expired_rows_disappear_within_a_bounded_time_and_fresh_rows_never(store: Store) {
    // Arrange
    let app = spawn_on(store, |config| {
        config.tree.retention = retention(one_second(), &["keep.*=forever"]);
    })
    .await;
    let app: &TestApp = &app;
    let published = Instant::now();
    publish_range(app, "logs", "old-", 0..N).await;
    publish_range(app, "keep.a", "kept-", 0..N).await;
    let just_published = sorted(ids(&list_topic(app, "logs").await));
    assert_eq!(
        just_published,
        names("old-", N),
        "listed right after publishing"
    );

    // Act
    let gone = wait_until(
        move || async move {
            let kept = list_topic(app, "keep.a").await;
            assert_eq!(kept.len(), N, "keep.a lost rows while logs expired");
            list_topic(app, "logs").await.is_empty() && app.stats().await.expired >= N as u64
        },
        EXPIRY_WAIT,
    )
    .await;
    let took = published.elapsed();
    let fresh_published = Instant::now();
    publish_range(app, "logs", "fresh-", 0..N / 2).await;
    let fresh = list_topic(app, "logs").await;
    let kept = list_topic(app, "keep.a").await;
    let stats = app.stats().await;
    let age = fresh_published.elapsed();

    // Assert
    assert!(
        gone,
        "logs not pruned within {EXPIRY_WAIT:?}: {:?}",
        app.stats().await
    );
    assert!(
        took >= Duration::from_secs(1),
        "expired after only {took:?}"
    );
    assert_eq!(
        sorted(ids(&fresh)),
        names("fresh-", N / 2),
        "a fresh batch {age:?} old is listed whole"
    );
    assert_eq!(sorted(ids(&kept)), names("kept-", N));
    let total = (2 * N + N / 2) as u64;
    assert_eq!(stats.received, total, "{stats:?}");
    assert_eq!(stats.unique_processed, total, "{stats:?}");
    assert_eq!(stats.expired, N as u64, "{stats:?}");
    assert_eq!(stats.purged, 0, "{stats:?}");
    let listed = (fresh.len() + kept.len()) as u64;
    assert_eq!(stats.stored_events, Some(listed), "{stats:?}");
}

/// Proves that with everything kept forever but `debug.*=1s`, `debug.x` expires while `app`
/// and `debug` (which `debug.*` does not match) stay whole for five more walks.
async fn a_rule_expires_its_topics_and_leaves_every_other_topic_whole(store: Store) {
    // Arrange
    let app = spawn_on(store, |config| {
        config.tree.retention = retention(Keep::Forever, &["debug.*=1s"]);
    })
    .await;
    let app: &TestApp = &app;
    publish_range(app, "debug.x", "d", 0..N).await;
    publish_range(app, "app", "a", 0..N).await;
    publish_range(app, "debug", "b", 0..N).await;

    // Act
    let gone = wait_for_expiry(app, "debug.x", N as u64).await;
    let lost = wait_until(
        move || async move {
            list_topic(app, "app").await.len() < N || list_topic(app, "debug").await.len() < N
        },
        Duration::from_secs(1),
    )
    .await;

    // Assert
    assert!(gone, "debug.x not pruned: {:?}", app.stats().await);
    assert!(!lost, "a topic without a finite rule lost rows");
    assert_eq!(sorted(ids(&list_topic(app, "app").await)), names("a", N));
    assert_eq!(sorted(ids(&list_topic(app, "debug").await)), names("b", N));
    let stats = app.stats().await;
    assert_eq!(stats.expired, N as u64, "{stats:?}");
    assert_eq!(stats.stored_events, Some(2 * N as u64), "{stats:?}");
    assert_eq!(stats.unique_processed, 3 * N as u64, "{stats:?}");
}

/// Proves the dedup horizon is the row's lifetime: an expired key published again (beside a
/// live key) is answered `new` and stored under a higher `seq`, `unique_processed` and
/// `stored_events` move by one, `expired` does not; a third copy is a duplicate.
async fn an_expired_event_published_again_is_stored_again(store: Store) {
    // Arrange
    let app = spawn_on(store, |config| {
        config.tree.retention = retention(one_second(), &[]);
    })
    .await;
    let app: &TestApp = &app;
    let old = app.event("logs", "again");
    assert_eq!(outcomes(&app.publish_ok(&old).await), ["new"]);
    let old_seq = seqs(&list_topic(app, "logs").await)[0];
    assert!(wait_for_expiry(app, "logs", 1).await, "not pruned");
    let live = app.event("logs", "live");
    assert_eq!(outcomes(&app.publish_ok(&live).await), ["new"]);
    let before = app.stats().await;

    // Act
    let again = app.publish_ok(&json!([old, live])).await;
    let third = app.publish_ok(&old).await;

    // Assert
    let after = app.stats().await;
    let listed = list_topic(app, "logs").await;
    assert_eq!(outcomes(&again), ["new", "duplicate"], "{again}");
    assert_eq!(outcomes(&third), ["duplicate"], "{third}");
    assert_eq!(after.unique_processed, before.unique_processed + 1);
    assert_eq!(after.stored_events, before.stored_events.map(|n| n + 1));
    assert_eq!(after.stored_events, Some(2), "{after:?}");
    assert_eq!(after.expired, before.expired, "{after:?}");
    assert_eq!(after.expired, 1, "{after:?}");
    assert_eq!(after.duplicate_dropped, before.duplicate_dropped + 2);
    assert_eq!(sorted(ids(&listed)), ["again", "live"]);
    let new_seq = listed.iter().find(|e| e["event_id"] == "again").unwrap()["seq"]
        .as_i64()
        .unwrap();
    assert!(new_seq > old_seq, "seq {new_seq} reused after {old_seq}");
}

/// Events of the pager test.
const PAGED: usize = 3_000;
/// Pause between two pages, so that the pruner overtakes the pager.
const PAGE_PAUSE: Duration = Duration::from_millis(100);

/// Proves that paging 100 at a time through a topic whose rows expire under the pager (the
/// pruner deleting 100 rows a statement) answers every page with 200, never shows an event
/// twice, keeps `seq` increasing, and ends; the pruner then takes every row.
async fn a_pager_crossing_a_pruning_run_sees_no_error_and_no_repeat(store: Store) {
    // Arrange
    let app = spawn_on(store, |config| {
        config.tree.retention = retention(one_second(), &[]);
        config.tree.retention.batch_rows = 100;
    })
    .await;
    let app: &TestApp = &app;
    for start in (0..PAGED).step_by(1_000) {
        publish_range(app, "pager", "p", start..start + 1_000).await;
    }

    // Act
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (status, page) = app
            .events(&format!("topic=pager&limit=100&cursor={cursor}"))
            .await;
        assert_eq!(status, StatusCode::OK, "page {pages}: {page}");
        seen.extend(page["events"].as_array().expect("events").iter().cloned());
        pages += 1;
        assert!(pages <= PAGED / 100 + 1, "pagination does not end");
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
        tokio::time::sleep(PAGE_PAUSE).await;
    }
    let expired_while_paging = app.stats().await.expired;

    // Assert
    let seen_ids = ids(&seen);
    let distinct: HashSet<&String> = seen_ids.iter().collect();
    assert_eq!(distinct.len(), seen_ids.len(), "an event was listed twice");
    let seen_seqs = seqs(&seen);
    assert!(
        seen_seqs.windows(2).all(|pair| pair[0] < pair[1]),
        "seq went back: {seen_seqs:?}"
    );
    assert!(
        !seen.is_empty() && seen.len() < PAGED && expired_while_paging > 0,
        "the pruner did not overlap the pager: {} seen in {pages} pages, {expired_while_paging} \
         expired",
        seen.len()
    );
    assert!(
        wait_for_expiry(app, "pager", PAGED as u64).await,
        "not all pruned"
    );
    let stats = app.stats().await;
    assert_eq!(stats.expired, PAGED as u64, "{stats:?}");
    assert_eq!(stats.stored_events, Some(0), "{stats:?}");
}

/// Proves `/stats` shows the policy in force (most specific rule first, durations in
/// humantime) and the removal counters, and `/metrics` counts the expired rows and shows the
/// last walk's duration and lag.
async fn stats_show_the_policy_and_metrics_count_the_expired_rows(store: Store) {
    // Arrange
    let app = spawn_on(store, |config| {
        config.tree.retention = retention(one_second(), &["keep.*=forever", "keep.audit=30d"]);
    })
    .await;
    let app: &TestApp = &app;
    let policy = app.stats_json().await["retention"].clone();
    publish_range(app, "logs", "l", 0..7).await;
    publish_range(app, "keep.audit", "k", 0..2).await;

    // Act
    assert!(wait_for_expiry(app, "logs", 7).await, "logs not pruned");
    let counted = wait_until(
        move || async move { metric(app, "aggregator_events_expired_total").await == Some(7.0) },
        Duration::from_secs(5),
    )
    .await;
    let stats = app.stats_json().await;

    // Assert
    assert_eq!(
        policy,
        json!({"default": "1s", "rules": [
            {"topics": "keep.audit", "keep": "30days"},
            {"topics": "keep.*", "keep": "forever"},
        ]})
    );
    assert_eq!(stats["retention"], policy);
    assert_eq!(
        (&stats["stored_events"], &stats["expired"], &stats["purged"]),
        (&json!(2), &json!(7), &json!(0)),
        "{stats}"
    );
    assert_eq!(stats["unique_processed"], 9, "{stats}");
    let expired = metric(app, "aggregator_events_expired_total").await;
    let lag = metric(app, "aggregator_prune_lag_seconds").await;
    assert!(counted, "expired_total {expired:?}, lag {lag:?}");
    assert_eq!(
        metric(app, "aggregator_events_purged_total").await,
        Some(0.0)
    );
    assert!(
        lag.is_some_and(|seconds| (0.0..EXPIRY_WAIT.as_secs_f64()).contains(&seconds)),
        "lag {lag:?}"
    );
    let duration = metric(app, "aggregator_prune_last_duration_seconds").await;
    assert!(
        duration.is_some_and(|seconds| (0.0..5.0).contains(&seconds)),
        "last walk took {duration:?}"
    );
}
