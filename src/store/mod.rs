//! Durable storage: the single source of truth for "new or duplicate".
//!
//! The contract is one trait per concern, all of them together [`Store`]: shard actors call
//! [`Ingest::commit`] once per group commit and [`Ingest::own_counters`] to resync, and the
//! stats actor [`Ingest::load_counters`] when it starts; the HTTP layer calls
//! [`Reads::query`] for `GET /events`, [`Reads::follow`] for the live tail and
//! [`Backend::ping`] for readiness; the pruner calls [`Pruning`]; the cluster actor and a
//! purge's wait call [`Cluster`]. Two backends implement them with the same semantics:
//! [`postgres::PostgresStore`] for production and [`embedded::EmbeddedStore`] (one SQLite
//! file) for a single machine with nothing to install. [`open`] picks one from
//! [`StoreOptions`]. Errors are classified by meaning ([`StoreError`]) inside each backend.
//!
//! Files: [`contract`] (`Store` and its parts, one trait per concern, with the sweep's request
//! and report and [`contract::bounded`], the timeout every backend applies), [`model`] (the
//! data it speaks), [`removal`] (what retention and purges delete and count),
//! [`feed`] (the live tail's order and wake-up signal), [`error`], [`options`] (settings and
//! `open`), `span` (the range of topics a prefix-restricted listing seeks to), `search` (what
//! both backends' lowering of a search query shares), the two backends, and, for unit tests
//! of the actors, an in-memory store.

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
mod volume;

pub use contract::{
    Backend, Cluster, Ingest, Pruning, Reads, SharedStore, Store, SweepReport, SweepRequest,
};
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
