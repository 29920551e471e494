//! Telemetry ingestion, budgets and circuit breakers, and the admin API.
//!
//! Routes, crons, bindings and keys: docs/workers/platform-usage.md.

mod admin;
mod broadcast;
mod context;
mod decide;
mod ingest;
mod runs;
mod settings;
mod sweep;

use platform_kv::PlatformWorker;
use platform_worker::bindings::{Binding, ADMIN_TOKEN, PLATFORM_CACHE, PLATFORM_DB};
use platform_worker::{alerts, auth, response, ApiError, WorkerInfo};
use serde_json::Value;
use worker::{
    event, Context, Env, MessageBatch, Method, Request, Response, Result, ScheduleContext, ScheduledEvent,
};

/// The names of the queues this worker consumes, from its config: dispatch never relies on a
/// name written in code.
const TELEMETRY_QUEUE_VAR: &str = "TELEMETRY_QUEUE";
const TELEMETRY_DLQ_VAR: &str = "TELEMETRY_DLQ";

const INFO: WorkerInfo = WorkerInfo {
    id: PlatformWorker::PlatformUsage,
    version: env!("CARGO_PKG_VERSION"),
    bindings: &[
        Binding::Kv(PLATFORM_CACHE),
        Binding::D1(PLATFORM_DB),
        Binding::Secret(ADMIN_TOKEN),
        Binding::Queue(admin::TELEMETRY_BINDING),
        Binding::Var(TELEMETRY_QUEUE_VAR),
        Binding::Var(TELEMETRY_DLQ_VAR),
    ],
    optional: &[(
        Binding::Secret(alerts::SLACK_WEBHOOK_URL),
        "alerts are kept pending, not delivered",
    )],
};

#[event(start)]
fn start() {
    platform_worker::init();
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if req.method() == Method::Get && segments == ["health"] {
        let now = worker::Date::now().as_millis();
        return platform_worker::health::respond_with_handlers(&INFO, &env, runs::HANDLERS, now).await;
    }
    if matches!(segments.as_slice(), ["health"]) || segments == [""] {
        return platform_worker::common_routes(&INFO, &req, &env);
    }
    if let Err(refused) = auth::require_admin(&req, &env) {
        return refused.into_response();
    }
    let query = |name: &str, default: u32, max: u32| -> std::result::Result<u32, ApiError> {
        let url = req.url().map_err(|e| ApiError::bad_request(e.to_string()))?;
        match url.query_pairs().find(|(key, _)| key == name) {
            None => Ok(default),
            Some((_, value)) => value
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("{name} must be a whole number from 1 to {max}"))
                }),
        }
    };
    let method = req.method();
    let result: std::result::Result<Value, ApiError> = match (method, segments.as_slice()) {
        (Method::Get, ["status"]) => admin::status(&env).await,
        (Method::Get, ["settings"]) => settings::get(&env).await.and_then(to_value),
        (Method::Put, ["settings"]) => match admin::body(&mut req).await {
            Ok(changes) => settings::put(&env, changes).await.and_then(to_value),
            Err(error) => Err(error),
        },
        (Method::Post, ["features", key, action @ ("disable" | "enable")]) => {
            let feature = admin::feature_key(key);
            match (feature, *action) {
                (Err(error), _) => Err(error),
                (Ok(feature), "disable") => match admin::body(&mut req).await {
                    Ok(body) => admin::disable_feature(&env, feature, body).await,
                    Err(error) => Err(error),
                },
                (Ok(feature), _) => admin::enable_feature(&env, feature).await,
            }
        }
        (Method::Get, ["features", key, "usage"]) => match (admin::feature_key(key), query("days", 7, 90)) {
            (Ok(feature), Ok(days)) => admin::feature_usage(&env, feature, days).await,
            (Err(error), _) | (_, Err(error)) => Err(error),
        },
        (Method::Post, ["projects", slug, action @ ("pause" | "resume")]) => match admin::project_id(slug) {
            Err(error) => Err(error),
            Ok(project) if *action == "pause" => match admin::body(&mut req).await {
                Ok(body) => admin::set_project(&env, project, Some(body)).await,
                Err(error) => Err(error),
            },
            Ok(project) => admin::set_project(&env, project, None).await,
        },
        (Method::Post, ["global-stop"]) => match admin::body(&mut req).await {
            Ok(body) => admin::global_stop(&env, body).await,
            Err(error) => Err(error),
        },
        (Method::Get, ["events"]) => match query("limit", 100, 1000) {
            Ok(limit) => admin::events(&env, limit).await,
            Err(error) => Err(error),
        },
        (Method::Get, ["dlq"]) => admin::dlq(&env).await,
        (Method::Post, ["dlq", id, action @ ("replay" | "discard")]) => {
            admin::resolve_dlq(&env, id, *action == "replay").await
        }
        _ => return platform_worker::common_routes(&INFO, &req, &env),
    };
    response::respond(result)
}

fn to_value<T: serde::Serialize>(value: T) -> std::result::Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal("encoding a response", e))
}

#[event(queue)]
async fn queue(batch: MessageBatch<Value>, env: Env, _ctx: Context) -> Result<()> {
    let queue = batch.queue();
    let messages: Vec<_> = batch.raw_iter().collect();
    let var = |name: &str| env.var(name).map(|v| v.to_string()).ok();
    let report = match (var(TELEMETRY_QUEUE_VAR), var(TELEMETRY_DLQ_VAR)) {
        (Some(telemetry), _) if queue == telemetry => ingest::telemetry(messages, &queue, &env).await,
        (Some(telemetry), Some(dlq)) if queue == dlq => {
            ingest::dead_letters(messages, &queue, &telemetry, &env).await
        }
        (telemetry, dlq) => {
            // A queue this worker was not configured for: keep every message for an operator.
            worker::console_error!("batch from unexpected queue {queue} ({TELEMETRY_QUEUE_VAR}={telemetry:?}, {TELEMETRY_DLQ_VAR}={dlq:?})");
            ingest::dead_letters(messages, &queue, telemetry.as_deref().unwrap_or("?"), &env).await
        }
    };
    worker::console_log!("{}", serde_json::to_string(&report).unwrap_or_default());
    // Every message was settled above: never hand an error to the runtime (it would retry the batch).
    Ok(())
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let now = event.schedule() as u64;
    let (handler, result) = match event.cron().as_str() {
        sweep::SWEEP => (runs::SWEEP, sweep::sweep(&env, now).await),
        sweep::RECONCILE => (runs::RECONCILE, sweep::reconcile(&env).await),
        other => {
            worker::console_error!("no work is scheduled for cron {other:?}");
            return;
        }
    };
    let failure = result.as_ref().err().map(|e| e.message.as_str());
    runs::record(&env, &handler, failure, now).await;
    match result {
        Ok(report) => worker::console_log!("{}", serde_json::to_string(&report).unwrap_or_default()),
        Err(error) => worker::console_error!("scheduled {}: {}", event.cron(), error.message),
    }
}
