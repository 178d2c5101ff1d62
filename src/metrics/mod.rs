//! Prometheus metrics: the per-app registry behind `GET /metrics` ([`registry`]) and the store
//! wrapper that records what the store does ([`instrumented`]).
//!
//! It sits between the actors and the store: the HTTP layer and the actors record into a
//! [`Metrics`] handle; [`InstrumentedStore`] wraps any [`crate::store::Store`].

pub mod instrumented;
pub mod registry;
mod store_op;
#[cfg(test)]
mod tests;

pub use instrumented::InstrumentedStore;
pub use registry::{Metrics, StoreOp};
