//! The collector watching itself: the skeleton stamps every handler's runs, and the `*/15`
//! upkeep alerts on a handler that stopped running or keeps failing, delivers the collector's
//! pending alerts and applies the retention of its swept tables.

use platform_core::alert::{AlertSubject, Severity};
use platform_core::handlers::Condition;
use platform_kv::PlatformWorker;
use platform_worker::alerts::{self, Alert, Delivery};
use platform_worker::handlers::{self, HandlerReport};
use platform_worker::{ApiError, PlatformDb};
use serde::Serialize;
use worker::Env;

use crate::{DIGEST, UPKEEP, WORKER};

const ID: PlatformWorker = PlatformWorker::ErrorCollector;
/// How often a handler still in trouble is recalled.
const HANDLER_ALERT_QUIET_MS: u64 = 6 * 3_600_000;

async fn report(db: &PlatformDb, now: u64) -> Result<Vec<HandlerReport>, ApiError> {
    let runs = platform_db::handlers::runs(db, ID).await?;
    Ok(handlers::report(&WORKER.specs(), &runs, now))
}

#[derive(Debug, Default, Serialize)]
pub struct UpkeepReport {
    pub problems: Vec<String>,
    pub alerts_raised: u32,
    /// The day's digest, when its cron run failed and this run filed it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_retried: Option<crate::digest::DigestReport>,
    pub delivery: Delivery,
    pub errors: Vec<String>,
}

/// Why an upkeep run failed, if it did.
pub fn failure(report: &UpkeepReport) -> Option<String> {
    (!report.errors.is_empty()).then(|| report.errors.join("; "))
}

/// Runs a failed digest again, raises an alert per handler in trouble (the severity is part of
/// the subject, so a handler going from failing to stale is alerted again at once; the upkeep is
/// running, so it is not one of them), then delivers pending alerts.
pub async fn upkeep(env: &Env, now: u64) -> UpkeepReport {
    let mut upkeep = UpkeepReport::default();
    let (db, store) = match (platform_worker::db(env, ID), platform_worker::store(env, ID)) {
        (Ok(db), Ok(store)) => (db, store),
        (Err(error), _) | (_, Err(error)) => {
            upkeep.errors.push(error.log_message());
            return upkeep;
        }
    };
    let mut handlers = report(&db, now).await;
    let digest_failed = handlers.as_ref().is_ok_and(|all| {
        all.iter()
            .any(|h| h.name == DIGEST.name && h.condition == Condition::Failing)
    });
    if digest_failed {
        // Filed per project once a day: running it again files only what is still missing.
        let retried = crate::digest::scheduled(env, now).await;
        let failure = crate::digest::failure(&retried);
        WORKER
            .stamp(&DIGEST)
            .record_in(&db, failure.as_deref(), now)
            .await;
        upkeep.digest_retried = Some(retried);
        handlers = report(&db, now).await;
    }
    match handlers {
        Ok(handlers) => {
            for handler in handlers.into_iter().filter(|h| h.name != UPKEEP.name) {
                let (Some(problem), true) = (handler.problem, handler.condition.is_problem()) else {
                    continue;
                };
                let severity = if handler.condition == Condition::Stale {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                let alert = Alert {
                    subject: AlertSubject::Handler {
                        severity,
                        handler: handler.name,
                    },
                    text: format!(":warning: Error collector: {problem}."),
                };
                match alerts::raise(&db, &alert, HANDLER_ALERT_QUIET_MS, now).await {
                    Ok(raised) => upkeep.alerts_raised += u32::from(raised),
                    Err(error) => upkeep.errors.push(error.log_message()),
                }
                upkeep.problems.push(problem);
            }
        }
        Err(error) => upkeep.errors.push(error.log_message()),
    }
    match alerts::deliver_pending(env, &store, &db).await {
        Ok(delivery) => upkeep.delivery = delivery,
        Err(error) => upkeep.errors.push(error.log_message()),
    }
    // Webhook deliveries older than their retention (the only swept table the collector owns).
    if let Err(error) = platform_db::retention::sweep(&db, now).await {
        upkeep.errors.push(error.to_string());
    }
    upkeep
}
