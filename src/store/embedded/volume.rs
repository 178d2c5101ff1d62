//! The event volume on the embedded store (`store/volume.rs`; migration 0005 keeps it with the
//! writer and a trigger): reading it for counts and rankings.

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

use crate::store::error::StoreError;
use crate::store::volume::{bucket_of_minute, lower, VolumeField, VolumePlan, VolumeSql};

/// A statement over the volume and its parameters, built together.
#[derive(Default)]
pub(super) struct VolumeStatement {
    pub(super) params: Vec<Sql>,
}

impl VolumeStatement {
    fn bind_value(&mut self, value: Sql) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }

    /// `WHERE …` of a plan's rows: its minutes and its condition.
    fn rows(&mut self, plan: &VolumePlan) -> String {
        let from = self.bind_value(Sql::Integer(plan.minutes.start));
        let to = self.bind_value(Sql::Integer(plan.minutes.end));
        let condition = lower(&plan.condition, self);
        format!("WHERE minute >= {from} AND minute < {to} AND {condition}")
    }
}

impl VolumeSql for VolumeStatement {
    fn bind(&mut self, text: &str) -> String {
        self.bind_value(Sql::Text(text.to_owned()))
    }

    /// Compared as bytes, as `prefix_filter.rs` explains.
    fn starts_with(&self, column: &str, placeholder: &str) -> String {
        format!(
            "substr(CAST({column} AS BLOB), 1, length(CAST({placeholder} AS BLOB))) \
             = CAST({placeholder} AS BLOB)"
        )
    }
}

/// Whether the volume can answer `plan`: no `level` it cannot place in the range when the
/// answer depends on levels (the volume counts every row from the moment it exists).
pub(super) fn ready(conn: &Connection, plan: &VolumePlan) -> Result<bool, StoreError> {
    if !plan.reads_levels {
        return Ok(true);
    }
    let unplaceable: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM event_volume WHERE minute >= ?1 AND minute < ?2 \
         AND level_kind = 2 AND events > 0)",
        [plan.minutes.start, plan.minutes.end],
        |row| row.get(0),
    )?;
    Ok(!unplaceable)
}

/// The statement of a plan's buckets (`minutes_per_bucket` minutes each).
pub(super) fn buckets_statement(plan: &VolumePlan, minutes_per_bucket: i64) -> (String, Vec<Sql>) {
    let mut statement = VolumeStatement::default();
    let per = statement.bind_value(Sql::Integer(minutes_per_bucket));
    let rows = statement.rows(plan);
    let sql = format!(
        "SELECT {} AS bucket, sum(events) FROM event_volume {rows} \
         GROUP BY bucket ORDER BY bucket",
        bucket_of_minute("minute", &per)
    );
    (sql, statement.params)
}

/// `(bucket, events)` of a plan.
pub(super) fn buckets(
    conn: &Connection,
    plan: &VolumePlan,
    minutes_per_bucket: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let (sql, params) = buckets_statement(plan, minutes_per_bucket);
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(params), |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `(value, bucket, events)` of a plan, for every value of `field`.
pub(super) fn value_buckets(
    conn: &Connection,
    plan: &VolumePlan,
    field: VolumeField,
    minutes_per_bucket: i64,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    let mut statement = VolumeStatement::default();
    let per = statement.bind_value(Sql::Integer(minutes_per_bucket));
    let rows = statement.rows(plan);
    let (column, guard) = field.column();
    let sql = format!(
        "SELECT {column}, {} AS bucket, sum(events) FROM event_volume {rows} \
         AND {guard} GROUP BY 1, 2",
        bucket_of_minute("minute", &per)
    );
    let mut prepared = conn.prepare(&sql)?;
    let rows = prepared.query_map(params_from_iter(statement.params), |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `(value, events)` of a plan, for every value of `field`.
pub(super) fn values(
    conn: &Connection,
    plan: &VolumePlan,
    field: VolumeField,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut statement = VolumeStatement::default();
    let rows = statement.rows(plan);
    let (column, guard) = field.column();
    let sql =
        format!("SELECT {column}, sum(events) FROM event_volume {rows} AND {guard} GROUP BY 1");
    let mut prepared = conn.prepare(&sql)?;
    let rows = prepared.query_map(params_from_iter(statement.params), |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
