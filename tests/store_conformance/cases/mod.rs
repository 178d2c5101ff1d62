//! The conformance cases, each an async fn taking a [`crate::backends::Backend`].

mod commits;
mod errors;
mod listing;

pub use commits::*;
pub use errors::*;
pub use listing::*;
