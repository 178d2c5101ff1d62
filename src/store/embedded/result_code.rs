//! SQLite errors classified by meaning, by result code.
//!
//! Transient: the file is busy or locked (another connection or process), or the disk or memory
//! ran out or failed for now. Rejected: a string or blob larger than SQLite's limit. Fatal:
//! everything else (corruption, a file that is not a database, an SQL error, which is a bug).

use rusqlite::ErrorCode;

use crate::store::error::{Cause, StoreError};

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        let code = err.sqlite_error_code();
        let cause = match code {
            Some(code) => Cause::coded(format!("{code:?}"), format!("sqlite: {err}")),
            None => Cause::message(format!("sqlite: {err}")),
        };
        match code {
            Some(
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::OutOfMemory
                | ErrorCode::CannotOpen,
            ) => Self::Transient(cause),
            Some(ErrorCode::TooBig) => Self::Rejected(cause),
            _ => Self::Fatal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_error(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn busy_and_full_are_transient_too_big_is_rejected_corruption_is_fatal() {
        use rusqlite::ffi;
        assert!(StoreError::from(sqlite_error(ffi::SQLITE_BUSY)).is_transient());
        assert!(StoreError::from(sqlite_error(ffi::SQLITE_FULL)).is_transient());
        assert!(matches!(
            StoreError::from(sqlite_error(ffi::SQLITE_TOOBIG)),
            StoreError::Rejected(_)
        ));
        assert!(matches!(
            StoreError::from(sqlite_error(ffi::SQLITE_CORRUPT)),
            StoreError::Fatal(_)
        ));
        assert!(matches!(
            StoreError::from(rusqlite::Error::InvalidQuery),
            StoreError::Fatal(_)
        ));
    }
}
