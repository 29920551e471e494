//! Handler runs stamped in D1 (`handler_runs`), read back for `/health` and for alerts on a
//! handler that stopped running or keeps failing.

use std::cell::RefCell;
use std::collections::BTreeMap;

use platform_core::handlers::{assess, describe, Condition, HandlerRun, HandlerSpec};
use platform_core::time::iso8601;
use platform_kv::PlatformWorker;
use serde::{Deserialize, Serialize};
use worker::{D1Database, D1PreparedStatement};

use crate::d1;
use crate::response::ApiError;

const STAMP: &str =
    "INSERT INTO handler_runs (worker, handler, last_run_at, last_ok_at, last_error, last_error_at, \
     consecutive_failures) VALUES (?1, ?2, ?3, CASE WHEN ?4 IS NULL THEN ?3 END, ?4, \
     CASE WHEN ?4 IS NULL THEN NULL ELSE ?3 END, CASE WHEN ?4 IS NULL THEN 0 ELSE 1 END) \
     ON CONFLICT (worker, handler) DO UPDATE SET last_run_at = excluded.last_run_at, \
     last_ok_at = coalesce(excluded.last_ok_at, last_ok_at), \
     last_error = coalesce(excluded.last_error, last_error), \
     last_error_at = coalesce(excluded.last_error_at, last_error_at), \
     consecutive_failures = CASE WHEN excluded.last_error IS NULL THEN 0 ELSE consecutive_failures + 1 END";

/// The statement recording one run of `handler`: `error` is why it failed, `None` when it did its
/// job. Run it in the batch the handler already sends when it has one.
pub fn stamp(
    db: &D1Database,
    worker: PlatformWorker,
    handler: &str,
    error: Option<&str>,
    now: u64,
) -> Result<D1PreparedStatement, ApiError> {
    d1::statement(
        db,
        STAMP,
        &[
            d1::text(worker.script_name()),
            d1::text(handler),
            d1::ms(now),
            d1::optional_text(error),
        ],
    )
}

/// How often a busy event handler (queue, tail) stamps a successful run, per isolate.
pub const BUSY_STAMP_EVERY_MS: u64 = 60_000;

thread_local! {
    static STAMPED_AT: RefCell<BTreeMap<&'static str, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// The stamp of a successful run of a handler that runs many times a minute, when one is due:
/// at most one per [`BUSY_STAMP_EVERY_MS`] per isolate, to send with the handler's own D1 call.
pub fn busy_stamp(
    db: &D1Database,
    worker: PlatformWorker,
    handler: &'static str,
    now: u64,
) -> Option<D1PreparedStatement> {
    let last = STAMPED_AT.with(|s| s.borrow().get(handler).copied().unwrap_or(0));
    if now.saturating_sub(last) < BUSY_STAMP_EVERY_MS {
        return None;
    }
    let statement = stamp(db, worker, handler, None, now).ok()?;
    STAMPED_AT.with(|s| s.borrow_mut().insert(handler, now));
    Some(statement)
}

/// Records one run on its own. A stamp that cannot be written is logged, never raised: the
/// handler's work must not fail because its bookkeeping did. After a failure, this isolate's next
/// success of a busy handler stamps at once, so the failure does not linger.
pub async fn record(db: &D1Database, worker: PlatformWorker, handler: &str, error: Option<&str>, now: u64) {
    if error.is_some() {
        STAMPED_AT.with(|s| s.borrow_mut().remove(handler));
    }
    let result = match stamp(db, worker, handler, error, now) {
        Ok(statement) => d1::batch(db, vec![statement]).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        worker::console_warn!("handler run of {handler} not recorded: {}", e.message);
    }
}

#[derive(Deserialize)]
struct Row {
    handler: String,
    last_run_at: f64,
    last_ok_at: Option<f64>,
    last_error: Option<String>,
    last_error_at: Option<f64>,
    consecutive_failures: f64,
}

/// The worker's recorded runs, by handler name.
pub async fn read(db: &D1Database, worker: PlatformWorker) -> Result<BTreeMap<String, HandlerRun>, ApiError> {
    let rows: Vec<Row> = d1::query(
        db,
        "reading handler runs",
        "SELECT handler, last_run_at, last_ok_at, last_error, last_error_at, consecutive_failures \
         FROM handler_runs WHERE worker = ?1",
        &[d1::text(worker.script_name())],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let run = HandlerRun {
                last_run_at: r.last_run_at as u64,
                last_ok_at: r.last_ok_at.map(|v| v as u64),
                last_error: r.last_error,
                last_error_at: r.last_error_at.map(|v| v as u64),
                consecutive_failures: r.consecutive_failures as u64,
            };
            (r.handler, run)
        })
        .collect())
}

/// A handler as `/health` shows it.
#[derive(Debug, Serialize)]
pub struct HandlerReport {
    pub name: &'static str,
    pub condition: Condition,
    pub last_run_at: Option<String>,
    pub last_ok_at: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: u64,
    /// What is wrong, when something is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The worker's handlers for `/health`, and the warnings their problems make. A database that
/// cannot be read is a warning too, never a failed health check.
pub async fn health(
    db: &D1Database,
    worker: PlatformWorker,
    specs: &[HandlerSpec],
    now: u64,
) -> (Vec<HandlerReport>, Vec<String>) {
    match read(db, worker).await {
        Ok(runs) => {
            let handlers = report(specs, &runs, now);
            let warnings = handlers.iter().filter_map(|h| h.problem.clone()).collect();
            (handlers, warnings)
        }
        Err(error) => (
            Vec::new(),
            vec![format!("handler runs unreadable: {}", error.message)],
        ),
    }
}

/// Every declared handler with its condition, in declaration order.
pub fn report(specs: &[HandlerSpec], runs: &BTreeMap<String, HandlerRun>, now: u64) -> Vec<HandlerReport> {
    specs
        .iter()
        .map(|spec| {
            let run = runs.get(spec.name);
            HandlerReport {
                name: spec.name,
                condition: assess(spec, run, now),
                last_run_at: run.map(|r| iso8601(r.last_run_at)),
                last_ok_at: run.and_then(|r| r.last_ok_at).map(iso8601),
                last_error: run.and_then(|r| r.last_error.clone()),
                consecutive_failures: run.map_or(0, |r| r.consecutive_failures),
                problem: describe(spec, run, now),
            }
        })
        .collect()
}
