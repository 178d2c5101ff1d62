//! PostgreSQL errors classified by meaning, by SQLSTATE class.
//!
//! | class | meaning | examples |
//! | --- | --- | --- |
//! | 08, 53, 57, 58, 40, `25006`, `55P03` | transient | connection lost, too many connections, admin shutdown, statement timeout, serialization failure, read-only node after a failover |
//! | 22, 54 | rejected: the input can never be stored | invalid byte sequence (`\u0000`), stack depth limit exceeded |
//! | anything else | fatal | undefined table, syntax error, internal error |
//!
//! An error without a SQLSTATE means the connection broke (or never came up): transient.

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::store::error::{Cause, StoreError};

impl From<tokio_postgres::Error> for StoreError {
    fn from(err: tokio_postgres::Error) -> Self {
        let Some(db_error) = err.as_db_error() else {
            return Self::Transient(Cause::message(format!("postgres: {err}")));
        };
        let code = db_error.code();
        let cause = Cause::coded(code.code(), format!("postgres: {}", db_error.message()));
        match classify(code) {
            Meaning::Transient => Self::Transient(cause),
            Meaning::Rejected => Self::Rejected(cause),
            Meaning::Fatal => Self::Fatal(cause),
        }
    }
}

impl From<PoolError> for StoreError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Backend(backend) => backend.into(),
            // Timeouts, a closed pool while shutting down, a failed post-create hook: a new
            // connection may come later.
            other => Self::transient(format!("postgres pool: {other}")),
        }
    }
}

/// Whether `err` says the connection's node takes no writes (a standby, or a primary demoted
/// by a failover): such a connection must leave the pool, or it would fail every commit.
pub(super) fn is_read_only(err: &tokio_postgres::Error) -> bool {
    err.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION)
}

#[derive(Debug, PartialEq, Eq)]
enum Meaning {
    Transient,
    Rejected,
    Fatal,
}

fn classify(code: &SqlState) -> Meaning {
    if *code == SqlState::READ_ONLY_SQL_TRANSACTION || *code == SqlState::LOCK_NOT_AVAILABLE {
        return Meaning::Transient;
    }
    match code.code().get(..2) {
        Some("08" | "40" | "53" | "57" | "58") => Meaning::Transient,
        Some("22" | "54") => Meaning::Rejected,
        _ => Meaning::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified_by_class() {
        let cases = [
            (SqlState::CONNECTION_FAILURE, Meaning::Transient),
            (SqlState::ADMIN_SHUTDOWN, Meaning::Transient),
            (SqlState::QUERY_CANCELED, Meaning::Transient),
            (SqlState::T_R_SERIALIZATION_FAILURE, Meaning::Transient),
            (SqlState::TOO_MANY_CONNECTIONS, Meaning::Transient),
            (SqlState::READ_ONLY_SQL_TRANSACTION, Meaning::Transient),
            (SqlState::CHARACTER_NOT_IN_REPERTOIRE, Meaning::Rejected),
            (SqlState::UNTRANSLATABLE_CHARACTER, Meaning::Rejected),
            (SqlState::STATEMENT_TOO_COMPLEX, Meaning::Rejected),
            (SqlState::UNDEFINED_TABLE, Meaning::Fatal),
            (SqlState::SYNTAX_ERROR, Meaning::Fatal),
            (SqlState::INTERNAL_ERROR, Meaning::Fatal),
        ];
        for (code, meaning) in cases {
            assert_eq!(classify(&code), meaning, "{}", code.code());
        }
    }
}
