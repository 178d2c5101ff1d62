//! Rows committed before the `words` column existed get their searchable text
//! (`query::words`), computed here as the commit computes it. A background task started by
//! [`super::PostgresStore::connect`] works through them in bounded batches, found through a
//! partial index that holds only such rows, so it costs nothing once they are done and several
//! instances starting together only repeat each other's idempotent updates.

use std::time::Duration;

use deadpool_postgres::Pool;
use tracing::{info, warn};

use crate::store::error::StoreError;
use crate::store::searchable::searchable_texts;

/// Rows read and updated per statement.
const BATCH_ROWS: i64 = 500;
/// Failed batches in a row after which the task gives up until the next start.
const MAX_FAILURES: u32 = 10;

const MISSING_SQL: &str = "\
SELECT topic, seq, payload::text FROM events WHERE words IS NULL ORDER BY topic, seq LIMIT $1";

const FILL_SQL: &str = "\
UPDATE events SET words = u.words
FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(topic, seq, words)
WHERE events.topic = u.topic AND events.seq = u.seq AND events.words IS NULL";

/// Fills the searchable text of every row without one; logs what it did.
pub(super) async fn fill_missing(pool: Pool) {
    let mut filled = 0u64;
    let mut failures = 0u32;
    loop {
        match fill_batch(&pool).await {
            Ok(0) => break,
            Ok(rows) => {
                filled += rows;
                failures = 0;
            }
            Err(err) => {
                failures += 1;
                if failures >= MAX_FAILURES {
                    warn!(error = %err, filled, "giving up filling the searchable text of older rows until the next start");
                    return;
                }
                tokio::time::sleep(Duration::from_secs(u64::from(failures))).await;
            }
        }
    }
    if filled > 0 {
        info!(
            rows = filled,
            "filled the searchable text of rows committed before it existed"
        );
    }
}

/// One batch; the number of rows it read.
async fn fill_batch(pool: &Pool) -> Result<u64, StoreError> {
    let client = pool.get().await?;
    let rows = client.query(MISSING_SQL, &[&BATCH_ROWS]).await?;
    let mut topics = Vec::with_capacity(rows.len());
    let mut seqs = Vec::with_capacity(rows.len());
    let mut payloads = Vec::with_capacity(rows.len());
    for row in &rows {
        topics.push(row.try_get::<_, String>(0)?);
        seqs.push(row.try_get::<_, i64>(1)?);
        payloads.push(row.try_get::<_, &str>(2)?);
    }
    let words = searchable_texts(&payloads).await?;
    if !rows.is_empty() {
        client.execute(FILL_SQL, &[&topics, &seqs, &words]).await?;
    }
    Ok(rows.len() as u64)
}
