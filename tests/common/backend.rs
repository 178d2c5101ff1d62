//! The store a real binary runs on, kept alive as long as the binary: a fresh PostgreSQL
//! database or an embedded store in a temporary directory, for tests that run on both.

use super::db::TestDb;

/// The store of a real binary under test.
pub enum Backend {
    /// A fresh PostgreSQL database.
    Postgres(TestDb),
    /// An embedded store in a temporary directory.
    Embedded(tempfile::TempDir),
}

impl Backend {
    /// A fresh PostgreSQL database.
    pub async fn postgres() -> Self {
        Self::Postgres(TestDb::create().await)
    }

    /// An embedded store in a new temporary directory.
    pub fn embedded() -> Self {
        Self::Embedded(tempfile::tempdir().expect("a temporary directory"))
    }

    /// The `serve` arguments that select this store.
    pub fn store_args(&self) -> Vec<String> {
        match self {
            Self::Postgres(db) => db.serve_args(),
            Self::Embedded(dir) => vec!["--data-dir".into(), dir.path().display().to_string()],
        }
    }
}
