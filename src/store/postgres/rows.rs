//! Decoding of the PostgreSQL store's counter rows, shared by the commit and the cluster view.

use crate::store::error::StoreError;
use crate::store::model::ShardCounters;

/// Reads three bigint columns starting at `first` as counters.
pub(super) fn counters_at(
    row: &tokio_postgres::Row,
    first: usize,
) -> Result<ShardCounters, StoreError> {
    let counter = |index: usize| -> Result<u64, StoreError> {
        let value: i64 = row.try_get(index)?;
        u64::try_from(value).map_err(|_| StoreError::corrupt(format!("negative counter {value}")))
    };
    Ok(ShardCounters {
        received: counter(first)?,
        unique_processed: counter(first + 1)?,
        duplicate_dropped: counter(first + 2)?,
    })
}
