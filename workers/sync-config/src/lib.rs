//! Turns the operator's services.yaml and budgets.yaml into validated, versioned platform state,
//! and keeps it so.
//!
//! Routes, crons, bindings and keys: docs/workers/sync-config.md.

mod files;
mod sync;

use platform_kv::PlatformWorker;
use platform_worker::bindings::{Binding, ADMIN_TOKEN, PLATFORM_CACHE, PLATFORM_DB};
use platform_worker::skeleton::{ok, reply, Auth, Batch, Handler, LocalFuture, Outcome, Route, WorkerSpec};
use platform_worker::{ApiError, WorkerInfo};
use worker::{
    event, Context, Env, MessageBatch, MessageExt, Method, Request, Response, Result, ScheduleContext,
    ScheduledEvent,
};

/// The name of the queue that continues large applies, from the config (the producer binding is
/// [`sync::SYNC_QUEUE`]).
const SYNC_QUEUE_NAME_VAR: &str = "SYNC_QUEUE_NAME";

const INFO: WorkerInfo = WorkerInfo {
    id: PlatformWorker::SyncConfig,
    version: env!("CARGO_PKG_VERSION"),
    bindings: &[
        Binding::Kv(PLATFORM_CACHE),
        Binding::D1(PLATFORM_DB),
        Binding::Secret(ADMIN_TOKEN),
        Binding::Queue(sync::SYNC_QUEUE),
        Binding::Var(SYNC_QUEUE_NAME_VAR),
    ],
    optional: &[],
};

const ROUTES: &[Route] = &[
    Route::new(Method::Post, "/sync", Auth::Admin, |mut cx| {
        Box::pin(async move {
            let dry_run = cx.query_flag("dry_run");
            let content_type = cx.req.headers().get("Content-Type").ok().flatten();
            if content_type.is_some_and(|t| t.to_ascii_lowercase().contains("yaml")) {
                return Err(ApiError::new(415, files::YAML_HINT));
            }
            let body = cx.text(files::MAX_BODY_BYTES).await?;
            let answer = sync::post(&cx.env, &body, dry_run).await?;
            reply(answer.status, &answer.body)
        })
    }),
    Route::new(Method::Get, "/config", Auth::Admin, |cx| {
        Box::pin(async move { ok(&sync::current(&cx.env).await?) })
    }),
    Route::new(Method::Get, "/history", Auth::Admin, |cx| {
        Box::pin(async move { ok(&sync::history(&cx.env).await?) })
    }),
];

static WORKER: WorkerSpec = WorkerSpec {
    info: INFO,
    routes: ROUTES,
    handlers: &[
        // The daily drift check: derived keys missing or rewritten are written again.
        Handler::cron("drift", "17 4 * * *", |env, _| {
            Box::pin(async move { Outcome::of(sync::check_drift(&env).await) })
        }),
        Handler::queue("resume", SYNC_QUEUE_NAME_VAR, resume),
    ],
    unexpected_queue: None,
};

#[event(start)]
fn start() {
    platform_worker::init();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    WORKER.fetch(req, env).await
}

#[event(queue)]
async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> Result<()> {
    WORKER.queue(batch, env).await;
    Ok(())
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    WORKER.scheduled(event, env).await;
}

/// Each message asks for the next run of an apply. The batch is settled message by message; the
/// run fails when a message is retried.
fn resume(batch: Batch) -> LocalFuture<Outcome> {
    Box::pin(async move {
        let mut resumed = std::collections::BTreeSet::new();
        let mut failure = None;
        for message in batch.messages {
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
            match sync::resume(&batch.env, &body).await {
                Ok(()) => message.ack(),
                Err(error) => {
                    worker::console_error!("sync queue: run failed: {error}");
                    failure = Some(error.message);
                    message.retry();
                }
            }
        }
        Outcome::new(&(), failure)
    })
}

/// A message body as sent by [`sync`], or `None` for anything else.
fn continue_message(body: &wasm_bindgen::JsValue) -> Option<sync::Continue> {
    let text = worker::js_sys::JSON::stringify(body).ok()?.as_string()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod wiring {
    #[test]
    fn the_declaration_matches_the_wrangler_config() {
        let mismatches = platform_worker::skeleton::wiring::against_wrangler(&super::WORKER);
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }
}
