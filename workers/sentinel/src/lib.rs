//! Watches over the account: telemetry gaps against each feature's own cadence, stale heartbeats,
//! cost anomalies against a robust baseline, and the platform's own workers. The rules live in
//! `platform-sentinel`; routes, crons and bindings: docs/workers/sentinel.md.

mod detect;
mod incidents;
mod routes;
mod services;
mod synthetic;
mod watch;

use platform_kv::PlatformWorker;
use platform_worker::bindings::{Binding, ADMIN_TOKEN, PLATFORM_CACHE, PLATFORM_DB};
use platform_worker::skeleton::{Auth, Handler, Outcome, Route, WorkerSpec};
use platform_worker::{alerts, WorkerInfo};
use platform_worker::{ApiError, PlatformDb, PlatformStore};
use worker::{event, Context, Env, Method, Request, Response, Result, ScheduleContext, ScheduledEvent};

/// This worker, as the keyspace and the table registry name it.
pub(crate) const ID: PlatformWorker = PlatformWorker::Sentinel;

/// The sentinel's database and store, for a cron run.
pub(crate) fn storage(env: &Env) -> std::result::Result<(PlatformDb, PlatformStore), ApiError> {
    Ok((platform_worker::db(env, ID)?, platform_worker::store(env, ID)?))
}

const INFO: WorkerInfo = WorkerInfo {
    id: ID,
    version: env!("CARGO_PKG_VERSION"),
    bindings: &[
        Binding::Kv(PLATFORM_CACHE),
        Binding::D1(PLATFORM_DB),
        Binding::Secret(ADMIN_TOKEN),
        Binding::Service(services::WATCHED[0].0),
        Binding::Service(services::WATCHED[1].0),
        Binding::Service(services::WATCHED[2].0),
        Binding::Service(services::WATCHED[3].0),
        Binding::Service(services::WATCHED[4].0),
    ],
    optional: &[
        (
            Binding::Secret(alerts::SLACK_WEBHOOK_URL),
            "gap, heartbeat, anomaly and platform alerts wait in the outbox",
        ),
        (
            Binding::Var(detect::GAP_MULTIPLE_VAR),
            "gaps use the default multiple of 1.5 times a feature's cadence",
        ),
    ],
};

const ROUTES: &[Route] = &[
    Route::new(Method::Get, "/gaps", Auth::Admin, |cx| Box::pin(routes::gaps(cx))),
    Route::new(Method::Get, "/anomalies", Auth::Admin, |cx| {
        Box::pin(routes::anomalies(cx))
    }),
    Route::new(Method::Get, "/silences", Auth::Admin, |cx| {
        Box::pin(routes::list_silences(cx))
    }),
    Route::new(Method::Post, "/silences", Auth::Admin, |cx| {
        Box::pin(routes::add_silence(cx))
    }),
    Route::new(Method::Delete, "/silences/:id", Auth::Admin, |cx| {
        Box::pin(routes::end_silence(cx))
    }),
];

/// Gaps, stale heartbeats and anomalies, hourly.
const DETECT: Handler = Handler::cron("detect", "0 * * * *", |env, at| {
    Box::pin(async move {
        let report = detect::run(&env, at).await;
        Outcome::new(&report, detect::failure(&report))
    })
});

/// The platform's own workers, every five minutes.
const WATCH: Handler = Handler::cron("watch", "*/5 * * * *", |env, at| {
    Box::pin(async move {
        let report = watch::run(&env, at).await;
        Outcome::new(&report, watch::failure(&report))
    })
});

static WORKER: WorkerSpec = WorkerSpec {
    info: INFO,
    routes: ROUTES,
    handlers: &[DETECT, WATCH],
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

    /// platform-usage's /health holds the sentinel to these.
    #[test]
    fn the_crons_are_those_platform_usage_watches() {
        assert_eq!(super::WORKER.specs(), platform_sentinel::HANDLERS);
    }
}
