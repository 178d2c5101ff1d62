//! The indexes searches use on PostgreSQL, and how a store gets them without stopping ingest.
//!
//! A search's condition (`search.rs`) is written so that these indexes serve it:
//! - [`WORDS_ARRAY`] under GIN (`events_words_gin`): the words of the searchable text as an
//!   array, so a word or phrase query first finds the rows holding all its words
//!   (`@> ARRAY[...]`), then checks the phrase in the text itself;
//! - the payload as `jsonb` under GIN with `jsonb_path_ops` (`events_payload_gin`): a field
//!   equality (`level:error`, `http.status:500`) is a containment (`@>`) it answers;
//! - `(source, ts, seq)` (`events_source_ts`): the newest or oldest events of one source, as
//!   `source:checkout level:error` pages them, without sorting every error of every source.
//!
//! Time ranges and time order use `events_ts_seq (ts, seq)`, made by the migrations with the
//! table's other btrees. These three are built with `CREATE INDEX CONCURRENTLY` by a background
//! task instead, because on a table that already holds millions of rows a build inside a
//! migration's transaction would hold every commit for minutes: here ingest goes on while they
//! build, and searches run (slower) until they exist. One instance builds at a time (a session
//! advisory lock); an index a crash left half-built (`indisvalid = false`) is dropped and built
//! again at the next start.

use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool};
use tracing::{info, warn};

use crate::store::error::StoreError;

/// The words of a row's searchable text (`" w1 w2 \n w3 \n"`) as an array: lines joined, split
/// at spaces, the empty strings the separators leave removed. The GIN index is on exactly this
/// expression, so a condition must spell it the same way for the planner to use the index.
pub(super) const WORDS_ARRAY: &str =
    "array_remove(string_to_array(replace(words, E'\\n', ''), ' '), '')";

/// The expression the payload's GIN index holds, and that field equalities compare.
pub(super) const PAYLOAD_JSONB: &str = "(payload::jsonb)";

/// Name and definition (after `ON events`) of each search index.
fn search_indexes() -> [(&'static str, String); 3] {
    [
        ("events_words_gin", format!("USING gin (({WORDS_ARRAY}))")),
        (
            "events_payload_gin",
            format!("USING gin ({PAYLOAD_JSONB} jsonb_path_ops)"),
        ),
        ("events_source_ts", "(source, ts, seq)".to_owned()),
    ]
}

/// Session advisory lock key of the builder (distinct from the migration lock's).
const BUILD_LOCK_KEY: i64 = 0x6167_6769_6e64_6578;
/// Failed attempts after which the task gives up until the next start.
const MAX_FAILURES: u32 = 5;

/// Builds every missing or invalid search index; logs what it did. Retries a failed attempt (a
/// failover, a restart of the server) a few times, then leaves it to the next start.
pub(super) async fn build_missing(pool: Pool) {
    let mut failures = 0u32;
    loop {
        match build_once(&pool).await {
            Ok(()) => return,
            Err(err) => {
                failures += 1;
                if failures >= MAX_FAILURES {
                    warn!(error = %err, "giving up building the search indexes until the next start; searches still work, more slowly");
                    return;
                }
                tokio::time::sleep(Duration::from_secs(5 * u64::from(failures))).await;
            }
        }
    }
}

async fn build_once(pool: &Pool) -> Result<(), StoreError> {
    // A connection of its own, never given back to the pool: a build has no statement timeout,
    // and the advisory lock lives as long as the session.
    let client = Object::take(pool.get().await?);
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&BUILD_LOCK_KEY])
        .await?
        .try_get(0)?;
    if !locked {
        // Another instance is building them; a crash of it leaves the rest to a later start.
        return Ok(());
    }
    client.batch_execute("SET statement_timeout = 0").await?;
    for (name, definition) in search_indexes() {
        let valid: Option<bool> = client
            .query_opt(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
                &[&name],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
        if valid == Some(true) {
            continue;
        }
        let started = Instant::now();
        if valid == Some(false) {
            client
                .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
                .await?;
        }
        client
            .batch_execute(&format!(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON events {definition}"
            ))
            .await?;
        info!(
            index = name,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "built search index"
        );
    }
    Ok(())
}
