//! The event volume on PostgreSQL (`store/volume.rs`; migration 0008 keeps it with triggers):
//! counting the rows stored before it existed, and reading it for counts and rankings.
//!
//! The count of older rows runs in the background from [`super::PostgresStore::connect`], a
//! bounded batch per transaction in `(topic, seq)` order, under the row lock the removal
//! trigger respects (see the migration): several instances starting together take turns, and
//! an instance stopped halfway leaves a position the next one goes on from. Until it is done,
//! every count is answered from the events.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use deadpool_postgres::Pool;
use tracing::{info, warn};

use super::search::Statement;
use crate::store::error::StoreError;
use crate::store::volume::{
    buckets_sql, unplaceable_sql, value_buckets_sql, values_sql, VolumeField, VolumePlan, VolumeSql,
};

/// Rows counted per transaction.
const BATCH_ROWS: i64 = 20_000;
/// Failed batches in a row after which the task gives up until the next start.
const MAX_FAILURES: u32 = 10;

const STATE_SQL: &str = "\
SELECT upto_seq, done_topic, done_seq, complete FROM event_volume_backfill FOR UPDATE";

/// One batch: the next rows after the position, those up to `upto_seq` counted; returns the
/// last row read and how many were read.
const BATCH_SQL: &str = "\
WITH batch AS MATERIALIZED (
    SELECT topic, seq, ts, payload FROM events
    WHERE (topic, seq) > ($1, $2)
    ORDER BY topic, seq LIMIT $3
), counted AS (
    INSERT INTO event_volume AS v (minute, topic, level_kind, level, events)
    SELECT minute, topic, event_volume_kind(level), event_volume_level(level), count(*)
    FROM (
        SELECT floor(extract(epoch FROM ts) / 60)::bigint AS minute, topic,
               (payload -> 'level')::jsonb AS level
        FROM batch WHERE seq <= $4 OFFSET 0
    ) AS keyed
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (minute, topic, level_kind, level)
        DO UPDATE SET events = v.events + excluded.events
)
SELECT (SELECT count(*) FROM batch),
       (SELECT topic FROM batch ORDER BY topic DESC, seq DESC LIMIT 1),
       (SELECT seq FROM batch ORDER BY topic DESC, seq DESC LIMIT 1)";

const ADVANCE_SQL: &str = "\
UPDATE event_volume_backfill SET done_topic = $1, done_seq = $2, complete = $3";

/// Counts the rows stored before the volume existed; logs what it did.
pub(super) async fn count_older_rows(pool: Pool) {
    let mut counted = 0u64;
    let mut failures = 0u32;
    loop {
        match count_batch(&pool).await {
            Ok(None) => break,
            Ok(Some(rows)) => {
                counted += rows;
                failures = 0;
            }
            Err(err) => {
                failures += 1;
                if failures >= MAX_FAILURES {
                    warn!(error = %err, counted, "giving up counting the event volume of older rows until the next start");
                    return;
                }
                tokio::time::sleep(Duration::from_secs(u64::from(failures))).await;
            }
        }
    }
    if counted > 0 {
        info!(
            rows = counted,
            "counted the event volume of rows stored before it existed"
        );
    }
}

/// One batch; the rows it read, or `None` once every row is counted.
async fn count_batch(pool: &Pool) -> Result<Option<u64>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let state = tx.query_one(STATE_SQL, &[]).await?;
    if state.try_get::<_, bool>(3)? {
        return Ok(None);
    }
    let upto: i64 = state.try_get(0)?;
    let done_topic: Option<String> = state.try_get(1)?;
    let done_seq: Option<i64> = state.try_get(2)?;
    // A statement of its own, after the lock: it sees every removal committed before. No
    // topic is empty, so ('', min) is before every row.
    let after = (
        done_topic.clone().unwrap_or_default(),
        done_seq.unwrap_or(i64::MIN),
    );
    let batch = tx
        .query_one(BATCH_SQL, &[&after.0, &after.1, &BATCH_ROWS, &upto])
        .await?;
    let read: i64 = batch.try_get(0)?;
    let last_topic: Option<String> = batch.try_get(1)?;
    let last_seq: Option<i64> = batch.try_get(2)?;
    let complete = read < BATCH_ROWS;
    let (topic, seq) = match (last_topic, last_seq) {
        (Some(topic), Some(seq)) => (Some(topic), Some(seq)),
        _ => (done_topic, done_seq),
    };
    tx.execute(ADVANCE_SQL, &[&topic, &seq, &complete]).await?;
    tx.commit().await?;
    Ok(Some(u64::try_from(read).unwrap_or(0)))
}

impl VolumeSql for Statement {
    fn bind_text(&mut self, text: &str) -> String {
        self.bind(Box::new(text.to_owned()))
    }

    fn bind_integer(&mut self, value: i64) -> String {
        self.bind(Box::new(value))
    }

    fn starts_with(&self, column: &str, placeholder: &str) -> String {
        format!("{column} ^@ {placeholder}")
    }
}

/// Whether the volume can answer `plan`: every older row counted, and no `level` it cannot
/// place in the range when the answer depends on levels.
pub(super) async fn ready(
    client: &impl GenericClient,
    plan: &VolumePlan,
) -> Result<bool, StoreError> {
    let complete: bool = client
        .query_one("SELECT complete FROM event_volume_backfill", &[])
        .await?
        .try_get(0)?;
    if !complete || !plan.reads_levels {
        return Ok(complete);
    }
    let mut params = Statement::default();
    let sql = unplaceable_sql(plan, &mut params);
    let unplaceable: bool = client.query_one(&sql, &params.refs()).await?.try_get(0)?;
    Ok(!unplaceable)
}

/// The statement of a plan's buckets (`minutes_per_bucket` minutes each).
pub(super) fn buckets_statement(plan: &VolumePlan, minutes_per_bucket: i64) -> (String, Statement) {
    let mut params = Statement::default();
    let sql = buckets_sql(plan, minutes_per_bucket, &mut params);
    (sql, params)
}

/// `(bucket, events)` of a plan.
pub(super) async fn buckets(
    client: &impl GenericClient,
    plan: &VolumePlan,
    minutes_per_bucket: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let (sql, params) = buckets_statement(plan, minutes_per_bucket);
    let rows = client.query(&sql, &params.refs()).await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// `(value, bucket, events)` of a plan, for every value of `field`.
pub(super) async fn value_buckets(
    client: &impl GenericClient,
    plan: &VolumePlan,
    field: VolumeField,
    minutes_per_bucket: i64,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    let mut params = Statement::default();
    let sql = value_buckets_sql(plan, field, minutes_per_bucket, &mut params);
    let rows = client.query(&sql, &params.refs()).await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect()
}

/// `(value, events)` of a plan, for every value of `field`.
pub(super) async fn values(
    client: &impl GenericClient,
    plan: &VolumePlan,
    field: VolumeField,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut params = Statement::default();
    let sql = values_sql(plan, field, &mut params);
    let rows = client.query(&sql, &params.refs()).await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}
