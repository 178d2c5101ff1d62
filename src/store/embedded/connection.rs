//! SQLite connections of the embedded store: the writer's pragmas (durability: [`SyncMode`]) and
//! migrations, and a small pool of read-only connections.
//!
//! Only [`super::EmbeddedStore`] and its writer thread use this module. Every function here
//! blocks; callers run it on the writer thread or inside `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tracing::info;

use crate::store::error::StoreError;

/// Ordered schema migrations. The applied version is the database's `PRAGMA user_version`,
/// written in the same transaction as the migration, so a crash mid-migration leaves the
/// previous version intact and the migration runs again at the next start.
const MIGRATIONS: [(i32, &str); 5] = [
    (1, include_str!("../migrations/embedded/0001_events.sql")),
    (2, include_str!("../migrations/embedded/0002_removals.sql")),
    (3, include_str!("../migrations/embedded/0003_search.sql")),
    (
        4,
        include_str!("../migrations/embedded/0004_search_indexes.sql"),
    ),
    (
        5,
        include_str!("../migrations/embedded/0005_event_volume.sql"),
    ),
];

/// Read connections kept open between requests; more are opened on demand and closed after use.
const MAX_IDLE_READERS: usize = 4;

/// Each read connection's page cache, in KiB (`PRAGMA cache_size`; SQLite's default is 2 MiB).
/// A search reads rows scattered over the file (a rare word's 5,000 matches, each on a page of
/// its own); with 32 MiB a repeated search — a console refreshing or paging, the same
/// connection reused — finds them in the cache instead of reading each page again (a rare word
/// on 2,000,000 events, p50 of 9 repeats: 8.3 ms -> 5.7 ms). Pages are allocated as used.
/// Not `mmap_size`: the writer truncates the file (`incremental_vacuum`), and a mapped page past
/// the new end faults the whole process instead of failing one read.
const READER_CACHE_KIB: i64 = 32 * 1024;

/// Opens the read-write connection, switches the file to WAL, sets `synchronous`, and applies
/// pending migrations. There is exactly one such connection per store: the writer's.
pub(super) fn open_writer(
    path: &Path,
    sync: SyncMode,
    busy_timeout: Duration,
) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    // A new file gives the pages freed by deletions back to the file system, a few at a time
    // (`PRAGMA incremental_vacuum` after each deletion). The mode can only be chosen before the
    // first table exists; an older file keeps its free pages and reuses them for new rows.
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
    if tables == 0 {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    // WAL lets readers work on the last committed snapshot while the writer appends, and makes
    // a commit one sequential append (plus one fsync with synchronous=FULL). The mode is
    // persistent in the file; setting it again is a no-op.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::fatal(format!(
            "cannot switch {} to WAL journal mode (got {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", sync.pragma_value())?;
    migrate(&mut conn)?;
    super::words_backfill::fill_missing(&mut conn)?;
    super::words_backfill::index_missing(&mut conn)?;
    Ok(conn)
}

/// Brings the schema up to date in one immediate transaction (so two processes opening the same
/// file cannot both apply a migration).
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let latest = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i32 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > latest {
        return Err(StoreError::fatal(format!(
            "database schema version {current} is newer than this build knows ({latest})"
        )));
    }
    for (version, sql) in MIGRATIONS {
        if version <= current {
            continue;
        }
        tx.execute_batch(sql)
            .map_err(|err| StoreError::fatal(format!("migration {version} failed: {err}")))?;
        tx.pragma_update(None, "user_version", version)?;
        info!(version, "applied embedded migration");
    }
    tx.commit()?;
    Ok(())
}

/// Read-only connections for `query`, `load_counters` and `ping`. In WAL mode they read the
/// last committed snapshot without waiting for the writer.
pub(super) struct ReadPool {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// A pool over the database at `path`, which the writer has already created and migrated.
    pub(super) fn new(path: PathBuf, busy_timeout: Duration) -> Self {
        Self {
            path,
            busy_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on an idle connection (or a freshly opened one) and keeps the connection for
    /// the next caller. Blocks: call from `spawn_blocking`.
    pub(super) fn with_reader<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.lock_idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        let result = read(&conn);
        let mut idle = self.lock_idle();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
        Ok(conn)
    }

    /// The guard is held only to push or pop, never while a connection is in use. A poisoned
    /// lock only means a panic happened while pushing or popping; the list is still valid.
    fn lock_idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

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
