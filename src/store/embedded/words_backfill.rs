//! Rows stored before the `words` column existed get their searchable text
//! (`query::words`), and rows stored before the full-text index existed get their entry in it
//! (words and field tokens, `query::fields`), computed here as the commit computes them, when
//! the store opens and before it serves: one process owns the file, so nothing else can read a
//! row without them. The first are found through a partial index that holds only such rows,
//! the second walked in seq order from where the last open stopped
//! (`search_index_backfill`), so an up-to-date file costs an empty index probe and one row.

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use tracing::info;

use crate::query::fields::payload_field_tokens;
use crate::query::words::payload_words;

use super::writer::INDEX_SQL;
use crate::store::error::StoreError;

/// Rows filled per transaction.
const BATCH_ROWS: i64 = 1_000;

/// Fills the searchable text of every row without one.
pub(super) fn fill_missing(conn: &mut Connection) -> Result<(), StoreError> {
    let filled = in_batches(conn, |tx| {
        let batch: Vec<(i64, String)> = {
            let mut missing = tx.prepare_cached(
                "SELECT seq, payload FROM events WHERE words IS NULL ORDER BY seq LIMIT ?1",
            )?;
            let rows = missing.query_map([BATCH_ROWS], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        if batch.is_empty() {
            return Ok(None);
        }
        let mut fill = tx.prepare_cached("UPDATE events SET words = ?2 WHERE seq = ?1")?;
        for (seq, payload) in &batch {
            fill.execute(params![seq, payload_words(payload)])?;
        }
        Ok(Some(batch.len()))
    })?;
    if filled > 0 {
        info!(
            rows = filled,
            "filled the searchable text of rows stored before it existed"
        );
    }
    Ok(())
}

/// Adds the full-text index entry of every row stored before the index existed, recording how
/// far it got so that an interrupted open resumes there.
pub(super) fn index_missing(conn: &mut Connection) -> Result<(), StoreError> {
    let indexed = in_batches(conn, |tx| {
        let Some((next, end)): Option<(i64, i64)> = tx
            .query_row(
                "SELECT next_seq, end_seq FROM search_index_backfill",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?
        else {
            return Ok(None);
        };
        if next >= end {
            tx.execute("DELETE FROM search_index_backfill", [])?;
            return Ok(None);
        }
        let batch: Vec<(i64, String, String)> = {
            let mut rows = tx.prepare_cached(
                "SELECT seq, payload, coalesce(words, '') FROM events \
                 WHERE seq >= ?1 AND seq < ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = rows.query_map(params![next, end, BATCH_ROWS], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let next = match batch.last() {
            Some((seq, _, _)) => seq + 1,
            None => end,
        };
        let mut index = tx.prepare_cached(INDEX_SQL)?;
        for (seq, payload, words) in &batch {
            index.execute(params![seq, words, payload_field_tokens(payload)])?;
        }
        tx.execute("UPDATE search_index_backfill SET next_seq = ?1", [next])?;
        Ok(Some(batch.len()))
    })?;
    if indexed > 0 {
        info!(
            rows = indexed,
            "indexed rows stored before the full-text index existed"
        );
    }
    Ok(())
}

/// Runs `batch` in one immediate transaction after another, each committed, until it answers
/// `None` (that transaction is committed too); returns the rows the batches reported.
fn in_batches(
    conn: &mut Connection,
    mut batch: impl FnMut(&Transaction<'_>) -> Result<Option<usize>, StoreError>,
) -> Result<u64, StoreError> {
    let mut done = 0u64;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows = batch(&tx)?;
        tx.commit()?;
        match rows {
            Some(rows) => done += rows as u64,
            None => return Ok(done),
        }
    }
}
