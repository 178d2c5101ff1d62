//! Cases about topic prefixes (an API key limited to some topics, `EventQuery::topic_prefixes`
//! and `FollowQuery::topic_prefixes`): a listing returns exactly the events of the topics
//! inside, in full pages whose cursors resume where they should, with the other filters too; a
//! prefix matches literal starts only, byte for byte (`%`, `_`, `\`, quotes, multi-byte
//! characters, case, Unicode normal forms, a whole topic, a longer string); the live tail
//! across topics returns only the events inside, in follow order, old and new.

use aggregator::event::{Event, TopicPrefixes};
use aggregator::store::{
    EventQuery, FeedPosition, FollowQuery, FollowedEvent, PagePosition, SharedStore, StoredEvent,
};

use crate::backends::Backend;
use crate::fixtures::{base_time, commit, event, event_with, everything, keys, list_all};
use crate::following::{after, assert_follow_order, follow, follow_until, followed_keys};

/// Topics around `orders.` and `payments.`: before, between and after them, and two that share
/// a shorter start with `orders.`.
const AROUND: [&str; 8] = [
    "audit.1",
    "orders",
    "orders.a",
    "orders.b",
    "ordersX",
    "p",
    "payments.x",
    "zeta",
];

/// Events of [`AROUND`] inside `orders.` and `payments.`: three per topic inside.
const INSIDE: usize = 9;

/// The grant most cases use.
fn orders_and_payments() -> TopicPrefixes {
    prefixes(&["payments.", "orders."])
}

fn prefixes(raw: &[&str]) -> TopicPrefixes {
    TopicPrefixes::new(raw.iter().map(|prefix| prefix.to_string()))
}

/// Three commits (shards 0, 1, 2) of one event per topic of [`AROUND`], so topics interleave
/// in commit order; sources alternate between `web` and `api`.
async fn commit_around(store: &SharedStore) {
    for round in 0..3u32 {
        let batch: Vec<Event> = AROUND
            .iter()
            .enumerate()
            .map(|(n, topic)| {
                let source = if (n + round as usize) % 2 == 0 {
                    "web"
                } else {
                    "api"
                };
                event_with(topic, &format!("e{round}"), base_time(), source, "{}")
            })
            .collect();
        commit(store, round, &batch).await;
    }
}

/// Topics of a listing restricted to `grant`, two per page.
async fn topics_inside(store: &SharedStore, grant: &TopicPrefixes) -> Vec<String> {
    let query = EventQuery {
        topic_prefixes: grant.clone(),
        ..everything(2)
    };
    list_all(store, query)
        .await
        .into_iter()
        .map(|event| event.topic)
        .collect()
}

pub async fn a_listing_inside_topic_prefixes_returns_exactly_their_events_in_full_pages(
    backend: Backend,
) {
    let store = backend.open().await;
    commit_around(&store).await;
    let grant = orders_and_payments();
    let all = list_all(&store, everything(1000)).await;
    let expected = |source: Option<&str>| {
        let inside: Vec<_> = all
            .iter()
            .filter(|e| grant.contains(&e.topic) && source.is_none_or(|s| e.source == s))
            .cloned()
            .collect();
        keys(&inside)
    };
    assert_eq!(expected(None).len(), INSIDE);

    // `list_all` checks that every page but the last is full and that its cursor is its last.
    for limit in [1, 2, 4, 9, 100] {
        for source in [None, Some("web")] {
            let query = EventQuery {
                topic_prefixes: grant.clone(),
                source: source.map(str::to_owned),
                ..everything(limit)
            };
            let listed = list_all(&store, query).await;
            assert_eq!(
                keys(&listed),
                expected(source),
                "limit {limit}, source {source:?}"
            );
        }
    }
}

pub async fn a_cursor_or_topic_outside_the_topic_prefixes_lists_only_events_inside(
    backend: Backend,
) {
    let store = backend.open().await;
    commit_around(&store).await;
    let grant = orders_and_payments();
    let page_after = |topic: &str| EventQuery {
        topic_prefixes: grant.clone(),
        after: Some(PagePosition {
            topic: topic.into(),
            seq: i64::MAX,
        }),
        ..everything(100)
    };
    let of_topic = |topic: &str| EventQuery {
        topic: Some(topic.into()),
        topic_prefixes: grant.clone(),
        ..everything(2)
    };

    let after_orders = store.query(&page_after("orders")).await.unwrap();
    let after_p = store.query(&page_after("p")).await.unwrap();
    let after_zeta = store.query(&page_after("zeta")).await.unwrap();
    let inside = list_all(&store, of_topic("orders.b")).await;
    let outside = list_all(&store, of_topic("ordersX")).await;

    let topics = |events: &[StoredEvent]| -> Vec<String> {
        events.iter().map(|e| e.topic.clone()).collect()
    };
    let thrice = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .flat_map(|name| [name.to_string(), name.to_string(), name.to_string()])
            .collect()
    };
    assert_eq!(
        topics(&after_orders.events),
        thrice(&["orders.a", "orders.b", "payments.x"])
    );
    assert!(after_orders.next.is_none());
    assert_eq!(topics(&after_p.events), thrice(&["payments.x"]));
    assert!(after_zeta.events.is_empty());
    assert_eq!(topics(&inside), thrice(&["orders.b"]));
    assert!(outside.is_empty(), "{:?}", keys(&outside));
}

pub async fn a_topic_prefix_matches_only_topics_that_start_with_it_byte_for_byte(backend: Backend) {
    let store = backend.open().await;
    let topics = [
        "a%b.1",
        "aXYb.1",
        "a_b.1",
        "aZb.1",
        "a\\b.1",
        "ab.1",
        "it's.1",
        "its.1",
        "caf\u{e9}.1",
        "cafe.1",
        "cafe\u{301}.1",
        "CAF\u{c9}.1",
        "\u{65e5}",
        "\u{65e5}\u{672c}.1",
        "\u{65e5}\u{672c}\u{8a9e}",
        "\u{1F680}",
        "\u{1F680}.1",
        "exact",
        "short",
    ];
    let batch: Vec<Event> = topics.iter().map(|topic| event(topic, "1")).collect();
    commit(&store, 0, &batch).await;
    // (prefix, the topics it must match, in byte order)
    let cases: [(&str, &[&str]); 15] = [
        ("a%b", &["a%b.1"]),
        ("a_b", &["a_b.1"]),
        ("a\\b", &["a\\b.1"]),
        ("%", &[]),
        ("_", &[]),
        ("it's", &["it's.1"]),
        ("caf\u{e9}", &["caf\u{e9}.1"]),
        ("caf", &["cafe.1", "cafe\u{301}.1", "caf\u{e9}.1"]),
        ("CAF", &["CAF\u{c9}.1"]),
        (
            "\u{65e5}\u{672c}",
            &["\u{65e5}\u{672c}.1", "\u{65e5}\u{672c}\u{8a9e}"],
        ),
        (
            "\u{65e5}",
            &["\u{65e5}", "\u{65e5}\u{672c}.1", "\u{65e5}\u{672c}\u{8a9e}"],
        ),
        ("\u{1F680}", &["\u{1F680}", "\u{1F680}.1"]),
        ("exact", &["exact"]),
        ("shorter", &[]),
        ("\u{10FFFF}", &[]),
    ];

    for (prefix, expected) in cases {
        let alone = topics_inside(&store, &prefixes(&[prefix])).await;
        // Two prefixes no topic has, at both ends of the byte order: the backends' range hint
        // (store/span.rs) then lets every topic through and the exact test alone decides.
        let widened = topics_inside(&store, &prefixes(&[prefix, "\u{1}", "\u{10FFFF}"])).await;
        assert_eq!(alone, expected, "prefix {prefix:?}");
        assert_eq!(widened, expected, "prefix {prefix:?} among others");
    }
    let every_prefix: Vec<&str> = cases.iter().map(|(prefix, _)| *prefix).collect();
    let grant = prefixes(&every_prefix);
    let mut expected: Vec<&str> = cases
        .iter()
        .flat_map(|(_, found)| found.iter())
        .copied()
        .collect();
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(
        topics_inside(&store, &grant).await,
        expected,
        "every prefix at once"
    );
}

pub async fn following_every_topic_inside_topic_prefixes_returns_only_their_events_in_order(
    backend: Backend,
) {
    let store = backend.open().await;
    commit_around(&store).await;
    let grant = orders_and_payments();
    let restricted = |query: FollowQuery| FollowQuery {
        topic_prefixes: grant.clone(),
        ..query
    };
    let all = follow_until(
        &store,
        after(None, FeedPosition::START, 100),
        3 * AROUND.len(),
    )
    .await;
    let inside: Vec<_> = all
        .iter()
        .filter(|f| grant.contains(&f.event.topic))
        .cloned()
        .collect();
    assert_eq!(inside.len(), INSIDE);

    let followed = follow_until(
        &store,
        restricted(after(None, FeedPosition::START, 2)),
        INSIDE,
    )
    .await;
    let last = followed.last().expect("events followed").position;
    let caught_up = follow(&store, &restricted(after(None, last, 100))).await;
    let inside_web: Vec<_> = inside
        .iter()
        .filter(|f| f.event.source == "web")
        .cloned()
        .collect();
    let web = follow_until(
        &store,
        FollowQuery {
            source: Some("web".into()),
            ..restricted(after(None, FeedPosition::START, 2))
        },
        inside_web.len(),
    )
    .await;
    let one_topic = follow(
        &store,
        &restricted(after(Some("payments.x"), FeedPosition::START, 100)),
    )
    .await;
    let outside = follow(
        &store,
        &restricted(after(Some("ordersX"), FeedPosition::START, 100)),
    )
    .await;
    commit(
        &store,
        3,
        &[
            event("zeta", "new"),
            event("orders.c", "new"),
            event("ordersX", "new"),
            event("payments.x", "new"),
        ],
    )
    .await;
    let new = follow_until(&store, restricted(after(None, last, 100)), 2).await;

    assert_eq!(followed_keys(&followed), followed_keys(&inside));
    let positions = |events: &[FollowedEvent]| -> Vec<FeedPosition> {
        events.iter().map(|f| f.position).collect()
    };
    assert_eq!(positions(&followed), positions(&inside));
    assert_follow_order(&followed);
    assert!(caught_up.is_empty(), "{:?}", followed_keys(&caught_up));
    assert_eq!(followed_keys(&web), followed_keys(&inside_web));
    assert_eq!(one_topic.len(), 3);
    assert!(one_topic.iter().all(|f| f.event.topic == "payments.x"));
    assert!(outside.is_empty(), "{:?}", followed_keys(&outside));
    let new_keys = followed_keys(&new);
    assert_eq!(new_keys.len(), 2);
    assert!(new_keys.contains(&("orders.c".to_string(), "new".to_string())));
    assert!(new_keys.contains(&("payments.x".to_string(), "new".to_string())));
    let final_position = new.last().expect("events followed").position;
    assert!(
        follow(&store, &restricted(after(None, final_position, 100)))
            .await
            .is_empty()
    );
}
