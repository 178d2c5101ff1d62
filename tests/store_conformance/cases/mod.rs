//! The conformance cases, each an async fn taking a [`crate::backends::Backend`].

mod commits;
mod errors;
mod feed;
mod feed_scan;
mod listing;
mod prefixes;
mod read_only;
mod removal;
mod search;
mod search_plans;
mod sweep;
mod volume;

pub use commits::*;
pub use errors::*;
pub use feed::*;
pub use feed_scan::*;
pub use listing::*;
pub use prefixes::*;
pub use read_only::*;
pub use removal::*;
pub use search::*;
pub use search_plans::*;
pub use sweep::*;
pub use volume::*;
