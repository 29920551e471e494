//! Turns the operator's services.yaml and budgets.yaml into validated, versioned platform state,
//! and keeps it so.
//!
//! Routes, crons, bindings and keys: docs/workers/sync-config.md.

mod files;
mod state;
mod sync;

use platform_kv::PlatformWorker;
use platform_worker::bindings::{Binding, ADMIN_TOKEN, PLATFORM_CACHE, PLATFORM_DB};
use platform_worker::response::{json_response, respond};
use platform_worker::{auth, ApiError, WorkerInfo};
use worker::{
    event, Context, Env, MessageBatch, MessageExt, Method, Request, Response, Result, ScheduleContext,
    ScheduledEvent,
};

const INFO: WorkerInfo = WorkerInfo {
    id: PlatformWorker::SyncConfig,
    version: env!("CARGO_PKG_VERSION"),
    bindings: &[
        Binding::Kv(PLATFORM_CACHE),
        Binding::D1(PLATFORM_DB),
        Binding::Secret(ADMIN_TOKEN),
        Binding::Queue(sync::SYNC_QUEUE),
    ],
    optional: &[],
};

/// The daily drift check (wrangler/sync-config.toml `[triggers] crons`).
const DRIFT_CRON: &str = "17 4 * * *";

#[event(start)]
fn start() {
    platform_worker::init();
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let route = (req.method(), req.path());
    let admin = |req: &Request| auth::require_admin(req, &env);
    match (route.0, route.1.as_str()) {
        (Method::Post, "/sync") => {
            if let Err(refused) = admin(&req) {
                return refused.into_response();
            }
            let dry_run = req.url().is_ok_and(|url| {
                url.query_pairs()
                    .any(|(k, v)| k == "dry_run" && matches!(v.as_ref(), "1" | "true"))
            });
            let body = match req.text().await {
                Ok(body) => body,
                Err(_) => return ApiError::bad_request("the body is not text").into_response(),
            };
            match sync::post(&env, &body, dry_run).await {
                Ok(answer) => json_response(answer.status, &answer.body),
                Err(error) => error.into_response(),
            }
        }
        (Method::Get, "/config") => match admin(&req) {
            Ok(()) => respond(sync::current(&env).await),
            Err(refused) => refused.into_response(),
        },
        (Method::Get, "/history") => match admin(&req) {
            Ok(()) => respond(sync::history(&env).await),
            Err(refused) => refused.into_response(),
        },
        _ => platform_worker::common_routes(&INFO, &req, &env),
    }
}

/// Each message asks for the next run of an apply. The batch is settled message by message and
/// the handler never fails (a failing queue handler panics in workers-rs).
#[event(queue)]
async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> Result<()> {
    let mut resumed = std::collections::BTreeSet::new();
    for message in batch.raw_iter() {
        let Some(body) = continue_message(&message.body()) else {
            worker::console_error!("sync queue: unreadable message {}; dropped", message.id());
            message.ack();
            continue;
        };
        // Several messages for one apply need one run.
        if !resumed.insert(body.history_id) {
            message.ack();
            continue;
        }
        match sync::resume(&env, &body).await {
            Ok(()) => message.ack(),
            Err(error) => {
                worker::console_error!("sync queue: run failed: {}", error.message);
                message.retry();
            }
        }
    }
    Ok(())
}

/// A message body as sent by [`sync`], or `None` for anything else.
fn continue_message(body: &wasm_bindgen::JsValue) -> Option<sync::Continue> {
    let text = worker::js_sys::JSON::stringify(body).ok()?.as_string()?;
    serde_json::from_str(&text).ok()
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match event.cron().as_str() {
        DRIFT_CRON => {
            if let Err(error) = sync::check_drift(&env).await {
                worker::console_error!("drift check failed: {}", error.message);
            }
        }
        other => worker::console_warn!("no job is scheduled for cron {other:?}"),
    }
}
