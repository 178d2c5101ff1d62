//! The client side of the aggregator, and the bottom layer of the crate: it talks HTTP to a
//! running aggregator and imports nothing else from the crate, so that `publish`, `demo`,
//! `bench` and the tests all drive the server the way any other client would.
//!
//! - [`http`]: the [`Client`], one attempt at a time or `GET`s retried under a [`RetryPolicy`]
//!   ([`retry`]), showing the API key and trusting the CA certificate of its [`access`];
//! - [`stats`]: the one decoder of `GET /stats` ([`ServerStats`]);
//! - [`workload`]: the reproducible generator of events and duplicates;
//! - [`stream`]: a workload sent in the background by concurrent workers ([`worker`], the one
//!   send loop), with live [`counters`], pause/resume, and the acknowledged keys;
//! - [`tail`]: a live tail of `GET /events/stream` that resumes after the last event it got
//!   across dropped connections and instances (`aggregator tail`);
//! - [`run`]: `aggregator publish`, a stream with a [`progress`] display and the server's
//!   counters [`verify`]d around it, ending in a [`report`]; the `demo` runs it too.
//!
//! Event ids are `<prefix><seed as 16 hex digits>-<key index>`. Without a seed, one is drawn
//! from the clock and the OS's randomness, so every run sends fresh keys; the report prints it.
//! With `--seed`, the keys (and topics, payloads, request shapes) are the same on every run:
//! a second run with the same seed against the same server re-sends only keys the server
//! already holds, so all of them count as duplicates. Pass `--replay` to verify such a run
//! (it then expects `unique_processed` not to move). Timestamps always follow the clock.
//!
//! Verification assumes this publisher is the only one writing to the server during the run;
//! use `--no-verify` on a shared server.

pub mod access;
pub mod config;
pub mod counters;
pub mod error;
pub mod http;
pub mod ledger;
pub mod pacer;
pub mod progress;
pub mod report;
pub mod retry;
mod run;
pub mod search;
pub mod stats;
pub mod stream;
pub mod tail;
pub mod verify;
pub mod worker;
pub mod workload;

pub use access::{ApiKey, ClientAccess};
pub use config::PublishConfig;
pub use counters::StreamCounts;
pub use error::{AttemptError, ClientError};
pub use http::Client;
pub use report::Report;
pub use retry::RetryPolicy;
pub use run::run;
pub use stats::{ServerCounters, ServerStats};
pub use stream::{Key, Stream, StreamConfig, StreamReport};
pub use tail::{Tail, TailConfig, TailStart, Tailed, TailedEvent};
pub use verify::VerificationError;
