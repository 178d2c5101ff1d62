//! Cases about sweeping the default retention (`Store::sweep`): the due rows of every topic no
//! rule covers go, in commit order, a bounded number examined per call, and the position a
//! sweep hands back never passes a row that is still to expire.

use aggregator::retention::RuledTopics;
use aggregator::store::{FeedPosition, SharedStore, SweepReport, SweepRequest};

use super::removal::{age_past_retention, assert_rows_balance, batch, ids, removed, RETENTION};
use crate::backends::Backend;
use crate::fixtures::commit;

/// Sweeps after `after`, leaving `except` alone, examining at most `limit` rows.
async fn sweep(
    store: &SharedStore,
    after: FeedPosition,
    except: &RuledTopics,
    limit: u32,
) -> SweepReport {
    let request = SweepRequest {
        after,
        older_than: RETENTION,
        except,
        limit,
    };
    let report = store.sweep(request).await.expect("sweep");
    assert!(!report.removal.busy, "no other connection sweeps");
    report
}

/// Sweeps from `from` until a sweep says it is finished; the reports, in order.
async fn sweep_to_the_end(
    store: &SharedStore,
    from: FeedPosition,
    except: &RuledTopics,
    limit: u32,
) -> Vec<SweepReport> {
    let mut reports = Vec::new();
    let mut after = from;
    for _ in 0..20 {
        let report = sweep(store, after, except, limit).await;
        assert!(report.next >= after, "a sweep never moves back");
        after = report.next;
        reports.push(report);
        if report.finished {
            return reports;
        }
    }
    panic!("twenty sweeps of {limit} rows did not finish: {reports:?}");
}

pub async fn a_sweep_deletes_the_due_rows_of_every_topic_and_stops_before_the_first_fresh_one(
    backend: Backend,
) {
    let store = backend.open().await;
    let nothing = RuledTopics::default();
    commit(&store, 0, &batch("a", "a", 3)).await;
    commit(&store, 1, &batch("b", "b", 2)).await;
    commit(&store, 0, &batch("a", "c", 2)).await;
    age_past_retention().await;
    commit(&store, 1, &batch("b", "fresh", 2)).await;
    commit(&store, 2, &batch("c", "fresh", 1)).await;

    let reports = sweep_to_the_end(&store, FeedPosition::START, &nothing, 3).await;

    let counts: Vec<u64> = reports.iter().map(|r| r.removal.removed).collect();
    assert_eq!(
        counts.iter().sum::<u64>(),
        7,
        "every aged row went: {counts:?}"
    );
    assert_eq!(counts[0], 3, "the first sweep examined 3 due rows");
    let last = reports.last().unwrap();
    let counted = reports.iter().rev().find_map(|r| r.removal.counters_after);
    assert_eq!(
        counted,
        Some(removed(7, 0)),
        "the counter row after the last deletion"
    );
    assert!(ids(&store, "a").await.is_empty());
    assert_eq!(ids(&store, "b").await, ["fresh0", "fresh1"]);
    assert_eq!(ids(&store, "c").await, ["fresh0"]);
    let totals = store.load_counters().await.unwrap();
    assert_eq!(totals.removals.total, removed(7, 0));
    assert_eq!(totals.removals.own, removed(7, 0));
    assert_rows_balance(&store).await;

    // From where it stopped, nothing more is due now; once the fresh rows age, the same
    // position finds them: the sweep never stepped over them.
    let stopped_at = last.next;
    let again = sweep(&store, stopped_at, &nothing, 100).await;
    assert_eq!(again.removal.removed, 0);
    assert!(again.finished);
    age_past_retention().await;
    let later = sweep_to_the_end(&store, again.next, &nothing, 100).await;
    let later_removed: u64 = later.iter().map(|r| r.removal.removed).sum();
    assert_eq!(later_removed, 3);
    assert!(ids(&store, "b").await.is_empty() && ids(&store, "c").await.is_empty());
    assert_rows_balance(&store).await;
}

pub async fn a_sweep_leaves_the_topics_a_rule_covers_and_moves_past_them(backend: Backend) {
    let store = backend.open().await;
    let except = RuledTopics {
        exact: vec!["audit".into()],
        prefixes: vec!["debug.".into()],
    };
    commit(&store, 0, &batch("audit", "k", 2)).await;
    commit(&store, 1, &batch("debug.web", "d", 2)).await;
    commit(&store, 2, &batch("orders", "o", 2)).await;
    commit(&store, 0, &batch("audit.x", "x", 1)).await;
    age_past_retention().await;

    // Four rows of ruled topics come first: a sweep of 3 deletes nothing, yet moves on.
    let first = sweep(&store, FeedPosition::START, &except, 3).await;
    let rest = sweep_to_the_end(&store, first.next, &except, 3).await;

    assert_eq!(first.removal.removed, 0);
    assert!(!first.finished, "three rows examined out of seven");
    assert!(first.next > FeedPosition::START);
    let removed_later: u64 = rest.iter().map(|r| r.removal.removed).sum();
    assert_eq!(
        removed_later, 3,
        "orders' two rows and audit.x's (no rule covers it)"
    );
    assert_eq!(ids(&store, "audit").await, ["k0", "k1"]);
    assert_eq!(ids(&store, "debug.web").await, ["d0", "d1"]);
    assert!(ids(&store, "orders").await.is_empty());
    assert!(ids(&store, "audit.x").await.is_empty());
    let end = rest.last().unwrap().next;
    let past_everything = sweep(&store, end, &except, 3).await;
    assert_eq!(past_everything.removal, Default::default());
    assert!(past_everything.finished);
    assert_rows_balance(&store).await;
}
