//! Learns which errors are transient: mines the collector's recurring errors into templates,
//! proposes the narrowest rule for each transient one, proves it in shadow on live errors, and
//! keeps the approved cache the collector and consumers read.
//!
//! Rules, evidence thresholds, routes, crons, bindings: docs/workers/pattern-discovery.md.

mod api;
mod cache;
mod model;
mod run;

use platform_patterns::lifecycle::Action;
use platform_worker::alerts::SLACK_WEBHOOK_URL;
use platform_worker::bindings::{Binding, COMMON};
use platform_worker::skeleton::{ok, Auth, Cx, Handler, LocalFuture, Outcome, Reply, Route, WorkerSpec};
use platform_worker::WorkerInfo;
use worker::{event, Context, Env, Method, Request, Response, Result, ScheduleContext, ScheduledEvent};

use run::ID;

/// The daily run: discovery, the lifecycle, the KV lists, the notification, retention.
const DAILY_CRON: &str = "0 3 * * *";

const INFO: WorkerInfo = WorkerInfo {
    id: ID,
    version: env!("CARGO_PKG_VERSION"),
    bindings: &COMMON,
    optional: &[
        (
            Binding::Secret(SLACK_WEBHOOK_URL),
            "the notice that suggestions wait for review stays in the outbox",
        ),
        (
            Binding::Ai(model::AI_BINDING),
            "suggestions come from the template miner only (no model)",
        ),
    ],
};

const ROUTES: &[Route] = &[
    Route::new(Method::Get, "/patterns", Auth::Admin, |cx| {
        Box::pin(async move {
            let limit = cx.query_u32("limit", 100, 1..=500)?;
            ok(&api::list(&cx.env, cx.query("status")?, limit).await?)
        })
    }),
    Route::new(Method::Get, "/patterns/:id", Auth::Admin, |cx| {
        Box::pin(async move { ok(&api::show(&cx.env, cx.param("id")).await?) })
    }),
    Route::new(Method::Post, "/patterns/:id/approve", Auth::Admin, |cx| {
        decide(cx, Action::Approve)
    }),
    Route::new(Method::Post, "/patterns/:id/reject", Auth::Admin, |cx| {
        decide(cx, Action::Reject)
    }),
    Route::new(Method::Post, "/patterns/:id/disable", Auth::Admin, |cx| {
        decide(cx, Action::Disable)
    }),
    Route::new(Method::Post, "/discover", Auth::Admin, |cx| {
        Box::pin(async move {
            let report = run::run(&cx.env, cx.now).await;
            ok(&report)
        })
    }),
    Route::new(Method::Post, "/cache/refresh", Auth::Admin, |cx| {
        Box::pin(async move {
            let db = platform_worker::db(&cx.env, ID)?;
            let store = platform_worker::store(&cx.env, ID)?;
            ok(&cache::refresh(&db, &store).await?)
        })
    }),
];

fn decide(mut cx: Cx, action: Action) -> LocalFuture<Reply> {
    Box::pin(async move {
        let body: api::Decision = cx.json().await?;
        ok(&api::decide(&cx.env, cx.param("id"), action, body, cx.now).await?)
    })
}

const DAILY: Handler = Handler::cron("discover", DAILY_CRON, |env, at| {
    Box::pin(async move {
        let report = run::run(&env, at).await;
        Outcome::new(&report, run::failure(&report))
    })
});

static WORKER: WorkerSpec = WorkerSpec {
    info: INFO,
    routes: ROUTES,
    handlers: &[DAILY],
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
