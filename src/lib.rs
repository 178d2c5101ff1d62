//! An actor-based pub-sub log aggregator.
//!
//! Services publish log events over HTTP; every distinct `(topic, event_id)` is stored exactly
//! once however often it is re-sent, nothing acknowledged is lost in a crash, and events can be
//! queried and counted.
//!
//! # Layout, top to bottom (each module imports only modules below it)
//! - [`cli`]: the edge: the command line, the only clap code; turns flags into each layer's
//!   plain config and runs the chosen subcommand.
//! - [`demo`]: `aggregator demo`, the app and the publisher in one process.
//! - [`bench`]: measurements that are not tests (the storage ceiling).
//! - [`app`]: [`app::AppConfig`] and [`app::App`], which builds and runs the server (used by
//!   `main` and by the tests).
//! - [`http`]: the axum API; the only place errors become status codes.
//! - [`auth`]: API keys: the keys file, digests compared in constant time, the reloadable
//!   keyring, a caller's scopes and topic prefixes, per-key quotas; no HTTP.
//! - [`actors`]: the supervision tree that turns requests into group commits.
//! - [`metrics`]: the per-app Prometheus registry and the store wrapper that feeds it.
//! - [`store`]: the `Store` trait, its errors by meaning, and the PostgreSQL and embedded
//!   (SQLite) backends.
//! - [`client`]: the HTTP client side: a retrying client, the workload generator, background
//!   streams, the `/stats` decoder and the `publish` run with its report.
//! - [`retention`]: the retention policy (how long each topic's events are kept), parsed.
//! - [`query`]: the search language: parsed, printed, evaluated in memory; no I/O.
//! - [`event`]: the domain types, parsed and validated.
//! - [`telemetry`]: logging setup (text or JSON).
//!
//! `python3 scripts/import_graph.py` prints the import graph and fails when this list, the
//! layer table of DESIGN.md or the modules of `src/` disagree, on an upward import, on a cycle
//! between files, and on a child that imports its parent beyond what the parent defines
//! (DESIGN.md, "Code layout and layering"; CI runs it).
//!
//! # Supervision tree and data flow
//! ```text
//! HTTP handler ──ingest──▶ SupervisorActor ──routes by hash(topic)──▶ ShardActor k
//!                              │  restarts dead shards                 │ group commit:
//!                              │                                       │ rows + counters,
//!                              ├── StatsActor ◀──── delta per commit ──┤ one transaction
//!                              ├── ShardActor 0..N-1                   ▼
//!                              └── PrunerActor (retention, purges)
//!                                                              reply per event
//! ```

pub mod actors;
pub mod app;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod client;
pub mod demo;
pub mod event;
pub mod http;
pub mod metrics;
pub mod query;
pub mod retention;
pub mod store;
pub mod telemetry;
