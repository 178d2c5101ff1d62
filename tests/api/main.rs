#[path = "../common/mod.rs"]
mod common;
mod helpers;
mod proxy;

mod body_shapes;
mod bounded;
mod connections;
mod counters;
mod dedup;
mod events;
mod fastpath;
mod health;
mod metrics;
mod openapi;
mod publish;
mod request_id;
mod restart;
mod stats;
mod stream;
mod stream_limits;
mod stream_support;
mod validation_fields;
mod validation_keys;
mod validation_poison;
mod validation_request;
