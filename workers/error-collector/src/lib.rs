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
use platform_worker::skeleton::{ok, Auth, Cx, Handler, LocalFuture, Outcome, Reply, Route, WorkerSpec};
use platform_worker::{alerts, ApiError, WorkerInfo};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{
    event, Context, Env, MessageBatch, Method, Request, Response, Result, ScheduleContext, ScheduledEvent,
};

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
        Binding::Queue(tail::ERROR_EVENTS),
        Binding::Var(tail::ERROR_EVENTS_QUEUE_VAR),
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
            Binding::Service(platform_worker::notify::NOTIFICATIONS),
            "the collector's alerts about itself reach Slack, not the inboxes",
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

const ROUTES: &[Route] = &[
    Route::new(Method::Get, "/health", Auth::None, |cx| {
        Box::pin(async move {
            health::respond(&INFO, &cx.env, &WORKER.specs(), cx.now)
                .await
                .map_err(|e| ApiError::internal("answering /health", e))
        })
    }),
    Route::new(Method::Post, "/github/webhook", Auth::Signature, |mut cx| {
        Box::pin(async move { ok(&webhook::receive(&mut cx.req, &cx.env, cx.now).await?) })
    }),
    Route::new(Method::Get, "/errors", Auth::Admin, |cx| {
        Box::pin(async move { ok(&admin::list(&cx).await?) })
    }),
    Route::new(Method::Get, "/errors/:fingerprint", Auth::Admin, |cx| {
        Box::pin(async move { ok(&admin::show(&cx.env, cx.param("fingerprint")).await?) })
    }),
    Route::new(Method::Post, "/errors/:fingerprint/mute", Auth::Admin, |cx| {
        act(cx, "mute")
    }),
    Route::new(Method::Post, "/errors/:fingerprint/unmute", Auth::Admin, |cx| {
        act(cx, "unmute")
    }),
    Route::new(Method::Post, "/errors/:fingerprint/resolve", Auth::Admin, |cx| {
        act(cx, "resolve")
    }),
    Route::new(Method::Get, "/scripts", Auth::Admin, |cx| {
        Box::pin(async move { ok(&admin::scripts(&cx.env).await?) })
    }),
    Route::new(Method::Post, "/gap-alerts", Auth::Admin, |mut cx| {
        Box::pin(async move {
            let request: gap::GapRequest = cx.json().await?;
            ok(&gap::file(&cx.env, request, cx.now).await?)
        })
    }),
];

fn act(cx: Cx, action: &'static str) -> LocalFuture<Reply> {
    Box::pin(async move { ok(&admin::act(&cx.env, cx.param("fingerprint"), action, cx.now).await?) })
}

/// Stamps itself: a successful batch's stamp rides in the batch's own D1 call.
const TAIL: Handler = Handler::tail("tail", |batch| {
    Box::pin(
        async move { Outcome::report(&tail::batch(batch.events, &batch.env, batch.now, batch.stamp).await) },
    )
})
.stamps_itself();

/// Counts a tail batch could not record (D1 refused, or past one invocation's write budget).
const REQUEUED: Handler = Handler::queue("requeued", tail::ERROR_EVENTS_QUEUE_VAR, |batch| {
    Box::pin(async move {
        let report = tail::requeued(batch).await;
        let failure = report
            .errors
            .iter()
            .find(|e| e.starts_with("recording deferred"))
            .cloned();
        Outcome::new(&report, failure)
    })
});

const RETRY: Handler = Handler::cron("retry", RETRY_CRON, |env, at| {
    Box::pin(async move {
        let (report, failure) = tail::retry(&env, at).await;
        Outcome::new(&report, failure)
    })
});

/// After the retry, which it then sees stamped.
pub(crate) const UPKEEP: Handler = Handler::cron("upkeep", RETRY_CRON, |env, at| {
    Box::pin(async move {
        let report = watch::upkeep(&env, at).await;
        Outcome::new(&report, watch::failure(&report))
    })
});

/// Files yesterday's warning digest, one issue per project.
pub(crate) const DIGEST: Handler = Handler::cron("digest", "10 0 * * *", |env, at| {
    Box::pin(async move {
        let report = digest::scheduled(&env, at).await;
        Outcome::new(&report, digest::failure(&report))
    })
});

pub(crate) static WORKER: WorkerSpec = WorkerSpec {
    info: INFO,
    routes: ROUTES,
    handlers: &[TAIL, REQUEUED, RETRY, UPKEEP, DIGEST],
    unexpected_queue: None,
};

#[event(start)]
fn start() {
    platform_worker::init();
}

/// The tail handler's entry, called by `tail.mjs` (workers-rs has no tail event). Never fails
/// the invocation: what went wrong is in the logged report.
#[wasm_bindgen]
pub async fn tail_events(events: JsValue, env: Env) -> std::result::Result<(), JsValue> {
    WORKER.tail(events, env).await;
    Ok(())
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

#[cfg(test)]
mod wiring {
    #[test]
    fn the_declaration_matches_the_wrangler_config() {
        let mismatches = platform_worker::skeleton::wiring::against_wrangler(&super::WORKER);
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }
}
