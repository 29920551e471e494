//! sync-config's state (wrangler/migrations/0003_sync_config.sql): the config history and the
//! progress of each apply, the record of the KV keys written, the daily drift checks, and the rows
//! a config derives ([`registry`]: the settings budgets.yaml manages, projects and features).
//!
//! Rows are written in bulk with one bound JSON array per statement (`json_each`), so an apply
//! of thousands of rows stays a handful of statements and far from D1's 100 bound parameters.

pub mod registry;

use platform_core::sorted::CollectSorted;
use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::db::{decode, Db};
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::{Table, CONFIG_HISTORY, DRIFT_CHECKS, SYNCED_KV_KEYS};
use crate::value::Value;

pub use registry::{
    current_rows, write_rows, CurrentRows, FeatureRow, ProjectRow, RowWrites, SettingRow, Writes,
};

/// Rows per bound JSON array: well under D1's 1 MB per value.
pub const ROWS_PER_STATEMENT: usize = 500;

/// Items bound as one JSON array: one text parameter, however many items.
fn json_array<'a, T: 'a>(items: impl IntoIterator<Item = &'a T>, item: impl Fn(&T) -> Json) -> Value {
    Value::Text(Json::Array(items.into_iter().map(item).collect()).to_string())
}

/// Keys bound as one JSON array of strings.
fn key_array(keys: &[String]) -> Value {
    json_array(keys, |key| Json::String(key.clone()))
}

/// `sql` once per [`ROWS_PER_STATEMENT`] items: `?1` is the chunk as a JSON array, `?2`… are
/// `rest`.
fn chunked<T>(
    table: &'static Table,
    sql: &'static str,
    items: &[T],
    item: impl Fn(&T) -> Json,
    rest: &[Value],
) -> Vec<Statement> {
    items
        .chunks(ROWS_PER_STATEMENT)
        .map(|chunk| {
            let mut params = vec![json_array(chunk, &item)];
            params.extend_from_slice(rest);
            Statement::write(table, sql, params)
        })
        .collect()
}

/// `DELETE FROM table WHERE column IN (?1 as a JSON array)`, chunked.
fn delete_keys(table: &'static Table, sql: &'static str, keys: &[String]) -> Vec<Statement> {
    keys.chunks(ROWS_PER_STATEMENT)
        .map(|chunk| Statement::write(table, sql, vec![key_array(chunk)]))
        .collect()
}

/// One applied config (`document` is absent from [`earlier`]'s rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub id: u64,
    /// The hash of the normalised document.
    pub version: String,
    pub applied_at: u64,
    /// JSON: counts describing the config and its plan.
    pub summary: String,
    /// JSON: the normalised config.
    pub document: Option<String>,
    pub kv_total: u64,
    pub kv_done: u64,
    pub runs: u64,
    pub completed_at: Option<u64>,
}

impl FromRow for HistoryRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            id: row.get("id")?,
            version: row.get("version")?,
            applied_at: row.get("applied_at")?,
            summary: row.get("summary")?,
            document: row.get("document")?,
            kv_total: row.get("kv_total")?,
            kv_done: row.get("kv_done")?,
            runs: row.get("runs")?,
            completed_at: row.get("completed_at")?,
        })
    }
}

/// The config applied last, with its document.
pub async fn latest<S: Sql>(db: &Db<S>) -> Result<Option<HistoryRow>, DbError> {
    db.first(
        "reading the current config",
        Statement::read(
            "SELECT id, version, applied_at, document, summary, kv_total, kv_done, runs, completed_at \
             FROM config_history ORDER BY id DESC LIMIT 1",
            Vec::new(),
        ),
    )
    .await
}

/// The configs applied before the current one, newest first, without their documents.
pub async fn earlier<S: Sql>(db: &Db<S>, limit: u32) -> Result<Vec<HistoryRow>, DbError> {
    db.rows(
        "reading the config history",
        Statement::read(
            "SELECT id, version, applied_at, summary, kv_total, kv_done, runs, completed_at FROM config_history \
             WHERE id < (SELECT MAX(id) FROM config_history) ORDER BY id DESC LIMIT ?1",
            vec![limit.into()],
        ),
    )
    .await
}

/// A config about to be applied, as its history row records it.
#[derive(Debug, Clone, Copy)]
pub struct NewVersion<'a> {
    pub version: &'a str,
    pub applied_at: u64,
    pub document: &'a str,
    pub summary: &'a str,
    /// KV operations its plan makes.
    pub kv_total: u64,
    /// The id of the latest config when this one was planned (`None`: there was none).
    pub replaces: Option<u64>,
}

/// How long an unfinished apply holds off the next one: its runs write KV from its plan, and a
/// second apply planned meanwhile would leave a mix of both.
pub const APPLY_LEASE_MS: u64 = 5 * 60_000;

/// Records a newly applied config, nothing done yet, and returns its id; or `None`, writing
/// nothing, when another config was recorded since it was planned or the latest one is still
/// being applied (for [`APPLY_LEASE_MS`]): the caller is told to retry. One statement, so two
/// applies at the same moment cannot both pass.
pub async fn record_version<S: Sql>(db: &Db<S>, new: NewVersion<'_>) -> Result<Option<u64>, DbError> {
    struct Id(u64);
    impl FromRow for Id {
        fn from_row(row: &Row) -> Result<Self, String> {
            row.get("id").map(Self)
        }
    }
    let statement = Statement::write(
        &CONFIG_HISTORY,
        "INSERT INTO config_history (version, applied_at, document, summary, kv_total, kv_done, runs) \
         SELECT ?1, ?2, ?3, ?4, ?5, 0, 0 WHERE (SELECT MAX(id) FROM config_history) IS ?6 \
         AND NOT EXISTS (SELECT 1 FROM config_history WHERE id = ?6 AND completed_at IS NULL AND applied_at > ?7) \
         RETURNING id",
        vec![
            new.version.into(),
            new.applied_at.into(),
            new.document.into(),
            new.summary.into(),
            new.kv_total.into(),
            new.replaces.into(),
            new.applied_at.saturating_sub(APPLY_LEASE_MS).into(),
        ],
    );
    Ok(db
        .first::<Id>("recording the config", statement)
        .await?
        .map(|Id(id)| id))
}

/// Keys written to KV (key, digest of the value written), recorded at `now`.
pub fn record_keys(written: &[(String, String)], now: u64) -> Vec<Statement> {
    chunked(
        &SYNCED_KV_KEYS,
        "INSERT INTO synced_kv_keys (key, digest, written_at) \
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?2 FROM json_each(?1) WHERE true \
         ON CONFLICT(key) DO UPDATE SET digest = excluded.digest, written_at = excluded.written_at",
        written,
        |(key, digest)| Json::Array(vec![Json::String(key.clone()), Json::String(digest.clone())]),
        &[now.into()],
    )
}

/// Keys no longer in KV as sync-config wrote them (deleted, or drifted).
pub fn forget_keys(keys: &[String]) -> Vec<Statement> {
    delete_keys(
        &SYNCED_KV_KEYS,
        "DELETE FROM synced_kv_keys WHERE key IN (SELECT value FROM json_each(?1))",
        keys,
    )
}

/// A run's progress on config `id`: `done` more KV operations, one more run, and complete at
/// `now` or not.
pub fn advance(id: u64, done: u64, complete: bool, now: u64) -> Statement {
    Statement::write(
        &CONFIG_HISTORY,
        "UPDATE config_history SET kv_done = kv_done + ?2, runs = runs + 1, \
         completed_at = CASE WHEN ?3 = 1 THEN ?4 ELSE NULL END WHERE id = ?1",
        vec![id.into(), done.into(), complete.into(), now.into()],
    )
}

/// Config `id` has `keys` more KV operations to make: its apply is open again.
pub fn reopen(id: u64, keys: u64) -> Statement {
    Statement::write(
        &CONFIG_HISTORY,
        "UPDATE config_history SET kv_total = kv_total + ?2, completed_at = NULL WHERE id = ?1",
        vec![id.into(), keys.into()],
    )
}

/// Records what a run did, in one transaction: the keys written and deleted, and the config's
/// progress.
pub async fn record_run<S: Sql>(
    db: &Db<S>,
    id: u64,
    written: &[(String, String)],
    deleted: &[String],
    now: u64,
    complete: bool,
) -> Result<(), DbError> {
    let mut statements = record_keys(written, now);
    statements.extend(forget_keys(deleted));
    let done = (written.len() + deleted.len()) as u64;
    statements.push(advance(id, done, complete, now));
    db.batch("recording the run", statements).await.map(drop)
}

/// Forgets drifted keys, so that the next run writes them again, and reopens config `id`'s
/// progress for them, in one transaction.
pub async fn forget_drift<S: Sql>(db: &Db<S>, id: u64, keys: &[String]) -> Result<(), DbError> {
    let mut statements = forget_keys(keys);
    statements.push(reopen(id, keys.len() as u64));
    db.batch("forgetting drifted keys", statements).await.map(drop)
}

/// The statement reading the record of written keys.
fn written_statement() -> Statement {
    Statement::read("SELECT key, digest FROM synced_kv_keys", Vec::new())
}

/// One written key and the digest of its value.
struct WrittenKey {
    key: String,
    digest: String,
}

impl FromRow for WrittenKey {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            key: row.get("key")?,
            digest: row.get("digest")?,
        })
    }
}

fn written_map(rows: Vec<WrittenKey>) -> BTreeMap<String, String> {
    rows.into_iter().map(|row| (row.key, row.digest)).collect_map()
}

/// What sync-config has written to KV: key → digest.
pub async fn written<S: Sql>(db: &Db<S>) -> Result<BTreeMap<String, String>, DbError> {
    db.rows("reading the written keys", written_statement())
        .await
        .map(written_map)
}

/// Everything a plan is made against, in one round trip: the written keys (key → digest) and the
/// rows a config derives that D1 holds now.
pub async fn recorded<S: Sql>(db: &Db<S>) -> Result<(BTreeMap<String, String>, CurrentRows), DbError> {
    const CONTEXT: &str = "reading the recorded state";
    let mut statements = vec![written_statement()];
    statements.extend(registry::current_statements());
    let outcomes = db.batch(CONTEXT, statements).await?;
    let (first, rest) = outcomes
        .split_first()
        .ok_or_else(|| DbError::backend(CONTEXT, "the database returned no result"))?;
    let written = written_map(decode(CONTEXT, first)?);
    Ok((written, registry::current_of(CONTEXT, rest)?))
}

/// One daily drift check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftRow {
    pub checked_at: u64,
    pub version: String,
    /// Written keys checked.
    pub checked: u64,
    /// JSON array of the keys repaired, each with why.
    pub repaired: String,
}

impl FromRow for DriftRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            checked_at: row.get("checked_at")?,
            version: row.get("version")?,
            checked: row.get("checked")?,
            repaired: row.get("repaired")?,
        })
    }
}

/// Records a drift check (a second one at the same millisecond replaces the first).
pub fn drift_check(row: &DriftRow) -> Statement {
    Statement::write(
        &DRIFT_CHECKS,
        "INSERT OR REPLACE INTO drift_checks (checked_at, version, checked, repaired) VALUES (?1, ?2, ?3, ?4)",
        vec![
            row.checked_at.into(),
            row.version.as_str().into(),
            row.checked.into(),
            row.repaired.as_str().into(),
        ],
    )
}

pub async fn record_drift_check<S: Sql>(db: &Db<S>, row: &DriftRow) -> Result<(), DbError> {
    db.run("recording the drift check", drift_check(row))
        .await
        .map(drop)
}

pub async fn last_drift_check<S: Sql>(db: &Db<S>) -> Result<Option<DriftRow>, DbError> {
    db.first(
        "reading the last drift check",
        Statement::read(
            "SELECT checked_at, version, checked, repaired FROM drift_checks ORDER BY checked_at DESC LIMIT 1",
            Vec::new(),
        ),
    )
    .await
}
