//! Durable storage: the single source of truth for "new or duplicate".
//!
//! Shard actors call [`Store::commit`] once per group commit and [`Store::own_counters`] to
//! resync; the HTTP layer calls [`Store::query`] for `GET /events` and [`Store::ping`] for
//! readiness and [`Store::follow`] for the live tail; the stats actor calls [`Store::load_counters`] when it starts. Two backends
//! implement the trait with the same semantics: [`postgres::PostgresStore`] for production and
//! [`embedded::EmbeddedStore`] (one SQLite file) for a single machine with nothing to install.
//! [`open`] picks one from [`StoreOptions`]. Errors are classified by meaning
//! ([`StoreError`]) inside each backend.
//!
//! Files: [`contract`] (the trait), [`model`] (the data it speaks), [`removal`] (what
//! retention and purges delete and count), [`feed`] (the live tail's
//! order and wake-up signal), [`error`], [`options`]
//! (settings and `open`), [`bounded`] (the timeout every backend applies), `span` (the range
//! of topics a prefix-restricted listing seeks to), `search` (what both backends' lowering of
//! a search query shares), the two backends, and, for unit tests of
//! the actors, an in-memory store.

pub mod bounded;
pub mod contract;
pub mod embedded;
pub mod error;
pub mod feed;
#[cfg(test)]
pub mod memory;
pub mod model;
pub mod options;
pub mod postgres;
pub mod queries;
pub mod removal;
mod search;
mod searchable;
mod span;
pub mod sweep;

pub use contract::{SharedStore, Store};
pub use error::{Cause, StoreError};
pub use feed::{
    CommitSignal, FeedPosition, FollowPage, FollowQuery, FollowedEvent, FOLLOW_SCAN_FACTOR,
};
pub use model::{
    ClusterView, CommitBatch, CommitReport, EventPage, EventQuery, InstanceInfo, ListingOrder,
    PagePosition, ShardCounters, ShardId, StoredEvent, StoredShard, StoredTotals, TimePosition,
};
pub use options::{open, OpenedStore, StoreOptions};
pub use queries::{
    CountRequest, Counts, Queries, SearchScope, SearchStatement, SharedQueries, ValueCount,
    ValueSeries, ValuesRequest,
};
pub use removal::{Removal, RemovalCounters, RemovalTotals, RemoveReport, RemoveRequest};
pub use sweep::{SweepReport, SweepRequest};
