//! Cases about the live feed (`Store::follow`, `Store::feed_end`, `Store::commit_signal`):
//! one topic in `seq` order after a position; every topic, each committed event once in
//! position order when paged with `scanned_to`, each topic still in `seq` order; the source
//! filter; a page's limit and byte budget (never fewer than one event); where the feed ends,
//! so that the next commit is followed and nothing before it; the commit signal, of this store
//! and (PostgreSQL) of another instance; and (PostgreSQL) the visibility horizon: nothing is
//! followed across topics past a transaction still running, and once it commits, its rows
//! come first. Every page read is checked against the page contract
//! ([`crate::following::follow_page`]). How far a filtered read looks is in `feed_scan`.

use std::collections::HashSet;

use aggregator::event::Event;
use aggregator::store::postgres::{PostgresOptions, PostgresStore};
use aggregator::store::{FeedPosition, FollowQuery, SharedStore};

use crate::backends::Backend;
use crate::common::db::connect;
use crate::fixtures::{base_time, commit, event, event_with, everything, keys, list_all};
use crate::following::{
    after, assert_follow_order, follow, follow_page, follow_until, followed_keys, pairs, WAIT,
};

pub async fn following_one_topic_returns_its_events_in_seq_order_after_a_position(
    backend: Backend,
) {
    let store = backend.open().await;
    // Ids sort differently from commit order, and topics interleave across commits.
    commit(
        &store,
        0,
        &[event("t", "m"), event("u", "2"), event("t", "z")],
    )
    .await;
    commit(&store, 1, &[event("u", "1")]).await;
    commit(&store, 0, &[event("t", "a")]).await;
    let listed = list_all(
        &store,
        aggregator::store::EventQuery {
            topic: Some("t".into()),
            ..everything(10)
        },
    )
    .await;

    let all = follow(&store, &after(Some("t"), FeedPosition::START, 100)).await;
    let rest = follow(&store, &after(Some("t"), all[0].position, 100)).await;
    let none = follow(&store, &after(Some("t"), all[2].position, 100)).await;

    assert_eq!(followed_keys(&all), keys(&listed));
    assert_eq!(
        followed_keys(&all),
        pairs(&[("t", "m"), ("t", "z"), ("t", "a")])
    );
    for (followed, stored) in all.iter().zip(&listed) {
        assert_eq!(
            followed.position,
            FeedPosition {
                tx: 0,
                seq: stored.seq
            }
        );
    }
    assert_eq!(followed_keys(&rest), pairs(&[("t", "z"), ("t", "a")]));
    assert!(none.is_empty(), "{:?}", followed_keys(&none));
}

pub async fn following_every_topic_returns_each_committed_event_once_in_position_order(
    backend: Backend,
) {
    let store = backend.open().await;
    // Four shards commit at once: their own topic and a topic they share.
    let tasks: Vec<_> = (0..4u32)
        .map(|shard| {
            let store = store.clone();
            tokio::spawn(async move {
                for batch in 0..5 {
                    let own = format!("own{shard}");
                    let events = [
                        event(&own, &format!("{batch}-a")),
                        event("shared", &format!("{shard}-{batch}")),
                        event(&own, &format!("{batch}-b")),
                    ];
                    commit(&store, shard, &events).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a committing task");
    }
    let stored: HashSet<(String, String)> = keys(&list_all(&store, everything(1000)).await)
        .into_iter()
        .collect();
    assert_eq!(stored.len(), 60);

    let followed = follow_until(&store, after(None, FeedPosition::START, 7), stored.len()).await;
    let last = followed.last().expect("events followed").position;
    let none = follow(&store, &after(None, last, 100)).await;

    let followed_set: HashSet<(String, String)> = followed_keys(&followed).into_iter().collect();
    assert_eq!(followed_set.len(), followed.len(), "an event came twice");
    assert_eq!(followed_set, stored);
    assert_follow_order(&followed);
    assert!(none.is_empty(), "{:?}", followed_keys(&none));
}

pub async fn following_filters_by_source(backend: Backend) {
    let store = backend.open().await;
    let ts = base_time();
    commit(
        &store,
        0,
        &[
            event_with("app", "1", ts, "web", "{}"),
            event_with("app", "2", ts, "api", "{}"),
            event_with("db", "1", ts, "web", "{}"),
            event_with("db", "2", ts, "api", "{}"),
        ],
    )
    .await;
    commit(&store, 1, &[event_with("app", "3", ts, "web", "{}")]).await;
    let web = |mut query: FollowQuery| {
        query.source = Some("web".into());
        query
    };

    let every_topic = follow_until(&store, web(after(None, FeedPosition::START, 100)), 3).await;
    let last = every_topic.last().expect("events followed").position;
    let none = follow(&store, &web(after(None, last, 100))).await;
    let app = follow(&store, &web(after(Some("app"), FeedPosition::START, 100))).await;

    let found: HashSet<(String, String)> = followed_keys(&every_topic).into_iter().collect();
    let expected: HashSet<(String, String)> = pairs(&[("app", "1"), ("db", "1"), ("app", "3")])
        .into_iter()
        .collect();
    assert_eq!(found, expected);
    assert!(every_topic.iter().all(|f| f.event.source == "web"));
    assert!(none.is_empty(), "{:?}", followed_keys(&none));
    assert_eq!(followed_keys(&app), pairs(&[("app", "1"), ("app", "3")]));
}

pub async fn a_follow_page_stops_at_its_limit_and_byte_budget_with_at_least_one_event(
    backend: Backend,
) {
    let store = backend.open().await;
    // Payloads of exactly 10 bytes each.
    let events: Vec<Event> = (0..5)
        .map(|i| {
            event_with(
                "t",
                &format!("e{i}"),
                base_time(),
                "svc",
                &format!(r#"{{"p":"x{i}"}}"#),
            )
        })
        .collect();
    assert!(events.iter().all(|e| e.payload.get().len() == 10));
    commit(&store, 0, &events).await;
    // Across topics only once every event is followable (below PostgreSQL's horizon).
    follow_until(&store, after(None, FeedPosition::START, 100), 5).await;

    for topic in [Some("t"), None] {
        let sized = |limit: u32, max_bytes: usize| FollowQuery {
            max_bytes,
            ..after(topic, FeedPosition::START, limit)
        };
        // (limit, byte budget, events on the page, what is checked)
        let cases = [
            (2, 0, 2, "limit"),
            (100, 0, 5, "no budget"),
            (100, 25, 2, "25 bytes"),
            (100, 30, 3, "30 bytes"),
            (100, 1, 1, "1 byte"),
            (1, 25, 1, "limit 1"),
        ];
        for (limit, max_bytes, expected, what) in cases {
            let page = follow(&store, &sized(limit, max_bytes)).await;
            assert_eq!(page.len(), expected, "{topic:?}: {what}");
        }

        // Paging by budget visits every event once, in order.
        let mut query = sized(100, 25);
        let mut pages = Vec::new();
        loop {
            let page = follow_page(&store, &query).await;
            if page.events.is_empty() {
                break;
            }
            // Cut by the budget: the next page resumes right after this one's last event.
            let last = page.events.last().expect("a page with events").position;
            assert_eq!(page.scanned_to, last, "{topic:?}");
            query.after = page.scanned_to;
            pages.push(followed_keys(&page.events));
            assert!(pages.len() <= 5, "{topic:?}: paging does not end");
        }
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 1], "{topic:?}");
        let ids: Vec<String> = pages.into_iter().flatten().map(|(_, id)| id).collect();
        assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"], "{topic:?}");
    }
}

pub async fn a_feed_end_is_after_everything_followable_and_before_the_next_commit(
    backend: Backend,
) {
    let store = backend.open().await;
    commit(&store, 0, &[event("t", "1"), event("u", "1")]).await;
    commit(&store, 1, &[event("t", "2")]).await;
    follow_until(&store, after(None, FeedPosition::START, 100), 3).await;
    let t = follow(&store, &after(Some("t"), FeedPosition::START, 100)).await;

    let end_all = store.feed_end(None).await.expect("feed_end(None)");
    let end_t = store.feed_end(Some("t")).await.expect("feed_end(t)");
    let end_fresh = store
        .feed_end(Some("fresh"))
        .await
        .expect("feed_end(fresh)");

    assert_eq!(
        Some(end_t),
        t.last().map(|f| f.position),
        "the end of t is after its last"
    );
    assert!(follow(&store, &after(None, end_all, 100)).await.is_empty());
    assert!(follow(&store, &after(Some("t"), end_t, 100))
        .await
        .is_empty());
    assert!(follow(&store, &after(Some("fresh"), end_fresh, 100))
        .await
        .is_empty());

    commit(
        &store,
        0,
        &[event("t", "3"), event("fresh", "1"), event("u", "2")],
    )
    .await;

    let every_topic = follow_until(&store, after(None, end_all, 100), 3).await;
    let last = every_topic.last().expect("events followed").position;
    let found: HashSet<(String, String)> = followed_keys(&every_topic).into_iter().collect();
    let expected: HashSet<(String, String)> = pairs(&[("t", "3"), ("fresh", "1"), ("u", "2")])
        .into_iter()
        .collect();
    assert_eq!(found, expected);
    assert!(follow(&store, &after(None, last, 100)).await.is_empty());
    assert_eq!(
        followed_keys(&follow(&store, &after(Some("t"), end_t, 100)).await),
        pairs(&[("t", "3")])
    );
    assert_eq!(
        followed_keys(&follow(&store, &after(Some("fresh"), end_fresh, 100)).await),
        pairs(&[("fresh", "1")])
    );
}

pub async fn the_commit_signal_changes_after_each_commit(backend: Backend) {
    let store = backend.open().await;
    let mut signal = store.commit_signal();

    // Several times, so that a change the store makes on its own (it may) cannot pass for all.
    assert_each_commit_changes(&store, &mut signal).await;
}

/// A PostgreSQL transaction that is still running holds the horizon: no row committed after it
/// started is followed across topics (a topic's tail is not held), and once it commits its
/// row comes first, even to a follower that started from the feed's end meanwhile.
pub async fn a_follow_across_topics_waits_for_a_transaction_still_running(backend: Backend) {
    let Backend::Postgres { url } = &backend else {
        panic!("a PostgreSQL case")
    };
    let store = backend.open().await;
    let mut raw = connect(url).await;
    let running = raw.transaction().await.expect("BEGIN");
    let raw_tx: i64 = running
        .query_one(
            "INSERT INTO events (topic, event_id, ts, source, payload) \
             VALUES ('raw', 'r1', now(), 'svc', '{\"n\":1}') RETURNING tx",
            &[],
        )
        .await
        .expect("a raw insert")
        .get(0);
    commit(&store, 0, &[event("stored", "s1")]).await;

    let while_running = follow(&store, &after(None, FeedPosition::START, 100)).await;
    let topic_while_running =
        follow(&store, &after(Some("stored"), FeedPosition::START, 100)).await;
    let end_while_running = store.feed_end(None).await.expect("feed_end(None)");

    assert!(
        while_running.is_empty(),
        "followed past a running transaction: {:?}",
        followed_keys(&while_running)
    );
    assert_eq!(
        followed_keys(&topic_while_running),
        pairs(&[("stored", "s1")])
    );
    assert!(
        end_while_running.tx <= raw_tx,
        "{end_while_running:?} past {raw_tx}"
    );

    running.commit().await.expect("COMMIT");
    let from_start = follow_until(&store, after(None, FeedPosition::START, 100), 2).await;
    let from_end = follow_until(&store, after(None, end_while_running, 100), 2).await;

    let expected = pairs(&[("raw", "r1"), ("stored", "s1")]);
    assert_eq!(followed_keys(&from_start), expected);
    assert_eq!(followed_keys(&from_end), expected);
    assert_eq!(from_start[0].position.tx, raw_tx);
    assert_follow_order(&from_start);
}

/// A commit through one PostgreSQL instance changes the commit signal of another sharing the
/// database (LISTEN/NOTIFY).
pub async fn a_commit_changes_the_commit_signal_of_another_instance(backend: Backend) {
    let Backend::Postgres { url } = &backend else {
        panic!("a PostgreSQL case")
    };
    let store = backend.open().await;
    let options = PostgresOptions {
        pool_size: 2,
        timeout: WAIT,
        instance_id: "another".into(),
        query_timeout: WAIT,
        search_pool_size: 1,
    };
    let another = PostgresStore::connect(url, &options)
        .await
        .expect("open another instance");
    let mut signal = aggregator::store::Reads::commit_signal(&another);
    // The feed connection signals once when it starts listening: from then on, nothing sent
    // to the channel is lost.
    tokio::time::timeout(WAIT, signal.wait_for(|generation| *generation >= 1))
        .await
        .expect("the other instance listens within the wait")
        .expect("the signal is still there");

    assert_each_commit_changes(&store, &mut signal).await;
}

/// Commits three times to `store`; `signal` must change after each commit.
async fn assert_each_commit_changes(
    store: &SharedStore,
    signal: &mut tokio::sync::watch::Receiver<u64>,
) {
    for i in 0..3 {
        signal.borrow_and_update();
        commit(store, 0, &[event("t", &i.to_string())]).await;
        tokio::time::timeout(WAIT, signal.changed())
            .await
            .unwrap_or_else(|_| panic!("commit {i}: no signal within {WAIT:?}"))
            .expect("the signal is still there");
    }
}
