//! [`Backend`]: what every part of the storage contract builds on: the backend's name, the
//! time limit every operation keeps, and whether the store can serve right now. The other
//! parts ([`super::Ingest`], [`super::Reads`], [`super::Pruning`], [`super::Cluster`]) extend
//! it, so the time limit below binds each of their operations.

use std::time::Duration;

use async_trait::async_trait;

use crate::store::error::StoreError;

/// A storage backend as a whole.
///
/// - no operation outlives [`Backend::operation_timeout`], on the client side or the server
///   side.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Short backend name for logs and `/stats`, e.g. `"postgres"`.
    fn backend(&self) -> &'static str;

    /// The longest any operation may run, including a statement the server keeps running after
    /// its client gave up. Past twice this, a commit whose outcome was unknown has ended either
    /// way, so its shard can re-read its counter row ([`super::Ingest::own_counters`]) and
    /// trust it.
    fn operation_timeout(&self) -> Duration;

    /// Succeeds when the store can serve reads and writes right now.
    async fn ping(&self) -> Result<(), StoreError>;
}
