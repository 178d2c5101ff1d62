//! Deletions of the embedded store, run by the writer thread (the only connection that
//! writes): one bounded deletion per job (the oldest rows of a topic, or a sweep of the default
//! retention in `seq` order, which is commit order here), counted in `retention_state` in the
//! same transaction, then some of the freed pages given back to the file system.
//!
//! Also where the writer learns the first `seq` it may give out: deleted rows must never have
//! their `seq` given out again (see migration 0002), so numbering resumes after the highest
//! ever given, not after the highest still stored.

use std::time::Duration;

use chrono::Utc;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use crate::retention::RuledTopics;
use crate::store::contract::SweepReport;
use crate::store::error::StoreError;
use crate::store::feed::FeedPosition;
use crate::store::removal::{Removal, RemovalCounters, RemoveReport};

/// At most `?4` rows from the start of the topic in `seq` order (the `(topic, seq)` index), none
/// at all when the topic's first row is not due; of those, the due ones. `?2` is the deadline
/// in microseconds (NULL for a purge), `?3` the highest `seq` that may go.
const REMOVE_SQL: &str = "\
DELETE FROM events WHERE seq IN (
    SELECT seq FROM events INDEXED BY events_topic_seq
    WHERE topic = ?1 AND seq <= ?3
      AND (?2 IS NULL OR (
          SELECT first.received_at FROM events AS first INDEXED BY events_topic_seq
          WHERE first.topic = ?1 ORDER BY first.seq LIMIT 1) < ?2)
    ORDER BY seq LIMIT ?4
) AND (?2 IS NULL OR received_at < ?2)
RETURNING received_at";

/// The next `?2` rows after `?1` in `seq` order: what a sweep examines.
const SWEEP_SCAN_SQL: &str =
    "SELECT seq, topic, received_at FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";

/// One row by its `seq` (the rowid).
const DELETE_ONE_SQL: &str = "DELETE FROM events WHERE seq = ?1";

const COUNT_SQL: &str = "\
UPDATE retention_state SET
    expired = expired + ?1,
    purged = purged + ?2,
    seq_high_water = max(seq_high_water, ?3)
WHERE id = 1
RETURNING expired, purged";

/// The removal counters, as read back by `load_counters` and the cluster view.
pub(super) const COUNTERS_SQL: &str = "SELECT expired, purged FROM retention_state WHERE id = 1";

/// Free pages handed back to the file system after a deletion, at most (4 KiB each): bounds
/// how long the writer is kept from commits; the rest goes after the next deletions.
const RECLAIM_PAGES: u32 = 2_048;

/// A sweep of the default retention for the writer thread.
#[derive(Debug)]
pub(super) struct SweepJob {
    /// Strictly after this `seq`.
    pub(super) after: i64,
    /// The default retention.
    pub(super) older_than: Duration,
    /// Topics left alone (a rule decides them).
    pub(super) except: RuledTopics,
    /// Most rows examined.
    pub(super) limit: u32,
    /// Where the report goes once the transaction ended.
    pub(super) reply: oneshot::Sender<Result<SweepReport, StoreError>>,
}

/// A bounded deletion for the writer thread.
#[derive(Debug)]
pub(super) struct RemoveJob {
    /// The topic whose oldest rows go.
    pub(super) topic: String,
    /// Which of them.
    pub(super) removal: Removal,
    /// Most rows read.
    pub(super) limit: u32,
    /// Where the report goes once the transaction ended.
    pub(super) reply: oneshot::Sender<Result<RemoveReport, StoreError>>,
}

/// The first `seq` the writer may give out.
pub(super) fn first_free_seq(conn: &Connection) -> Result<i64, StoreError> {
    let highest: i64 = conn.query_row(
        "SELECT max(coalesce((SELECT max(seq) FROM events), 0),
                    coalesce((SELECT seq_high_water FROM retention_state WHERE id = 1), 0))",
        [],
        |row| row.get(0),
    )?;
    Ok(highest + 1)
}

/// Whether the file gives freed pages back on `PRAGMA incremental_vacuum`.
pub(super) fn reclaims_space(conn: &Connection) -> Result<bool, StoreError> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |row| row.get(0))?;
    Ok(mode == 2)
}

/// The deadline of a retention: now, by the writer's clock, minus `older_than`, in
/// microseconds.
fn deadline(older_than: Duration) -> i64 {
    let micros = i64::try_from(older_than.as_micros()).unwrap_or(i64::MAX);
    Utc::now().timestamp_micros().saturating_sub(micros)
}

/// Runs `job` in its own transaction; `last_seq` is the highest `seq` given out so far.
pub(super) fn remove(
    conn: &mut Connection,
    job: &RemoveJob,
    last_seq: i64,
    reclaim: bool,
) -> Result<RemoveReport, StoreError> {
    let (deadline, up_to_seq) = match job.removal {
        Removal::Expired { older_than } => (Some(deadline(older_than)), i64::MAX),
        Removal::Purged { up_to_seq } => (None, up_to_seq),
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut gone = Deleted::default();
    {
        let mut delete = tx.prepare_cached(REMOVE_SQL)?;
        let mut rows = delete.query(params![job.topic, deadline, up_to_seq, job.limit])?;
        while let Some(row) = rows.next()? {
            gone.add(row.get(0)?);
        }
    }
    let purged = matches!(job.removal, Removal::Purged { .. });
    gone.count_and_commit(tx, purged, last_seq, deadline)
        .map(|report| reclaimed(conn, report, reclaim))
}

/// Runs a sweep in its own transaction: examines the next `limit` rows after `job.after`,
/// deletes those due whose topic no rule covers, and stops its position before the first such
/// row not yet due.
pub(super) fn sweep(
    conn: &mut Connection,
    job: &SweepJob,
    last_seq: i64,
    reclaim: bool,
) -> Result<SweepReport, StoreError> {
    let deadline = deadline(job.older_than);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut gone = Deleted::default();
    let mut reached = job.after;
    let mut scanned = 0u32;
    let mut stopped = false;
    {
        let mut scan = tx.prepare_cached(SWEEP_SCAN_SQL)?;
        let mut delete = tx.prepare_cached(DELETE_ONE_SQL)?;
        let mut rows = scan.query(params![job.after, job.limit])?;
        while let Some(row) = rows.next()? {
            scanned += 1;
            let seq: i64 = row.get(0)?;
            let topic: String = row.get(1)?;
            let received_at: i64 = row.get(2)?;
            if job.except.contains(&topic) {
                reached = seq;
                continue;
            }
            if received_at >= deadline {
                // Rows after it were committed later: at most a clock step earlier, left to
                // the next sweep.
                stopped = true;
                break;
            }
            delete.execute(params![seq])?;
            gone.add(received_at);
            reached = seq;
        }
    }
    let report = gone.count_and_commit(tx, false, last_seq, Some(deadline))?;
    Ok(SweepReport {
        removal: reclaimed(conn, report, reclaim),
        next: FeedPosition {
            tx: 0,
            seq: reached,
        },
        finished: stopped || scanned < job.limit,
    })
}

/// What a deletion removed so far.
#[derive(Default)]
struct Deleted {
    rows: u64,
    /// The oldest `received_at` among them, for the lag.
    oldest: Option<i64>,
}

impl Deleted {
    fn add(&mut self, received_at: i64) {
        self.rows += 1;
        self.oldest = Some(
            self.oldest
                .map_or(received_at, |seen| seen.min(received_at)),
        );
    }

    /// Counts the rows in `retention_state` (as purged or expired) and commits; `deadline` is
    /// the expiry's, for the lag.
    fn count_and_commit(
        self,
        tx: rusqlite::Transaction<'_>,
        purged: bool,
        last_seq: i64,
        deadline: Option<i64>,
    ) -> Result<RemoveReport, StoreError> {
        if self.rows == 0 {
            // Nothing written: ending the transaction either way costs no sync.
            tx.commit()?;
            return Ok(RemoveReport::default());
        }
        let count = i64::try_from(self.rows).unwrap_or(i64::MAX);
        let (expired, purged) = if purged { (0, count) } else { (count, 0) };
        let counters_after = tx
            .prepare_cached(COUNT_SQL)?
            .query_row(params![expired, purged, last_seq], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
            })
            .optional()?
            .ok_or_else(|| StoreError::corrupt("retention_state has no row"))?;
        tx.commit()?;
        let overdue = deadline
            .zip(self.oldest)
            .map(|(deadline, oldest)| deadline.saturating_sub(oldest))
            .filter(|&micros| micros > 0)
            .map(|micros| Duration::from_micros(micros.unsigned_abs()));
        Ok(RemoveReport {
            removed: self.rows,
            overdue,
            counters_after: Some(counters(counters_after)?),
            busy: false,
        })
    }
}

/// Gives some freed pages back after a committed deletion. A failure only delays that to the
/// next deletion, and must not report the deletion as failed.
fn reclaimed(conn: &Connection, report: RemoveReport, reclaim: bool) -> RemoveReport {
    if reclaim && report.removed > 0 {
        if let Err(err) = conn.execute_batch(&format!("PRAGMA incremental_vacuum({RECLAIM_PAGES})"))
        {
            tracing::warn!(error = %err, "could not give freed pages back; the next deletion tries again");
        }
    }
    report
}

/// The counter row's two columns, which can never be negative.
pub(super) fn counters((expired, purged): (i64, i64)) -> Result<RemovalCounters, StoreError> {
    Ok(RemovalCounters {
        expired: StoreError::counter(expired)?,
        purged: StoreError::counter(purged)?,
    })
}
