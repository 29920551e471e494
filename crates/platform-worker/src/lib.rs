//! Glue between the Workers runtime and the platform's domain crates. Handlers stay thin: they
//! decode with these helpers, call the domain, and encode.

pub mod alerts;
pub mod auth;
pub mod bindings;
pub mod body;
pub mod footprint;
pub mod handlers;
pub mod health;
pub mod notify;
pub mod outbound;
pub mod response;
pub mod skeleton;

use platform_kv::workers::{WorkersClock, WorkersKv};
use platform_kv::{Metered, PlatformWorker, Store};
use worker::Env;

pub use bindings::{Binding, PLATFORM_CACHE, PLATFORM_DB};
pub use response::ApiError;

/// What every worker declares about itself.
#[derive(Debug, Clone, Copy)]
pub struct WorkerInfo {
    pub id: PlatformWorker,
    pub version: &'static str,
    /// Bindings the worker needs; `/health` reports each as present or missing.
    pub bindings: &'static [Binding],
    /// Bindings it works without, each with what is lost while it is missing.
    pub optional: &'static [(Binding, &'static str)],
}

/// The worker's store over `PLATFORM_CACHE`, counting its operations: the platform meters itself.
pub type PlatformStore = Store<Metered<WorkersKv>, WorkersClock>;

/// Opens `PLATFORM_CACHE` as this worker's store.
pub fn store(env: &Env, worker: PlatformWorker) -> Result<PlatformStore, ApiError> {
    let kv = env
        .kv(PLATFORM_CACHE)
        .map_err(|_| ApiError::unavailable(format!("binding {PLATFORM_CACHE} is missing")))?;
    Ok(Store::new(Metered::new(WorkersKv::new(kv)), worker, WorkersClock))
}

/// The worker's database over `PLATFORM_DB`, counting its round trips: writes to tables the
/// worker does not own are refused.
pub type PlatformDb = platform_db::Db<platform_db::Metered<platform_db::d1::D1>>;

/// Opens `PLATFORM_DB` as this worker's database.
pub fn db(env: &Env, worker: PlatformWorker) -> Result<PlatformDb, ApiError> {
    let d1 = env
        .d1(PLATFORM_DB)
        .map_err(|_| ApiError::unavailable(format!("binding {PLATFORM_DB} is missing")))?;
    Ok(platform_db::Db::new(
        platform_db::Metered::new(platform_db::d1::D1(d1)),
        worker,
    ))
}

/// Installs the panic hook once per isolate, so a panic is logged readably before the runtime
/// restarts the instance: its message and source location (`panicked at src/x.rs:12:5`), which
/// need no wasm name section (scripts/build strips it).
pub fn init() {
    console_error_panic_hook::set_once();
}
