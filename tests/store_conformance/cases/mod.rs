//! The conformance cases, each an async fn taking a [`crate::backends::Backend`].

mod commits;
mod errors;
mod feed;
mod listing;
mod read_only;

pub use commits::*;
pub use errors::*;
pub use feed::*;
pub use listing::*;
pub use read_only::*;
