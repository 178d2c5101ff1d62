//! [`StoreError`]: what went wrong in the store, said as what the caller may do about it.
//!
//! Each backend classifies its own errors (SQLSTATE classes for PostgreSQL in
//! `postgres/sql_state.rs`, result codes for SQLite in `embedded/result_code.rs`) into three
//! meanings; nobody above `store/` ever reads a backend's code. The code and the backend's
//! message travel along in a [`Cause`] for the logs.

use std::fmt;
use std::time::Duration;

/// A store failure, by meaning.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store is unreachable, busy, restarting or slow. Retrying the same operation later is
    /// safe and may succeed. (The HTTP layer answers `503` with `Retry-After`.)
    #[error("store temporarily unavailable: {0}")]
    Transient(Cause),
    /// The store can never hold or process this input (a value it refuses, a statement too
    /// deep or too large). Retrying the same input cannot help; the request is at fault.
    #[error("the store refused the input: {0}")]
    Rejected(Cause),
    /// The store is broken, misconfigured, or the program has a bug (a corrupt row, a failed
    /// migration, an SQL error). An operator must look. (`500`.)
    #[error("store failure: {0}")]
    Fatal(Cause),
}

/// What the backend said, for the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// The backend's own error code (a SQLSTATE, an SQLite result code), when it gave one.
    pub code: Option<String>,
    /// The backend's message, or ours when the failure is our own finding.
    pub message: String,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} [{code}]", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Cause {
    /// A cause with the backend's `code`.
    pub fn coded(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: Some(code.into()),
            message: message.into(),
        }
    }

    /// A cause without a backend code.
    pub fn message(message: impl Into<String>) -> Self {
        Self {
            code: None,
            message: message.into(),
        }
    }
}

impl StoreError {
    /// A transient failure described by `message`.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient(Cause::message(message))
    }

    /// A fatal failure described by `message`.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::Fatal(Cause::message(message))
    }

    /// The operation did not finish within the store timeout; its effect is unknown.
    pub fn timed_out(timeout: Duration) -> Self {
        Self::transient(format!("store operation timed out after {timeout:?}"))
    }

    /// A search ran past its time limit: it is too costly as asked (retrying it the same
    /// way is useless), so the caller is told how to narrow it.
    pub fn too_costly(limit: Duration) -> Self {
        Self::Rejected(Cause::message(format!(
            "the search did not finish within --query-timeout ({limit:?}): narrow it with \
             since and until, a topic, or rarer words and fields"
        )))
    }

    /// Data read back from the store makes no sense (a negative counter, a payload that is not
    /// JSON): a bug or a damaged store.
    pub fn corrupt(what: impl fmt::Display) -> Self {
        Self::fatal(format!("unexpected data in store: {what}"))
    }

    /// A counter read back from the store, which can never be negative.
    pub fn counter(value: i64) -> Result<u64, StoreError> {
        u64::try_from(value).map_err(|_| Self::corrupt(format!("negative counter {value}")))
    }

    /// Whether retrying the same operation later is safe and may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }

    /// The same error with `place` (e.g. the database hosts) added to a transient or fatal
    /// cause, for the logs. A rejection's message can reach the client, so it stays as is.
    pub fn at(self, place: &str) -> Self {
        let locate = |cause: Cause| Cause {
            message: format!("{} (at {place})", cause.message),
            ..cause
        };
        match self {
            Self::Transient(cause) => Self::Transient(locate(cause)),
            Self::Fatal(cause) => Self::Fatal(locate(cause)),
            rejected @ Self::Rejected(_) => rejected,
        }
    }

    /// What the backend said.
    pub fn cause(&self) -> &Cause {
        match self {
            Self::Transient(cause) | Self::Rejected(cause) | Self::Fatal(cause) => cause,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_located_error_names_the_place_in_the_log_but_never_in_a_rejection() {
        let transient = StoreError::Transient(Cause::coded("57P01", "terminating connection"));
        let located = transient.at("db-a:5432,db-b:5432");
        assert_eq!(
            located.to_string(),
            "store temporarily unavailable: terminating connection (at db-a:5432,db-b:5432) [57P01]"
        );
        let rejected = StoreError::Rejected(Cause::message("invalid byte sequence"));
        assert_eq!(
            rejected.at("db-a:5432").cause().message,
            "invalid byte sequence"
        );
    }
}
