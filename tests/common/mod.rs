//! Support shared by every integration-test binary: fresh PostgreSQL databases ([`db`]), either
//! store for a real binary ([`backend`]), a cuttable TCP proxy in front of PostgreSQL
//! ([`proxy`]), polling ([`wait`]), the app in the test process ([`app`]), the real binary as a
//! child process ([`process`]), the checks on a client stream's report ([`checks`]), the
//! "each sent text stored exactly once" checks of the real-client binaries ([`stored`]) and
//! the venv interpreters of their Python clients ([`python`]).
//!
//! Each binary includes this module with `#[path = "../common/mod.rs"] mod common;` (or
//! `#[path = "common/mod.rs"]` from a top-level test file). Binary-specific helpers stay in
//! their binary.

// Not every binary uses every helper, so what one binary leaves unused is not dead code.
#![allow(dead_code)]

pub mod app;
pub mod backend;
pub mod checks;
pub mod db;
pub mod process;
pub mod proxy;
pub mod python;
pub mod stored;
pub mod wait;
