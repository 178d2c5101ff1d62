//! [`KeysError`]: why a keys file could not be read, understood or written. A broken file at
//! start stops the server; a broken file on reload keeps the keys in force and is logged.

use std::path::PathBuf;

/// Every way reading or writing a keys file can fail. Messages name the file and never hold
/// a key (the file holds none).
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The file could not be read.
    #[error("cannot read the keys file {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid keys file.
    #[error("the keys file {path} is not valid: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
    /// The file could not be written.
    #[error("cannot write the keys file {path}: {source}")]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
