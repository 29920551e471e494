//! Handler runs stamped in D1 (`handler_runs`), read back for `/health` and for alerts on a
//! handler that stopped running or keeps failing.

use std::collections::BTreeMap;

use platform_core::handlers::{assess, describe, Condition, HandlerRun, HandlerSpec};
use platform_core::time::iso8601;
use platform_db::{Db, Sql, Statement};
use platform_kv::IsolateCache;
use serde::Serialize;

pub use platform_db::handlers::stamp;

/// How often a busy event handler (queue, tail) stamps a successful run, per isolate.
pub const BUSY_STAMP_EVERY_MS: u64 = 60_000;

thread_local! {
    /// The handlers this isolate stamped within the last [`BUSY_STAMP_EVERY_MS`].
    static STAMPED: IsolateCache<&'static str, ()> = const { IsolateCache::new(BUSY_STAMP_EVERY_MS, 64) };
}

/// The stamp of a successful run of a handler that runs many times a minute, when one is due:
/// at most one per [`BUSY_STAMP_EVERY_MS`] per isolate, to send with the handler's own D1 call.
pub fn busy_stamp<S: Sql>(db: &Db<S>, handler: &'static str, now: u64) -> Option<Statement> {
    if STAMPED.with(|s| s.get(&handler, now)).is_some() {
        return None;
    }
    STAMPED.with(|s| s.put(handler, (), now));
    Some(stamp(db.worker(), handler, None, now))
}

/// Records one run on its own. A stamp that cannot be written is logged, never raised: the
/// handler's work must not fail because its bookkeeping did. After a failure, this isolate's next
/// success of a busy handler stamps at once, so the failure does not linger.
pub async fn record<S: Sql>(db: &Db<S>, handler: &'static str, error: Option<&str>, now: u64) {
    if error.is_some() {
        STAMPED.with(|s| s.invalidate(&handler));
    }
    let statement = stamp(db.worker(), handler, error, now);
    if let Err(e) = db.run("recording a handler run", statement).await {
        worker::console_warn!("handler run of {handler} not recorded: {e}");
    }
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
pub async fn health<S: Sql>(
    db: &Db<S>,
    specs: &[HandlerSpec],
    now: u64,
) -> (Vec<HandlerReport>, Vec<String>) {
    match platform_db::handlers::runs(db, db.worker()).await {
        Ok(runs) => {
            let handlers = report(specs, &runs, now);
            let warnings = handlers.iter().filter_map(|h| h.problem.clone()).collect();
            (handlers, warnings)
        }
        Err(error) => (Vec::new(), vec![format!("handler runs unreadable: {error}")]),
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
