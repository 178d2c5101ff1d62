//! An actor-based pub-sub log aggregator.
//!
//! Services publish log events over HTTP; every distinct `(topic, event_id)` is stored exactly
//! once however often it is re-sent, nothing acknowledged is lost in a crash, and events can be
//! queried, counted and followed.
//!
//! # Layout
//! - [`cli`]: the command line, the only clap code; turns flags into each layer's config.
//! - [`demo`]: `aggregator demo`, the app and the publisher in one process.
//! - [`bench`]: measurements that are not tests (the storage ceiling).
//! - [`app`]: builds and runs the whole thing (used by `main` and by the tests).
//! - [`http`]: the axum API; the only place errors become status codes.
//! - [`actors`]: the supervision tree that turns requests into group commits.
//! - [`store`]: the `Store` trait and its PostgreSQL and embedded (SQLite) backends.
//! - [`event`]: the domain types, parsed and validated.
//! - [`metrics`]: the Prometheus metric names and the per-app registry behind `GET /metrics`.
//! - [`telemetry`]: logging setup (text or JSON).
//! - [`client`]: the HTTP client side, the bottom layer: a retrying client, the workload
//!   generator, background streams, the `/stats` decoder and the `publish` run with its report.
//!
//! # Supervision tree and data flow
//! ```text
//! HTTP handler ──ingest──▶ SupervisorActor ──routes by hash(topic)──▶ ShardActor k
//!                              │  restarts dead shards                 │ group commit:
//!                              │                                       │ rows + counters,
//!                              ├── StatsActor ◀──── delta per commit ──┤ one transaction
//!                              └── ShardActor 0..N-1                   ▼
//!                                                              reply per event
//! ```

pub mod actors;
pub mod app;
pub mod bench;
pub mod cli;
pub mod client;
pub mod demo;
pub mod event;
pub mod http;
pub mod metrics;
pub mod store;
pub mod telemetry;
