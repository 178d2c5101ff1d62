//! The conformance cases, each an async fn taking a [`crate::backends::Backend`].

mod commits;
mod listing;

pub use commits::*;
pub use listing::*;
