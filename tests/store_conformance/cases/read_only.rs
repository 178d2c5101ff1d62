//! PostgreSQL only: a node that takes no writes (a standby, or a primary demoted by a
//! failover). Its error is transient (`25006`, retry later), the store is not ready, and the
//! connection that met it leaves the pool, so that once a writable node is back (here: the
//! database made writable again) the next commit succeeds instead of failing on a pooled
//! read-only session forever.

use aggregator::event::Event;
use aggregator::store::{CommitBatch, SharedStore, StoreError};

use crate::backends::Backend;
use crate::common::db::connect;
use crate::fixtures::event;

async fn try_commit(store: &SharedStore, event: &Event) -> Result<(), StoreError> {
    let candidates = [event];
    store
        .commit(CommitBatch {
            shard: 0,
            candidates: &candidates,
            received: 1,
        })
        .await
        .map(drop)
}

pub async fn a_read_only_node_is_transient_and_its_connection_leaves_the_pool(backend: Backend) {
    let Backend::Postgres { url } = &backend else {
        panic!("a PostgreSQL case");
    };
    let database = url.rsplit('/').next().unwrap().to_owned();
    let admin = connect(url).await;
    let store = backend.open().await;
    try_commit(&store, &event("t", "before")).await.unwrap();

    // The node becomes read-only: commits are refused as transient, and once it is writable
    // again at most one more fails (the read-only session in hand), then all succeed.
    set_read_only(&admin, &database, true).await;
    let refused = commit_until_read_only_error(&store).await;
    assert!(matches!(refused, StoreError::Transient(_)), "{refused:?}");
    set_read_only(&admin, &database, false).await;
    let mut failures = 0;
    while try_commit(&store, &event("t", &format!("after-{failures}")))
        .await
        .is_err()
    {
        failures += 1;
        assert!(failures <= 1, "the pool kept a read-only connection");
    }
    for n in 0..5 {
        try_commit(&store, &event("t", &format!("later-{n}")))
            .await
            .expect("every commit on the writable node succeeds");
    }

    // Readiness: not ready on a read-only node, ready again once writable (its read-only
    // session left the pool).
    set_read_only(&admin, &database, true).await;
    let ping = store.ping().await;
    assert!(matches!(ping, Err(StoreError::Transient(_))), "{ping:?}");
    set_read_only(&admin, &database, false).await;
    let mut failures = 0;
    while store.ping().await.is_err() {
        failures += 1;
        assert!(failures <= 2, "not ready on a writable node");
    }
    let counters = store.own_counters(0).await.unwrap();
    assert_eq!(counters.received, 7, "{counters:?}");
    assert_eq!(counters.unique_processed, 7, "{counters:?}");
}

/// Makes the database read-only (or writable) for new sessions, then cuts the store's sessions
/// so that its next ones see it (as a failover cuts them).
async fn set_read_only(admin: &tokio_postgres::Client, database: &str, read_only: bool) {
    let change = if read_only {
        format!("ALTER DATABASE \"{database}\" SET default_transaction_read_only = on")
    } else {
        format!("ALTER DATABASE \"{database}\" RESET default_transaction_read_only")
    };
    admin.batch_execute(&change).await.unwrap();
    if read_only {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&database],
            )
            .await
            .unwrap();
    }
}

/// Commits until one is refused with `25006` (the cut sessions fail first, without it).
async fn commit_until_read_only_error(store: &SharedStore) -> StoreError {
    for attempt in 0..5 {
        match try_commit(store, &event("t", &format!("refused-{attempt}"))).await {
            Err(err) if err.cause().code.as_deref() == Some("25006") => return err,
            Err(StoreError::Transient(_)) => {}
            other => panic!("a commit on a read-only node: {other:?}"),
        }
    }
    panic!("no commit was refused with 25006");
}
