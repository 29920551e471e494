//! Clusters recurring errors and proposes transient-error patterns.
//!
//! Today it serves `GET /health`; see docs/workers/pattern-discovery.md.

use platform_kv::PlatformWorker;
use platform_worker::skeleton::WorkerSpec;
use platform_worker::{bindings, WorkerInfo};
use worker::{event, Context, Env, Request, Response, Result};

static WORKER: WorkerSpec = WorkerSpec {
    info: WorkerInfo {
        id: PlatformWorker::PatternDiscovery,
        version: env!("CARGO_PKG_VERSION"),
        bindings: &bindings::COMMON,
        optional: &[],
    },
    routes: &[],
    handlers: &[],
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

#[cfg(test)]
mod wiring {
    #[test]
    fn the_declaration_matches_the_wrangler_config() {
        let mismatches = platform_worker::skeleton::wiring::against_wrangler(&super::WORKER);
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }
}
