//! Telemetry ingestion, budgets and circuit breakers, and the admin API.
//!
//! Routes, crons, bindings and keys: docs/workers/platform-usage.md.

mod admin;
mod broadcast;
mod cloudflare;
mod collect;
mod context;
mod cost;
mod decide;
mod ingest;
mod settings;
mod sweep;
mod watch;

use platform_kv::PlatformWorker;
use platform_worker::bindings::{Binding, ADMIN_TOKEN, PLATFORM_CACHE, PLATFORM_DB};
use platform_worker::skeleton::{ok, Auth, Batch, Cx, Handler, Outcome, Reply, Route, WorkerSpec};
use platform_worker::{alerts, ApiError, WorkerInfo};
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
        Binding::Queue(ingest::DEAD_LETTER_BINDING),
        Binding::Var(TELEMETRY_QUEUE_VAR),
        Binding::Var(TELEMETRY_DLQ_VAR),
        Binding::Var(cloudflare::ACCOUNT),
    ],
    optional: &[
        (Binding::Secret(cloudflare::TOKEN), cloudflare::WITHOUT_TOKEN),
        (
            Binding::Var(collect::PLATFORM_DB_ID),
            "the platform's own D1 writes are not counted, so collection never slows down",
        ),
        (
            Binding::Secret(alerts::SLACK_WEBHOOK_URL),
            "alerts are kept pending, not delivered",
        ),
        (
            Binding::Service(platform_worker::notify::NOTIFICATIONS),
            "alerts reach Slack, not the inboxes",
        ),
    ],
};

const ROUTES: &[Route] = &[
    Route::new(Method::Get, "/health", Auth::None, |cx| {
        Box::pin(async move { watch::health(&cx.env, cx.now).await })
    }),
    Route::new(Method::Get, "/status", Auth::Admin, |cx| {
        Box::pin(async move { ok(&admin::status(&cx.env).await?) })
    }),
    Route::new(Method::Get, "/settings", Auth::Admin, |cx| {
        Box::pin(async move { ok(&settings::get(&cx.env).await?) })
    }),
    Route::new(Method::Put, "/settings", Auth::Admin, |mut cx| {
        Box::pin(async move {
            let changes = cx.json().await?;
            ok(&settings::put(&cx.env, changes).await?)
        })
    }),
    Route::new(Method::Post, "/features/:key/disable", Auth::Admin, |mut cx| {
        Box::pin(async move {
            let feature = admin::feature_key(cx.param("key"))?;
            let body = cx.json().await?;
            ok(&admin::disable_feature(&cx.env, feature, body).await?)
        })
    }),
    Route::new(Method::Post, "/features/:key/enable", Auth::Admin, |cx| {
        Box::pin(
            async move { ok(&admin::enable_feature(&cx.env, admin::feature_key(cx.param("key"))?).await?) },
        )
    }),
    Route::new(Method::Get, "/features/:key/usage", Auth::Admin, |cx| {
        Box::pin(async move {
            let feature = admin::feature_key(cx.param("key"))?;
            let days = cx.query_u32("days", 7, 1..=90)?;
            ok(&admin::feature_usage(&cx.env, feature, days).await?)
        })
    }),
    Route::new(Method::Post, "/projects/:slug/pause", Auth::Admin, |mut cx| {
        Box::pin(async move {
            let project = admin::project_id(cx.param("slug"))?;
            let body = cx.json().await?;
            ok(&admin::set_project(&cx.env, project, Some(body)).await?)
        })
    }),
    Route::new(Method::Post, "/projects/:slug/resume", Auth::Admin, |cx| {
        Box::pin(async move {
            ok(&admin::set_project(&cx.env, admin::project_id(cx.param("slug"))?, None).await?)
        })
    }),
    Route::new(Method::Post, "/global-stop", Auth::Admin, |mut cx| {
        Box::pin(async move {
            let body = cx.json().await?;
            ok(&admin::global_stop(&cx.env, body).await?)
        })
    }),
    Route::new(Method::Get, "/usage/account", Auth::Admin, |cx| {
        Box::pin(async move {
            let (from, to, by) = (cx.query("from")?, cx.query("to")?, cx.query("by")?);
            ok(&collect::account(&cx.env, from.as_deref(), to.as_deref(), by.as_deref(), cx.now).await?)
        })
    }),
    Route::new(Method::Post, "/usage/backfill", Auth::Admin, |cx| {
        Box::pin(async move {
            let required = |name: &str| {
                let missing =
                    || ApiError::bad_request(format!("{name} is required (YYYY-MM-DD or ISO 8601)"));
                cx.query(name).and_then(|value| value.ok_or_else(missing))
            };
            let (from, to) = (required("from")?, required("to")?);
            ok(&collect::backfill(&cx.env, &from, &to, cx.now).await?)
        })
    }),
    Route::new(Method::Get, "/cost", Auth::Admin, |cx| {
        Box::pin(async move {
            let period = cx.query("period")?.unwrap_or_else(|| "month".to_owned());
            ok(&cost::report(&cx.env, &period, cx.query("at")?, cx.now).await?)
        })
    }),
    Route::new(Method::Get, "/events", Auth::Admin, |cx| {
        Box::pin(async move { ok(&admin::events(&cx.env, cx.query_u32("limit", 100, 1..=1000)?).await?) })
    }),
    Route::new(Method::Get, "/dlq", Auth::Admin, |cx| {
        Box::pin(async move { ok(&admin::dlq(&cx.env).await?) })
    }),
    Route::new(Method::Post, "/dlq/:id/replay", Auth::Admin, |cx| {
        resolve_dlq(cx, true)
    }),
    Route::new(Method::Post, "/dlq/:id/discard", Auth::Admin, |cx| {
        resolve_dlq(cx, false)
    }),
];

fn resolve_dlq(cx: Cx, replay: bool) -> platform_worker::skeleton::LocalFuture<Reply> {
    Box::pin(async move { ok(&admin::resolve_dlq(&cx.env, cx.param("id"), replay).await?) })
}

/// Stamps itself: a successful batch's stamp rides in the batch's own D1 transaction.
const TELEMETRY: Handler = Handler::queue("telemetry", TELEMETRY_QUEUE_VAR, |batch| {
    Box::pin(async move {
        let report = ingest::telemetry(batch.messages, &batch.queue, &batch.env, batch.stamp).await;
        Outcome::report(&report)
    })
})
.stamps_itself();

/// Also takes batches from a queue this worker was not configured for: every message is kept
/// for an operator.
const DEAD_LETTERS: Handler = Handler::queue("dead-letters", TELEMETRY_DLQ_VAR, dead_letters);

fn dead_letters(batch: Batch) -> platform_worker::skeleton::LocalFuture<Outcome> {
    Box::pin(async move {
        let telemetry = batch.env.var(TELEMETRY_QUEUE_VAR).map(|v| v.to_string());
        let telemetry = telemetry.as_deref().unwrap_or("?");
        let (report, failure) =
            ingest::dead_letters(batch.messages, &batch.queue, telemetry, &batch.env).await;
        Outcome::new(&report, failure)
    })
}

static WORKER: WorkerSpec = WorkerSpec {
    info: INFO,
    routes: ROUTES,
    handlers: &[
        TELEMETRY,
        DEAD_LETTERS,
        // Resets, alert delivery, retention.
        Handler::cron("sweep", "*/5 * * * *", |env, at| {
            Box::pin(async move { Outcome::of(sweep::sweep(&env, at).await) })
        }),
        // The account's own usage, from the GraphQL Analytics API.
        Handler::cron("collect", "7 * * * *", |env, at| {
            Box::pin(async move { Outcome::of(collect::hourly(&env, at).await) })
        }),
        // KV broadcast repair.
        Handler::cron("reconcile", "17 * * * *", |env, _| {
            Box::pin(async move { Outcome::of(sweep::reconcile(&env).await) })
        }),
        // Pricing refresh, account cost budgets and Free plan limits.
        Handler::cron("cost", "17 * * * *", |env, at| {
            Box::pin(async move { Outcome::of(cost::guard(&env, at).await) })
        }),
    ],
    unexpected_queue: Some(&DEAD_LETTERS),
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
async fn queue(batch: MessageBatch<Value>, env: Env, _ctx: Context) -> Result<()> {
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
