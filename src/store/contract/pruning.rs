//! [`Pruning`]: what the pruner asks of the store: bounded deletions of expired and purged
//! rows, each counted as it happens, and the walk over topics that finds them. The vocabulary
//! of a deletion (requests, reports, counters) is in `store/removal.rs` and `store/sweep.rs`.

use async_trait::async_trait;

use super::backend::Backend;
use crate::store::error::StoreError;
use crate::store::removal::{RemoveReport, RemoveRequest};
use crate::store::sweep::{SweepReport, SweepRequest};

/// Deleting rows.
///
/// - `remove` deletes rows and counts them (`expired` or `purged`) atomically, so after any
///   crash the rows stored equal `unique_processed - expired - purged`.
#[async_trait]
pub trait Pruning: Backend {
    /// Deletes some of the oldest rows of one topic (see [`RemoveRequest`]) and counts them in
    /// this instance's removal counter row, atomically.
    async fn remove(&self, request: RemoveRequest<'_>) -> Result<RemoveReport, StoreError>;

    /// Deletes the expired rows among the next ones in commit order (see [`SweepRequest`]) and
    /// counts them in this instance's removal counter row, atomically.
    async fn sweep(&self, request: SweepRequest<'_>) -> Result<SweepReport, StoreError>;

    /// Up to `limit` topics that may hold events, sorted, after `after` (from the first when
    /// `None`): what the pruner walks. May include topics whose events are all gone.
    async fn topics_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
}
