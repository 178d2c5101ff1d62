//! Settings of the embedded store.

use std::time::Duration;

/// How hard a commit waits for the disk (`PRAGMA synchronous`, in WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SyncMode {
    /// Every commit fsyncs the WAL before it is answered: survives process kills and power loss.
    #[default]
    Full,
    /// Commits reach the OS page cache; the WAL is synced at checkpoints. Survives a killed
    /// process, but a power loss or kernel crash may lose the last commits.
    Normal,
}

impl SyncMode {
    /// The `PRAGMA synchronous` value.
    pub fn pragma_value(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// Settings of the embedded store.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Upper bound on any single store operation, queueing included; also SQLite's busy timeout.
    pub timeout: Duration,
    /// Durability of a commit; see DESIGN.md "Embedded store" for the measured trade-off.
    pub sync: SyncMode,
    /// Time limit of one search; past it SQLite interrupts the statement.
    pub query_timeout: Duration,
    /// Threads searches run on, at a lower CPU priority (`search_threads.rs`).
    pub search_threads: usize,
}
