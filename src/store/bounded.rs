//! [`bounded`]: the store timeout every backend applies to every operation.

use std::future::Future;
use std::time::Duration;

use super::error::StoreError;

/// Runs a store operation under `timeout`, so a hung database or a stuck disk costs a bounded
/// wait. On timeout the operation's effect is unknown (a commit may still land); the error is
/// transient, so callers treat it as retryable.
pub async fn bounded<T>(
    timeout: Duration,
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, operation)
        .await
        .unwrap_or_else(|_| Err(StoreError::timed_out(timeout)))
}
