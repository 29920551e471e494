//! Tail consumer of application Workers: every error becomes one well-kept GitHub issue.
//!
//! Routes, crons, bindings, keys and the tail wiring: docs/workers/error-collector.md.

mod admin;
mod context;
mod digest;
mod gap;
mod github;
mod health;
mod issues;
mod ledger;
mod tail;
mod watch;
mod webhook;

use platform_kv::PlatformWorker;
use platform_worker::bindings::{Binding, ADMIN_TOKEN, PLATFORM_CACHE, PLATFORM_DB};
use platform_worker::{alerts, auth, response, ApiError, WorkerInfo};
use serde_json::Value;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{event, Context, Env, Method, Request, Response, Result, ScheduleContext, ScheduledEvent};

/// The cron that retries failed or deferred issue creations, then watches the collector's own
/// health and delivers its alerts.
const RETRY_CRON: &str = "*/15 * * * *";

const INFO: WorkerInfo = WorkerInfo {
    id: PlatformWorker::ErrorCollector,
    version: env!("CARGO_PKG_VERSION"),
    bindings: &[
        Binding::Kv(PLATFORM_CACHE),
        Binding::D1(PLATFORM_DB),
        Binding::Secret(ADMIN_TOKEN),
        Binding::Var(context::HOURLY_LIMIT_VAR),
        Binding::Var(context::DAILY_LIMIT_VAR),
        Binding::Var(context::ACCOUNT_DAILY_LIMIT_VAR),
    ],
    optional: &[
        (
            Binding::Secret(github::GITHUB_TOKEN),
            "errors are recorded in D1 but no GitHub issue is filed",
        ),
        (
            Binding::Secret(alerts::SLACK_WEBHOOK_URL),
            "the collector's alerts about itself (GitHub refusing the token, a handler gone quiet, the daily cap) wait in the outbox",
        ),
        (
            Binding::Secret(webhook::GITHUB_WEBHOOK_SECRET),
            "issues closed, reopened or muted on GitHub are noticed at their next milestone, not at once",
        ),
        (
            Binding::Var(context::DEFAULT_REPOSITORY_VAR),
            "errors of unmapped scripts are recorded but not filed",
        ),
    ],
};

fn now() -> u64 {
    worker::Date::now().as_millis()
}

#[event(start)]
fn start() {
    platform_worker::init();
}

/// The tail handler's body, called by `tail.mjs` (workers-rs has no tail event). Never fails
/// the invocation: what went wrong is in the logged report.
#[wasm_bindgen]
pub async fn tail_events(events: JsValue, env: Env) -> std::result::Result<(), JsValue> {
    log(&tail::batch(events, &env, now()).await);
    Ok(())
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if req.method() == Method::Get && segments == ["health"] {
        return health::respond(&INFO, &env, now()).await;
    }
    if segments == [""] {
        return platform_worker::common_routes(&INFO, &req, &env);
    }
    if req.method() == Method::Post && segments == ["github", "webhook"] {
        // Authenticated by GitHub's signature, not the admin token.
        return response::respond(webhook::receive(&mut req, &env, now()).await);
    }
    if let Err(refused) = auth::require_admin(&req, &env) {
        return refused.into_response();
    }
    let result: std::result::Result<Value, ApiError> = match (req.method(), segments.as_slice()) {
        (Method::Get, ["errors"]) => admin::list(&req, &env).await,
        (Method::Get, ["errors", fingerprint]) => admin::show(&env, fingerprint).await,
        (Method::Post, ["errors", fingerprint, action @ ("mute" | "unmute" | "resolve")]) => {
            admin::act(&env, fingerprint, action, now()).await
        }
        (Method::Post, ["gap-alerts"]) => match req.json::<gap::GapRequest>().await {
            Ok(request) => gap::file(&env, request, now()).await,
            Err(e) => Err(ApiError::bad_request(format!("invalid body: {e}"))),
        },
        _ => return platform_worker::common_routes(&INFO, &req, &env),
    };
    response::respond(result)
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let at = event.schedule() as u64;
    match event.cron().as_str() {
        RETRY_CRON => {
            log(&tail::retry(&env, at).await);
            log(&watch::upkeep(&env, at).await);
        }
        digest::DIGEST_CRON => log(&digest::scheduled(&env, at).await),
        other => worker::console_error!("no work is scheduled for cron {other:?}"),
    }
}

/// A handler's report, one JSON line.
fn log(report: &impl serde::Serialize) {
    worker::console_log!("{}", serde_json::to_string(report).unwrap_or_default());
}
