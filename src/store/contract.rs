//! The [`Store`]: every operation the rest of the program asks of durable storage, and the
//! contract each backend keeps (checked by `tests/store_conformance` on both backends), split
//! by concern into one trait per file:
//!
//! - [`Backend`] (`contract/backend.rs`): the backend's name, its time limit, readiness;
//! - [`Ingest`] (`contract/ingest.rs`): group commits and the counters they keep;
//! - [`Reads`] (`contract/reads.rs`): the `GET /events` listing and the live tail's feed;
//! - [`Pruning`] (`contract/pruning.rs`): deleting expired and purged rows, counted;
//! - [`Cluster`] (`contract/cluster.rs`): what every instance sharing the store committed,
//!   and how a purge hears that the others forgot its keys.
//!
//! A backend implements each part; `Store` is all of them at once, for the callers that hold
//! one [`SharedStore`] (the actors and the HTTP layer).

use std::sync::Arc;

mod backend;
mod cluster;
mod ingest;
mod pruning;
mod reads;

pub use backend::Backend;
pub use cluster::Cluster;
pub use ingest::Ingest;
pub use pruning::Pruning;
pub use reads::Reads;

/// Every concern of the storage contract in one trait, implemented by whatever implements
/// them all. Implementations are cheap to share (`Arc`).
pub trait Store: Ingest + Reads + Pruning + Cluster {}

impl<T: Ingest + Reads + Pruning + Cluster> Store for T {}

/// A store shared by the actors and the HTTP layer.
pub type SharedStore = Arc<dyn Store>;
