//! API keys: who may publish, read and administer, on which topics, and how fast.
//!
//! Keys live in a keys file ([`file`], with [`KeysError`]) as SHA-256 digests with their
//! scopes, topic prefixes and quota; the server holds them in a [`Keyring`] that a reload swaps
//! whole ([`AccessControl`]). The HTTP layer turns the `Authorization` header into a [`Caller`]
//! once per request and asks it before acting: [`Caller::require`] for a route's scope,
//! [`Caller::may_reach`] for a topic, [`Caller::take_events`] for the quota. This module knows
//! nothing of HTTP; status codes are decided in `http/error.rs`.

mod access;
pub mod file;
mod keyring;
mod quota;
mod scope;
mod secret;

pub use access::{
    describe_prefixes, AccessControl, AccessOptions, Caller, Denied, Unauthenticated,
};
pub use file::{KeyEntry, KeysError, Quota};
pub use keyring::{Grant, Keyring};
pub use quota::{EventQuota, QuotaExceeded};
pub use scope::{Scope, Scopes};
pub use secret::{generate_key, KeyDigest};
