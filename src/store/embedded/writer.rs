//! The embedded store's single writer: a dedicated OS thread that owns the one read-write
//! SQLite connection and turns queued commits into transactions.
//!
//! [`super::EmbeddedStore::commit`] sends a [`Job`] over a bounded channel and awaits the
//! reply; no SQLite call ever runs on the async executor. The thread takes whatever is queued
//! (up to [`MAX_GROUP_EVENTS`] events) and writes it in ONE transaction with one savepoint per
//! commit: concurrent shards share one WAL append and sync (group commit), while each commit
//! stays atomic, since its rows and its counter deltas are released or rolled back together.
//! Replies go out only after `COMMIT` returned, so an answered commit is in the WAL on disk
//! (or in the OS page cache with `synchronous=NORMAL`, see [`super::connection::SyncMode`]).
//!
//! Deletions ([`Job::Remove`], see `removal.rs`) run after the commits queued with them, each
//! in its own short transaction.
//!
//! After each transaction that commits, the thread fires the store's [`CommitSignal`], which
//! wakes the live tails of this process (the only process writing the file).
//!
//! The thread ends when every sender is dropped (the store was dropped); the connection closes
//! with it.

use chrono::Utc;
use rusqlite::{ffi, params, Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::query::fields::payload_field_tokens;
use crate::store::error::StoreError;
use crate::store::feed::CommitSignal;
use crate::store::model::{CommitReport, ShardCounters};
use crate::store::searchable::Searchable;

use super::removal::{self, RemoveJob, SweepJob};

/// Most events written in one transaction; a larger queue is written in several.
const MAX_GROUP_EVENTS: usize = 8_192;

/// Commits (and pings) that may wait for the writer before senders wait for room.
pub(super) const QUEUE_CAPACITY: usize = 64;

/// `seq` is given by the writer (see `removal.rs`): the next after the highest ever given.
const INSERT_SQL: &str = "\
INSERT INTO events (seq, topic, event_id, ts, source, payload, received_at, words)
VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6, ?8)
ON CONFLICT (topic, event_id) DO NOTHING";

/// The full-text index entry of a row just inserted: its words and its field tokens.
pub(super) const INDEX_SQL: &str =
    "INSERT INTO events_fts (rowid, words) VALUES (?1, ?2 || char(10) || ?3)";

/// Adds the rows of a group (seq `?1` to `?2`, every row between them its own) to the event
/// volume.
const VOLUME_SQL: &str = "\
INSERT INTO event_volume AS v (minute, topic, level_kind, level, events)
SELECT minute, topic, level_kind, level, count(*) FROM event_volume_keys
WHERE seq BETWEEN ?1 AND ?2
GROUP BY minute, topic, level_kind, level
ON CONFLICT (minute, topic, level_kind, level) DO UPDATE SET events = v.events + excluded.events";

const COUNTERS_SQL: &str = "\
INSERT INTO shard_counters AS c (shard, received, unique_processed, duplicate_dropped)
VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (shard) DO UPDATE SET
    received = c.received + excluded.received,
    unique_processed = c.unique_processed + excluded.unique_processed,
    duplicate_dropped = c.duplicate_dropped + excluded.duplicate_dropped
RETURNING received, unique_processed, duplicate_dropped";

/// An event copied out of the caller's batch (the thread outlives any borrow).
#[derive(Debug)]
pub(super) struct OwnedEvent {
    pub(super) topic: String,
    pub(super) event_id: String,
    /// Microseconds since the Unix epoch.
    pub(super) ts_micros: i64,
    pub(super) source: String,
    pub(super) payload: String,
    /// The payload's searchable text (`query::words::payload_words`).
    pub(super) words: String,
    /// The payload's field tokens (`query::fields::payload_field_tokens`), which the full-text
    /// index holds beside the words.
    pub(super) field_tokens: String,
}

impl Searchable for OwnedEvent {
    fn payload(&self) -> &str {
        &self.payload
    }

    fn set_searchable(&mut self, words: String) {
        self.words = words;
        self.field_tokens = payload_field_tokens(&self.payload);
    }
}

/// One shard's group commit.
#[derive(Debug)]
pub(super) struct CommitJob {
    pub(super) shard: i64,
    /// Events the commit acknowledges, duplicates resolved in memory included.
    pub(super) received: i64,
    /// Whether the counter deltas are added: only a benchmark of the naive design commits
    /// rows alone (`Ingest::commit_uncounted`).
    pub(super) counted: bool,
    pub(super) candidates: Vec<OwnedEvent>,
    /// `is_new` per candidate and the shard's counter row after the commit, sent after the
    /// transaction committed.
    pub(super) reply: oneshot::Sender<Result<CommitReport, StoreError>>,
}

/// Work for the writer thread.
#[derive(Debug)]
pub(super) enum Job {
    /// Insert the absent candidates and add the counter deltas, atomically.
    Commit(CommitJob),
    /// Answer at once: proves the thread is alive and draining its queue.
    Ping(oneshot::Sender<()>),
    /// Delete some of a topic's oldest rows and count them, in a transaction of its own.
    Remove(RemoveJob),
    /// Sweep the default retention and count what went, in a transaction of its own.
    Sweep(SweepJob),
}

/// What the writer thread keeps between jobs.
struct Writer {
    conn: Connection,
    /// The `seq` the next inserted row gets; only ever grows.
    next_seq: i64,
    /// Whether deletions give freed pages back (`auto_vacuum = INCREMENTAL`).
    reclaim: bool,
}

/// Starts the writer thread on `conn` and returns the queue that feeds it; `signal` fires
/// after each transaction that commits rows.
pub(super) fn spawn(
    conn: Connection,
    signal: CommitSignal,
) -> Result<mpsc::Sender<Job>, StoreError> {
    let writer = Writer {
        next_seq: removal::first_free_seq(&conn)?,
        reclaim: removal::reclaims_space(&conn)?,
        conn,
    };
    let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || run(writer, queue, &signal))
        .map_err(|err| StoreError::fatal(format!("cannot start the writer thread: {err}")))?;
    Ok(jobs)
}

fn run(mut writer: Writer, mut queue: mpsc::Receiver<Job>, signal: &CommitSignal) {
    while let Some(first) = queue.blocking_recv() {
        let mut group = Vec::new();
        // Deletions, run after the group's commit.
        let mut removals = Vec::new();
        let mut events = 0;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Ping(reply) => {
                    let _ = reply.send(());
                }
                // A caller that timed out no longer waits: skip its work rather than commit
                // something nobody will acknowledge (its retry is safe either way).
                Job::Commit(commit) if commit.reply.is_closed() => {}
                Job::Commit(commit) => {
                    events += commit.candidates.len();
                    group.push(commit);
                }
                job @ (Job::Remove(_) | Job::Sweep(_)) => removals.push(job),
            }
            if events < MAX_GROUP_EVENTS {
                next = queue.try_recv().ok();
            }
        }
        if !group.is_empty() && write_group(&mut writer, group) {
            signal.notify();
        }
        // After the commits queued with them: a deletion never holds up a commit for long.
        for job in removals {
            let last_seq = writer.next_seq - 1;
            match job {
                Job::Remove(job) if !job.reply.is_closed() => {
                    let outcome = removal::remove(&mut writer.conn, &job, last_seq, writer.reclaim);
                    let _ = job.reply.send(outcome);
                }
                Job::Sweep(job) if !job.reply.is_closed() => {
                    let outcome = removal::sweep(&mut writer.conn, &job, last_seq, writer.reclaim);
                    let _ = job.reply.send(outcome);
                }
                _ => {}
            }
        }
    }
    debug!("embedded store writer stopped");
}

/// Writes `group` in one transaction and answers every job once the outcome is known; tells
/// whether the transaction committed.
fn write_group(writer: &mut Writer, group: Vec<CommitJob>) -> bool {
    let received_at = Utc::now().timestamp_micros();
    let next_seq = &mut writer.next_seq;
    let mut tx = match writer
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
    {
        Ok(tx) => tx,
        Err(err) => {
            for job in group {
                let _ = job.reply.send(Err(copy_error(&err).into()));
            }
            return false;
        }
    };
    let mut answers = Vec::with_capacity(group.len());
    let mut index_entries = Vec::new();
    for mut job in group {
        let outcome = apply(&mut tx, &mut job, received_at, next_seq, &mut index_entries);
        answers.push((job.reply, outcome));
    }
    // The full-text entries of the rows the group stored, after every savepoint: FTS5 writes
    // its pending entries out as a new segment at each savepoint that follows them, and merges
    // segments as they pile up, which cost the writer a fifth of its time when each commit's
    // entries went in inside its own savepoint. Written here, a group's entries make one
    // segment, at the transaction's commit.
    let written = index_rows(&tx, &index_entries)
        .and_then(|()| count_volume(&tx, &index_entries))
        .and_then(|()| tx.commit());
    match written {
        Ok(()) => {
            for (reply, outcome) in answers {
                let _ = reply.send(outcome);
            }
            true
        }
        // Nothing of the group is stored: every job fails, including those whose savepoint
        // succeeded.
        Err(err) => {
            for (reply, _) in answers {
                let _ = reply.send(Err(copy_error(&err).into()));
            }
            false
        }
    }
}

/// Applies one commit inside its own savepoint: on any error the savepoint is rolled back
/// (when dropped) and the other commits of the group are unaffected. Each inserted row takes
/// `next_seq`; a number taken by a row that is then rolled back is skipped, never reused.
///
/// The full-text entries of the rows it stored are added to `index_entries` once its savepoint
/// has committed (the searchable text and field tokens move there).
fn apply(
    tx: &mut Transaction<'_>,
    job: &mut CommitJob,
    received_at: i64,
    next_seq: &mut i64,
    index_entries: &mut Vec<IndexEntry>,
) -> Result<CommitReport, StoreError> {
    let savepoint = tx.savepoint()?;
    let mut is_new = Vec::with_capacity(job.candidates.len());
    let mut stored = Vec::new();
    {
        let mut insert = savepoint.prepare_cached(INSERT_SQL)?;
        for (position, event) in job.candidates.iter().enumerate() {
            // ON CONFLICT DO NOTHING changes no row for a stored key: 1 means inserted.
            let changed = insert.execute(params![
                event.topic,
                event.event_id,
                event.ts_micros,
                event.source,
                event.payload,
                received_at,
                *next_seq,
                event.words,
            ])?;
            if changed == 1 {
                stored.push((*next_seq, position));
                *next_seq += 1;
            }
            is_new.push(changed == 1);
        }
    }
    let new_count = is_new.iter().filter(|&&new| new).count() as i64;
    if new_count > job.received {
        return Err(StoreError::corrupt(format!(
            "commit of {} events would insert {new_count} rows",
            job.received
        )));
    }
    let counters_after = if job.counted {
        let row = savepoint.prepare_cached(COUNTERS_SQL)?.query_row(
            params![job.shard, job.received, new_count, job.received - new_count],
            |row| Ok([row.get::<_, i64>(0)?, row.get(1)?, row.get(2)?]),
        )?;
        let [received, unique_processed, duplicate_dropped] = row.map(StoreError::counter);
        ShardCounters {
            received: received?,
            unique_processed: unique_processed?,
            duplicate_dropped: duplicate_dropped?,
        }
    } else {
        ShardCounters::default()
    };
    savepoint.commit()?;
    for (seq, position) in stored {
        if let Some(event) = job.candidates.get_mut(position) {
            index_entries.push(IndexEntry {
                seq,
                words: std::mem::take(&mut event.words),
                field_tokens: std::mem::take(&mut event.field_tokens),
            });
        }
    }
    Ok(CommitReport {
        is_new,
        counters_after,
    })
}

/// The full-text entry of a stored row.
struct IndexEntry {
    seq: i64,
    words: String,
    field_tokens: String,
}

/// Adds the full-text entries of a group's stored rows.
fn index_rows(tx: &Transaction<'_>, entries: &[IndexEntry]) -> Result<(), rusqlite::Error> {
    let mut index = tx.prepare_cached(INDEX_SQL)?;
    for entry in entries {
        index.execute(params![entry.seq, entry.words, entry.field_tokens])?;
    }
    Ok(())
}

/// Adds a group's stored rows to the event volume: one statement over their seqs, which are
/// consecutive (one writer gives them, in order, within the transaction).
fn count_volume(tx: &Transaction<'_>, entries: &[IndexEntry]) -> Result<(), rusqlite::Error> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(());
    };
    tx.prepare_cached(VOLUME_SQL)?
        .execute(params![first.seq, last.seq])?;
    Ok(())
}

/// `rusqlite::Error` is not `Clone`; a group failure is reported to every job of the group, so
/// the error is rebuilt with the same SQLite code (which decides the HTTP status) and message.
fn copy_error(err: &rusqlite::Error) -> rusqlite::Error {
    match err {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}
