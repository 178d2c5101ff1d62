//! Rows stored before the `words` column existed get their searchable text
//! (`query::words`), computed here as the commit computes it, when the store opens and before
//! it serves: one process owns the file, so nothing else can read a row without it. Found
//! through a partial index that holds only such rows, so an up-to-date file costs one empty
//! index probe.

use rusqlite::{params, Connection, TransactionBehavior};
use tracing::info;

use crate::query::words::payload_words;
use crate::store::error::StoreError;

/// Rows filled per transaction.
const BATCH_ROWS: i64 = 1_000;

/// Fills the searchable text of every row without one.
pub(super) fn fill_missing(conn: &mut Connection) -> Result<(), StoreError> {
    let mut filled = 0u64;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let batch: Vec<(i64, String)> = {
            let mut missing = tx.prepare_cached(
                "SELECT seq, payload FROM events WHERE words IS NULL ORDER BY seq LIMIT ?1",
            )?;
            let rows = missing.query_map([BATCH_ROWS], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        if batch.is_empty() {
            tx.commit()?;
            break;
        }
        {
            let mut fill = tx.prepare_cached("UPDATE events SET words = ?2 WHERE seq = ?1")?;
            for (seq, payload) in &batch {
                fill.execute(params![seq, payload_words(payload)])?;
            }
        }
        tx.commit()?;
        filled += batch.len() as u64;
    }
    if filled > 0 {
        info!(
            rows = filled,
            "filled the searchable text of rows stored before it existed"
        );
    }
    Ok(())
}
