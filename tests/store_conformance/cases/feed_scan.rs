//! Cases about how far one read of the live feed looks (`FollowPage::scanned_to`,
//! `FollowQuery::scan_rows`): a filtered tail that matches nothing moves to the end of the
//! feed in a few reads, each examining at most the scan bound; matching events among many that
//! do not match all come, in order, exactly once, when each read starts after the last one's
//! `scanned_to`, whether pages are cut by their limit or their byte budget; and a page cut by
//! its limit or byte budget resumes right after its last event, so no match is skipped.
//!
//! "Rows examined" by a read is counted as the rows of the feed (read first, unfiltered)
//! between its `after` (excluded) and its `scanned_to` (included).

use aggregator::event::{Event, TopicPrefixes};
use aggregator::store::{FeedPosition, FollowQuery, FollowedEvent, SharedStore};

use crate::backends::Backend;
use crate::fixtures::{base_time, commit, event_with};
use crate::following::{after, follow_page, follow_until, followed_keys};

/// Events per page in these cases; a read then examines at most ten times as many rows.
const LIMIT: u32 = 10;

/// Which events of a feed a filtered query should return.
type Matches<'a> = &'a dyn Fn(&FollowedEvent) -> bool;

/// A page expected: the rows (by index) of its events, and its `scanned_to`.
type Page = (Vec<usize>, FeedPosition);

/// The most rows one read of a page of [`LIMIT`] may examine.
fn scan_bound() -> usize {
    after(None, FeedPosition::START, LIMIT).scan_rows() as usize
}

/// Commits `count` events built by `shape` from their index, 50 per commit (several
/// transactions), in index order.
async fn commit_rows(store: &SharedStore, count: usize, shape: impl Fn(usize) -> Event) {
    let events: Vec<Event> = (0..count).map(shape).collect();
    for (n, batch) in events.chunks(50).enumerate() {
        commit(store, n as u32 % 4, batch).await;
    }
}

/// An event whose payload is exactly 11 bytes (`{"p":"007"}`).
fn row(i: usize, topic: &str, source: &str) -> Event {
    event_with(
        topic,
        &format!("e{i:03}"),
        base_time(),
        source,
        &format!(r#"{{"p":"{i:03}"}}"#),
    )
}

/// Every event of the feed of `topic` (or of all topics), unfiltered, in follow order, once
/// all `count` are followable.
async fn feed(store: &SharedStore, topic: Option<&str>, count: usize) -> Vec<FollowedEvent> {
    follow_until(store, after(topic, FeedPosition::START, 1000), count).await
}

/// Reads `query` from its `after`, each read after the last one's `scanned_to`, until a read
/// examines nothing. Checks that each read examines at most [`scan_bound`] rows of `feed` (the
/// unfiltered feed `query` reads) and returns only rows it examined. Returns the events, the
/// number of reads that moved on, and where the last read started.
async fn read_to_the_end(
    store: &SharedStore,
    mut query: FollowQuery,
    feed: &[FollowedEvent],
) -> (Vec<FollowedEvent>, usize, FeedPosition) {
    let mut followed = Vec::new();
    let mut moves = 0;
    loop {
        let page = follow_page(store, &query).await;
        let examined: Vec<FeedPosition> = feed
            .iter()
            .map(|f| f.position)
            .filter(|p| *p > query.after && *p <= page.scanned_to)
            .collect();
        assert!(
            examined.len() <= scan_bound(),
            "a read from {:?} to {:?} examined {} rows",
            query.after,
            page.scanned_to,
            examined.len()
        );
        assert!(
            page.events.iter().all(|f| examined.contains(&f.position)),
            "an event outside the rows examined"
        );
        if page.scanned_to == query.after {
            assert!(page.events.is_empty(), "events without moving on");
            return (followed, moves, query.after);
        }
        moves += 1;
        assert!(moves <= feed.len(), "reading does not end");
        query.after = page.scanned_to;
        followed.extend(page.events);
    }
}

/// `feed` as a tail of one topic sees it: positions are `(0, seq)`.
fn in_topic(feed: &[FollowedEvent], topic: &str) -> Vec<FollowedEvent> {
    feed.iter()
        .filter(|f| f.event.topic == topic)
        .map(|f| FollowedEvent {
            position: FeedPosition {
                tx: 0,
                seq: f.event.seq,
            },
            event: f.event.clone(),
        })
        .collect()
}

fn positions(followed: &[FollowedEvent]) -> Vec<FeedPosition> {
    followed.iter().map(|f| f.position).collect()
}

fn prefixes(raw: &[&str]) -> TopicPrefixes {
    TopicPrefixes::new(raw.iter().map(|prefix| prefix.to_string()))
}

pub async fn a_filtered_tail_that_matches_nothing_reaches_the_end_in_reads_of_bounded_size(
    backend: Backend,
) {
    let store = backend.open().await;
    let rows = 3 * scan_bound();
    let topics = ["busy.a", "busy.b"];
    commit_rows(&store, rows, |i| row(i, topics[i % 2], "svc")).await;
    let every_topic = feed(&store, None, rows).await;
    let busy_a = in_topic(&every_topic, "busy.a");
    // (what is checked, the query, the feed it reads)
    let cases = [
        (
            "another source",
            FollowQuery {
                source: Some("nobody".into()),
                ..after(None, FeedPosition::START, LIMIT)
            },
            &every_topic,
        ),
        (
            "other topic prefixes",
            FollowQuery {
                topic_prefixes: prefixes(&["quiet.", "busy.c"]),
                ..after(None, FeedPosition::START, LIMIT)
            },
            &every_topic,
        ),
        (
            "another source in one topic",
            FollowQuery {
                source: Some("nobody".into()),
                ..after(Some("busy.a"), FeedPosition::START, LIMIT)
            },
            &busy_a,
        ),
    ];

    for (what, query, feed) in cases {
        let (followed, moves, reached) = read_to_the_end(&store, query, feed).await;
        let end = feed.last().expect("rows committed").position;

        assert!(
            followed.is_empty(),
            "{what}: {:?}",
            followed_keys(&followed)
        );
        assert_eq!(reached, end, "{what}: moved on to the last row");
        assert!(
            moves <= feed.len().div_ceil(scan_bound()) + 1,
            "{what}: {moves} reads for {} rows",
            feed.len()
        );
    }
}

pub async fn matching_events_among_many_that_do_not_match_are_each_followed_once_in_order(
    backend: Backend,
) {
    let store = backend.open().await;
    let rows = 3 * scan_bound();
    // Rare matches, far apart, and one run longer than a page; topics such that the source and
    // the prefixes each select a different set.
    let rare = |i: usize| i % 29 == 3 || (120..135).contains(&i);
    commit_rows(&store, rows, |i| {
        if rare(i) {
            row(i, ["rare.a", "mixed"][i % 2], "rare")
        } else {
            row(i, ["rare.b", "mixed", "noise"][i % 3], "svc")
        }
    })
    .await;
    let every_topic = feed(&store, None, rows).await;
    let mixed = in_topic(&every_topic, "mixed");
    let is_rare = |f: &FollowedEvent| f.event.source == "rare";
    let inside = |f: &FollowedEvent| f.event.topic.starts_with("rare.");
    let rare_source = |query: FollowQuery| FollowQuery {
        source: Some("rare".into()),
        ..query
    };
    let rare_topics = |query: FollowQuery| FollowQuery {
        topic_prefixes: prefixes(&["rare."]),
        ..query
    };
    let start = |topic| after(topic, FeedPosition::START, LIMIT);
    // (what is checked, the query, the feed it reads, which events of it match)
    let cases: [(&str, FollowQuery, &[FollowedEvent], Matches); 4] = [
        ("source", rare_source(start(None)), &every_topic, &is_rare),
        ("prefixes", rare_topics(start(None)), &every_topic, &inside),
        (
            "source and prefixes",
            rare_source(rare_topics(start(None))),
            &every_topic,
            &|f| is_rare(f) && inside(f),
        ),
        (
            "source in one topic",
            rare_source(start(Some("mixed"))),
            &mixed,
            &is_rare,
        ),
    ];

    for (what, query, feed, matches) in cases {
        let expected: Vec<FollowedEvent> = feed.iter().filter(|f| matches(f)).cloned().collect();
        assert!(
            expected.len() > LIMIT as usize,
            "{what}: a few pages' worth"
        );
        // 11-byte payloads: a budget of 25 bytes cuts every page at two events.
        for max_bytes in [0, 25] {
            let query = FollowQuery {
                max_bytes,
                ..query.clone()
            };
            let (followed, _, reached) = read_to_the_end(&store, query, feed).await;

            assert_eq!(
                followed_keys(&followed),
                followed_keys(&expected),
                "{what}, {max_bytes} bytes"
            );
            assert_eq!(positions(&followed), positions(&expected), "{what}");
            assert_eq!(Some(reached), feed.last().map(|f| f.position), "{what}");
        }
    }
}

pub async fn a_page_cut_by_its_limit_or_byte_budget_resumes_right_after_its_last_event(
    backend: Backend,
) {
    let store = backend.open().await;
    // Twenty rows of one topic, six of which match: a run of five, then one more.
    let matching = [2, 3, 4, 5, 6, 12];
    commit_rows(&store, 20, |i| {
        let source = if matching.contains(&i) { "rare" } else { "svc" };
        row(i, "t", source)
    })
    .await;
    let every_topic = feed(&store, None, 20).await;

    for topic in [None, Some("t")] {
        let feed = match topic {
            Some(topic) => in_topic(&every_topic, topic),
            None => every_topic.clone(),
        };
        let at = |i: usize| feed[i].position;
        let end = at(19);
        let sized = |limit: u32, max_bytes: usize| FollowQuery {
            source: Some("rare".into()),
            max_bytes,
            ..after(topic, FeedPosition::START, limit)
        };
        // (limit, byte budget, each page's matches and `scanned_to`)
        let cases: [(u32, usize, Vec<Page>); 2] = [
            (
                3,
                0,
                vec![
                    (vec![2, 3, 4], at(4)),
                    (vec![5, 6, 12], at(12)),
                    (vec![], end),
                ],
            ),
            (
                10,
                25,
                vec![(vec![2, 3], at(3)), (vec![4, 5], at(5)), (vec![6, 12], end)],
            ),
        ];

        for (limit, max_bytes, pages) in cases {
            let mut query = sized(limit, max_bytes);
            for (n, (matches, scanned_to)) in pages.into_iter().enumerate() {
                let page = follow_page(&store, &query).await;
                let expected: Vec<FeedPosition> = matches.into_iter().map(at).collect();

                assert_eq!(
                    positions(&page.events),
                    expected,
                    "{topic:?}, limit {limit}, {max_bytes} bytes, page {n}"
                );
                assert_eq!(
                    page.scanned_to, scanned_to,
                    "{topic:?}, limit {limit}, page {n}"
                );
                query.after = page.scanned_to;
            }
        }
    }
}
