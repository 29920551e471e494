//! The people's inbox: every platform worker creates notifications through the `NOTIFICATIONS`
//! service binding; each person, identified by Cloudflare Access or a personal token, reads,
//! counts and marks their own, and gets them on Slack as their preferences say. The same people
//! see the operator's dashboard (`/dashboard`), and those with the `admin` role act from it.
//!
//! Routes, crons, bindings, identity setup and the producer contract:
//! docs/workers/notifications.md; the dashboard: docs/dashboard.md.

mod access;
mod admin;
mod context;
mod cookie;
mod crypto;
mod dashboard;
mod deliver;
mod identity;
mod inbox;
mod produce;

use platform_dashboard::action::{CONFIG, ERRORS, PATTERNS, SENTINEL, USAGE};
use platform_kv::PlatformWorker;
use platform_worker::bindings::{Binding, ADMIN_TOKEN, PLATFORM_CACHE, PLATFORM_DB};
use platform_worker::notify::NOTIFY_TOKEN;
use platform_worker::skeleton::{ok, reply, Auth, Handler, Outcome, Route, WorkerSpec};
use platform_worker::{alerts, WorkerInfo};
use worker::{event, Context, Env, Method, Request, Response, Result, ScheduleContext, ScheduledEvent};

/// Every hour: the past hour's digests, and at midnight UTC the past day's.
const DIGEST_CRON: &str = "5 * * * *";
/// Once a day: expired notifications, and those past retention.
const PURGE_CRON: &str = "30 3 * * *";

const INFO: WorkerInfo = WorkerInfo {
    id: PlatformWorker::Notifications,
    version: env!("CARGO_PKG_VERSION"),
    bindings: &[
        Binding::Kv(PLATFORM_CACHE),
        Binding::D1(PLATFORM_DB),
        Binding::Secret(ADMIN_TOKEN),
    ],
    optional: &[
        (
            Binding::Secret(NOTIFY_TOKEN),
            "producers cannot create notifications: their route answers 503",
        ),
        (
            Binding::Var(access::TEAM_DOMAIN_VAR),
            "Cloudflare Access logins are refused: people sign in with personal tokens only",
        ),
        (
            Binding::Var(access::AUDIENCE_VAR),
            "Cloudflare Access logins are refused: people sign in with personal tokens only",
        ),
        (
            Binding::Secret(alerts::SLACK_WEBHOOK_URL),
            "Slack messages and digests wait in the outbox",
        ),
        (
            Binding::Service(USAGE),
            "the dashboard cannot show budgets, breakers or cost, nor act on them",
        ),
        (
            Binding::Service(ERRORS),
            "the dashboard cannot show errors, nor mute or resolve them",
        ),
        (
            Binding::Service(SENTINEL),
            "the dashboard cannot show gaps or anomalies",
        ),
        (
            Binding::Service(PATTERNS),
            "the dashboard cannot show patterns, nor approve or reject them",
        ),
        (
            Binding::Service(CONFIG),
            "the dashboard cannot show sync-config's health",
        ),
    ],
};

const ROUTES: &[Route] = &[
    Route::new(
        Method::Post,
        "/notifications",
        Auth::Bearer(NOTIFY_TOKEN),
        |mut cx| {
            Box::pin(async move {
                let body = cx.json().await?;
                let (status, answer) = produce::create(&cx.env, &body, cx.now).await?;
                reply(status, &answer)
            })
        },
    ),
    Route::new(Method::Get, "/notifications", Auth::Person, |cx| {
        Box::pin(async move { ok(&inbox::list(&cx).await?) })
    }),
    Route::new(Method::Get, "/notifications/unread-count", Auth::Person, |cx| {
        Box::pin(async move { ok(&inbox::unread_count(&cx).await?) })
    }),
    Route::new(Method::Get, "/notifications/preferences", Auth::Person, |cx| {
        Box::pin(async move { ok(&inbox::preferences(&cx).await?) })
    }),
    Route::new(
        Method::Put,
        "/notifications/preferences",
        Auth::Person,
        |mut cx| {
            Box::pin(async move {
                let body = cx.json().await?;
                ok(&inbox::set_preferences(&cx, &body).await?)
            })
        },
    ),
    Route::new(Method::Post, "/notifications/read-all", Auth::Person, |cx| {
        Box::pin(async move { ok(&inbox::read_all(&cx).await?) })
    }),
    Route::new(Method::Get, "/notifications/:id", Auth::Person, |cx| {
        Box::pin(async move { ok(&inbox::show(&cx).await?) })
    }),
    Route::new(Method::Post, "/notifications/:id/read", Auth::Person, |cx| {
        Box::pin(async move { ok(&inbox::mark_read(&cx).await?) })
    }),
    Route::new(Method::Get, "/me", Auth::Person, |cx| {
        Box::pin(async move { ok(&inbox::me(&cx).await?) })
    }),
    Route::new(Method::Get, "/users", Auth::Admin, |cx| {
        Box::pin(async move { ok(&admin::list(&cx.env).await?) })
    }),
    Route::new(Method::Post, "/users", Auth::Admin, |mut cx| {
        Box::pin(async move {
            let body = cx.json().await?;
            reply(201, &admin::add(&cx.env, &body, cx.now).await?)
        })
    }),
    Route::new(Method::Delete, "/users/:id", Auth::Admin, |cx| {
        Box::pin(async move { ok(&admin::remove(&cx.env, cx.param("id"), cx.now).await?) })
    }),
    Route::new(Method::Get, "/users/:id/tokens", Auth::Admin, |cx| {
        Box::pin(async move { ok(&admin::tokens(&cx.env, cx.param("id")).await?) })
    }),
    Route::new(Method::Post, "/users/:id/tokens", Auth::Admin, |mut cx| {
        Box::pin(async move {
            let body = cx.json().await?;
            reply(201, &admin::issue(&cx.env, cx.param("id"), &body, cx.now).await?)
        })
    }),
    Route::new(Method::Delete, "/users/:id/tokens/:token", Auth::Admin, |cx| {
        Box::pin(async move { ok(&admin::revoke(&cx.env, cx.param("id"), cx.param("token"), cx.now).await?) })
    }),
    Route::new(Method::Get, "/dashboard/assets/:file", Auth::None, |cx| {
        Box::pin(dashboard::asset(cx))
    }),
    Route::new(Method::Post, "/dashboard/login", Auth::None, |cx| {
        Box::pin(dashboard::login(cx))
    }),
    Route::new(Method::Post, "/dashboard/logout", Auth::None, |cx| {
        Box::pin(dashboard::logout(cx))
    }),
    Route::new(Method::Get, "/dashboard/confirm", Auth::Person, |cx| {
        Box::pin(dashboard::confirm(cx))
    }),
    Route::new(Method::Post, "/dashboard/actions", Auth::Person, |cx| {
        Box::pin(dashboard::act(cx))
    }),
    Route::new(Method::Get, "/dashboard", Auth::Person, |cx| {
        Box::pin(dashboard::page(cx))
    }),
    Route::new(Method::Get, "/dashboard/:page", Auth::Person, |cx| {
        Box::pin(dashboard::page(cx))
    }),
];

const DIGEST: Handler = Handler::cron("digest", DIGEST_CRON, |env, at| {
    Box::pin(async move { Outcome::of(deliver::digests(&env, at).await) })
});

const PURGE: Handler = Handler::cron("purge", PURGE_CRON, |env, at| {
    Box::pin(async move { Outcome::of(deliver::purge(&env, at).await) })
});

static WORKER: WorkerSpec = WorkerSpec {
    info: INFO,
    routes: ROUTES,
    handlers: &[DIGEST, PURGE],
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

    #[test]
    fn the_dashboards_bindings_are_configured_in_every_environment() {
        use super::{CONFIG, ERRORS, PATTERNS, SENTINEL, USAGE};
        use platform_worker::bindings::Binding;
        use platform_worker::skeleton::WorkerSpec;
        use platform_worker::WorkerInfo;
        // Optional at run time (the inbox works without them), required of the config.
        static SERVICES: [Binding; 5] = [
            Binding::Service(USAGE),
            Binding::Service(ERRORS),
            Binding::Service(SENTINEL),
            Binding::Service(PATTERNS),
            Binding::Service(CONFIG),
        ];
        let spec = WorkerSpec {
            info: WorkerInfo {
                bindings: &SERVICES,
                ..super::INFO
            },
            routes: &[],
            handlers: super::WORKER.handlers,
            unexpected_queue: None,
        };
        let mismatches = platform_worker::skeleton::wiring::against_wrangler(&spec);
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }

    #[test]
    fn read_keys_live_as_long_as_the_notifications_they_mark() {
        use platform_kv::{families::NotificationRead, Family, Ttl};
        use platform_notifications::inbox::READ_KEY_TTL_SECONDS;
        assert_eq!(NotificationRead::SPEC.ttl, Ttl::Seconds(READ_KEY_TTL_SECONDS));
    }
}
