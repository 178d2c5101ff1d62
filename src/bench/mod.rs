//! `aggregator bench ...`: measurements that are not tests.
//!
//! [`ceiling`] writes a generated workload straight to a store, bypassing HTTP and the actors,
//! so that the aggregator's end-to-end rate can be compared with what its own storage layer can
//! do on the same machine in the same run (`benches/run.py` prints the ratio).

pub mod ceiling;
