//! [`KeysError`]: why a keys file could not be read, understood or written. A broken file at
//! start stops the server; a broken file on reload keeps the keys in force and is logged.

use std::path::PathBuf;

/// Every way reading or writing a keys file can fail. Messages name the file and never hold
/// a key (the file holds none).
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The file could not be read.
    #[error("cannot read the keys file {}: {error}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why (part of the message, not a separate cause, so it is said once).
        error: std::io::Error,
    },
    /// The file is not a valid keys file.
    #[error("the keys file {} is not valid: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
    /// The file could not be written.
    #[error("cannot write the keys file {}: {error}", path.display())]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// Why (part of the message, not a separate cause, so it is said once).
        error: std::io::Error,
    },
}
