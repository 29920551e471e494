//! `GET /health`: who the worker is, what it owns, and which of its bindings are missing.

use std::collections::BTreeMap;

use platform_core::handlers::HandlerSpec;
use platform_core::sorted::CollectSorted;
use platform_kv::REGISTRY;
use serde::Serialize;
use worker::{Env, Response};

use crate::handlers::{self, HandlerReport};
use crate::response::json_response;
use crate::WorkerInfo;

#[derive(Debug, Serialize)]
pub struct Health {
    pub worker: &'static str,
    pub version: &'static str,
    /// False when a binding is missing: the worker cannot do its job.
    pub ok: bool,
    /// Patterns of the key families the worker may write.
    pub owns: Vec<&'static str>,
    pub bindings: BTreeMap<&'static str, bool>,
    /// What the worker cannot do because an optional binding is missing, and what is wrong with
    /// its handlers.
    pub warnings: Vec<String>,
    /// Each handler's recorded runs, for workers that declare them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<HandlerReport>,
}

impl Health {
    pub fn of(info: &WorkerInfo, env: &Env) -> Self {
        let mut bindings: BTreeMap<_, _> = info
            .bindings
            .iter()
            .map(|b| (b.name(), b.is_present(env)))
            .collect_map();
        let ok = bindings.values().all(|present| *present);
        let mut warnings = Vec::new();
        for (binding, loss) in info.optional {
            let present = binding.is_present(env);
            bindings.insert(binding.name(), present);
            if !present {
                warnings.push(format!("{} is not set: {loss}", binding.name()));
            }
        }
        if uses_webhook(info) {
            if let Err(problem) = crate::alerts::webhook(env) {
                warnings.push(problem);
            }
        }
        Self {
            worker: info.id.script_name(),
            version: info.version,
            ok,
            warnings,
            owns: REGISTRY
                .iter()
                .filter(|spec| spec.writers.allows(info.id))
                .map(|spec| spec.pattern)
                .collect(),
            bindings,
            handlers: Vec::new(),
        }
    }

    /// Adds the worker's handlers (a stale or failing one is a warning, not a failed check: the
    /// worker still answers). Skipped when the database binding is missing.
    pub async fn with_handlers(
        mut self,
        info: &WorkerInfo,
        env: &Env,
        specs: &[HandlerSpec],
        now: u64,
    ) -> Self {
        if let Ok(db) = crate::db(env, info.id) {
            let (handlers, problems) = handlers::health(&db, specs, now).await;
            self.handlers = handlers;
            self.warnings.extend(problems);
            if uses_webhook(info) {
                self.warnings.extend(crate::alerts::health_warning(&db).await);
            }
        }
        self
    }
}

/// Whether the worker delivers alerts to the Slack webhook.
fn uses_webhook(info: &WorkerInfo) -> bool {
    let mut bindings = info.bindings.iter().chain(info.optional.iter().map(|(b, _)| b));
    bindings.any(|b| b.name() == crate::alerts::SLACK_WEBHOOK_URL)
}

impl Health {
    /// 200 when every required binding is present, 503 otherwise, with the report either way.
    pub fn respond(&self) -> worker::Result<Response> {
        json_response(if self.ok { 200 } else { 503 }, self)
    }
}
