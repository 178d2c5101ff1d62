//! The search language: query text parsed into a tree ([`Query`]), printed back in one
//! canonical form, and evaluated in memory against an event. No I/O: each store lowers the
//! tree to its own SQL, with bound parameters only, and the in-memory evaluation filters the
//! live tail and is the model the stores are tested against.
//!
//! - [`words`]: how text is split into words, and the searchable text of a payload that the
//!   stores keep beside each event;
//! - [`fields`]: field tokens, each path and value a field equality can match as one
//!   word-like token, for a full-text index to find field values with;
//! - [`ast`]: the tree;
//! - [`parse`]: text to tree, with positions in every error and limits on size;
//! - `print`: tree to canonical text (`Display`);
//! - [`eval`]: tree against one event.

pub mod ast;
pub mod eval;
pub mod fields;
pub mod parse;
mod print;
pub mod words;

pub use ast::{Bound, Condition, Field, FieldQuery, Phrase, Query, Range, RangeValue, Value};
pub use eval::EventView;
pub use parse::{parse, parse_with, ParseError, QueryLimits};
