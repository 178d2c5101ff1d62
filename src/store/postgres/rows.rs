//! Decoding of the PostgreSQL store's counter rows, shared by the commit and the cluster view.

use crate::store::error::StoreError;
use crate::store::model::ShardCounters;

/// Reads three bigint columns starting at `first` as counters.
pub(super) fn counters_at(
    row: &tokio_postgres::Row,
    first: usize,
) -> Result<ShardCounters, StoreError> {
    let counter = |index: usize| StoreError::counter(row.try_get(index)?);
    Ok(ShardCounters {
        received: counter(first)?,
        unique_processed: counter(first + 1)?,
        duplicate_dropped: counter(first + 2)?,
    })
}
