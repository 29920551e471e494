//! Watches over the account: telemetry gaps, stale heartbeats, cost thresholds.
//!
//! Today it serves `GET /health`; see docs/workers/sentinel.md.

use platform_kv::PlatformWorker;
use platform_worker::{bindings, WorkerInfo};
use worker::{event, Context, Env, Request, Response, Result};

const INFO: WorkerInfo = WorkerInfo {
    id: PlatformWorker::Sentinel,
    version: env!("CARGO_PKG_VERSION"),
    bindings: &bindings::COMMON,
    optional: &[],
};

#[event(start)]
fn start() {
    platform_worker::init();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    platform_worker::common_routes(&INFO, &req, &env)
}
