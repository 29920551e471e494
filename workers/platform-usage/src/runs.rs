//! The handlers platform-usage stamps in `handler_runs`, for `/health` and the platform's watch.

use platform_core::handlers::HandlerSpec;
use platform_db::{Db, Sql, Statement};
use platform_worker::handlers;
use worker::Env;

pub const TELEMETRY: HandlerSpec = HandlerSpec::event_driven("telemetry");
pub const DEAD_LETTERS: HandlerSpec = HandlerSpec::event_driven("dead-letters");
pub const SWEEP: HandlerSpec = HandlerSpec::every_minutes("sweep", 5);
pub const RECONCILE: HandlerSpec = HandlerSpec::every_minutes("reconcile", 60);
pub const HANDLERS: &[HandlerSpec] = &[TELEMETRY, DEAD_LETTERS, SWEEP, RECONCILE];

/// Records a run of `handler`, failed when `error` says why. Without the database only the stamp
/// is lost.
pub async fn record(env: &Env, handler: &HandlerSpec, error: Option<&str>, now: u64) {
    if let Ok(db) = platform_worker::db(env, crate::INFO.id) {
        handlers::record(&db, handler.name, error, now).await;
    }
}

/// A successful telemetry batch's stamp, when one is due, for the batch's own transaction.
pub fn telemetry_stamp<S: Sql>(db: &Db<S>, now: u64) -> Option<Statement> {
    handlers::busy_stamp(db, TELEMETRY.name, now)
}
