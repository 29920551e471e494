//! Telemetry ingestion, budgets and circuit breakers, and the admin API.
//!
//! Routes, bindings and keys: docs/workers/platform-usage.md.

mod settings;

use platform_kv::PlatformWorker;
use platform_worker::{auth, bindings, response, WorkerInfo};
use worker::{event, Context, Env, Method, Request, Response, Result};

const INFO: WorkerInfo = WorkerInfo {
    id: PlatformWorker::PlatformUsage,
    version: env!("CARGO_PKG_VERSION"),
    bindings: &bindings::COMMON,
};

#[event(start)]
fn start() {
    platform_worker::init();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match (req.method(), req.path().as_str()) {
        (Method::Get, "/settings") => {
            let result = match auth::require_admin(&req, &env) {
                Ok(()) => settings::get(&env).await,
                Err(refused) => Err(refused),
            };
            response::respond(result)
        }
        _ => platform_worker::common_routes(&INFO, &req, &env),
    }
}
