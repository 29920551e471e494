//! Handler runs (`handler_runs`): every cron, queue and tail handler stamps its runs, read back
//! for `/health` and for alerts on a handler that stopped running or keeps failing.

use std::collections::BTreeMap;

use platform_core::handlers::HandlerRun;
use platform_core::sorted::CollectSorted;
use platform_kv::PlatformWorker;

use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::HANDLER_RUNS;

/// The statement recording one run of `handler`: `error` is why it failed, `None` when it did its
/// job. Run it in the batch the handler already sends when it has one.
pub fn stamp(worker: PlatformWorker, handler: &str, error: Option<&str>, now: u64) -> Statement {
    Statement::write(
        &HANDLER_RUNS,
        "INSERT INTO handler_runs (worker, handler, last_run_at, last_ok_at, last_error, last_error_at, \
         consecutive_failures) VALUES (?1, ?2, ?3, CASE WHEN ?4 IS NULL THEN ?3 END, ?4, \
         CASE WHEN ?4 IS NULL THEN NULL ELSE ?3 END, CASE WHEN ?4 IS NULL THEN 0 ELSE 1 END) \
         ON CONFLICT (worker, handler) DO UPDATE SET last_run_at = excluded.last_run_at, \
         last_ok_at = coalesce(excluded.last_ok_at, last_ok_at), \
         last_error = coalesce(excluded.last_error, last_error), \
         last_error_at = coalesce(excluded.last_error_at, last_error_at), \
         consecutive_failures = CASE WHEN excluded.last_error IS NULL THEN 0 ELSE consecutive_failures + 1 END",
        vec![
            worker.script_name().into(),
            handler.into(),
            now.into(),
            error.into(),
        ],
    )
}

struct RunRow {
    handler: String,
    run: HandlerRun,
}

impl FromRow for RunRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            handler: row.get("handler")?,
            run: HandlerRun {
                last_run_at: row.get("last_run_at")?,
                last_ok_at: row.get("last_ok_at")?,
                last_error: row.get("last_error")?,
                last_error_at: row.get("last_error_at")?,
                consecutive_failures: row.get("consecutive_failures")?,
            },
        })
    }
}

/// A worker's recorded runs, by handler name.
pub async fn runs<S: Sql>(
    db: &Db<S>,
    worker: PlatformWorker,
) -> Result<BTreeMap<String, HandlerRun>, DbError> {
    let statement = Statement::read(
        "SELECT handler, last_run_at, last_ok_at, last_error, last_error_at, consecutive_failures \
         FROM handler_runs WHERE worker = ?1",
        vec![worker.script_name().into()],
    );
    let rows: Vec<RunRow> = db.rows("reading handler runs", statement).await?;
    Ok(rows.into_iter().map(|r| (r.handler, r.run)).collect_map())
}
