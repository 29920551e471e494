//! The sentinel watches this worker's `/health`; this worker watches the sentinel's crons, so
//! that neither can stop unnoticed: a stale or failing sentinel cron is a warning here.

use platform_core::handlers::describe;
use platform_kv::PlatformWorker;
use platform_worker::skeleton::Reply;
use platform_worker::ApiError;
use worker::Env;

use crate::WORKER;

/// `GET /health`: the common report, with the sentinel's crons among the warnings.
pub async fn health(env: &Env, now: u64) -> Reply {
    let mut health = WORKER.health(env, now).await;
    if let Ok(store) = crate::ingest::metered_store(env) {
        health
            .warnings
            .extend(crate::collect::health_warnings(env, &store, now).await);
    }
    if let Ok(db) = platform_worker::db(env, PlatformWorker::PlatformUsage) {
        match platform_db::handlers::runs(&db, PlatformWorker::Sentinel).await {
            Ok(runs) => health.warnings.extend(
                platform_sentinel::HANDLERS
                    .iter()
                    .filter_map(|spec| describe(spec, runs.get(spec.name), now))
                    .map(|problem| format!("platform-sentinel: {problem}")),
            ),
            Err(error) => health
                .warnings
                .push(format!("the sentinel's runs are unreadable: {error}")),
        }
    }
    health
        .respond()
        .map_err(|e| ApiError::internal("answering /health", e))
}
