//! The event volume on the embedded store (`store/volume.rs`; migration 0005 keeps it with the
//! writer and a trigger): reading it for counts and rankings.

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

use crate::store::error::StoreError;
use crate::store::volume::{
    buckets_sql, unplaceable_sql, value_buckets_sql, values_sql, VolumeField, VolumePlan, VolumeSql,
};

/// The parameters of a statement over the volume, bound as its text is written.
#[derive(Default)]
pub(super) struct VolumeParams {
    pub(super) params: Vec<Sql>,
}

impl VolumeParams {
    fn bind(&mut self, value: Sql) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }
}

impl VolumeSql for VolumeParams {
    fn bind_text(&mut self, text: &str) -> String {
        self.bind(Sql::Text(text.to_owned()))
    }

    fn bind_integer(&mut self, value: i64) -> String {
        self.bind(Sql::Integer(value))
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
    let mut params = VolumeParams::default();
    let sql = unplaceable_sql(plan, &mut params);
    let unplaceable: bool =
        conn.query_row(&sql, params_from_iter(params.params), |row| row.get(0))?;
    Ok(!unplaceable)
}

/// The statement of a plan's buckets (`minutes_per_bucket` minutes each).
pub(super) fn buckets_statement(plan: &VolumePlan, minutes_per_bucket: i64) -> (String, Vec<Sql>) {
    let mut params = VolumeParams::default();
    let sql = buckets_sql(plan, minutes_per_bucket, &mut params);
    (sql, params.params)
}

/// The rows of `sql`, each read by `read`.
fn rows_of<T>(
    conn: &Connection,
    sql: &str,
    params: Vec<Sql>,
    read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map(params_from_iter(params), read)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `(bucket, events)` of a plan.
pub(super) fn buckets(
    conn: &Connection,
    plan: &VolumePlan,
    minutes_per_bucket: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let (sql, params) = buckets_statement(plan, minutes_per_bucket);
    rows_of(conn, &sql, params, |row| Ok((row.get(0)?, row.get(1)?)))
}

/// `(value, bucket, events)` of a plan, for every value of `field`.
pub(super) fn value_buckets(
    conn: &Connection,
    plan: &VolumePlan,
    field: VolumeField,
    minutes_per_bucket: i64,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    let mut params = VolumeParams::default();
    let sql = value_buckets_sql(plan, field, minutes_per_bucket, &mut params);
    rows_of(conn, &sql, params.params, |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    })
}

/// `(value, events)` of a plan, for every value of `field`.
pub(super) fn values(
    conn: &Connection,
    plan: &VolumePlan,
    field: VolumeField,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut params = VolumeParams::default();
    let sql = values_sql(plan, field, &mut params);
    rows_of(conn, &sql, params.params, |row| {
        Ok((row.get(0)?, row.get(1)?))
    })
}
