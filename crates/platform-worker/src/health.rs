//! `GET /health`: who the worker is, what it owns, and which of its bindings are missing.

use std::collections::BTreeMap;

use platform_kv::REGISTRY;
use serde::Serialize;
use worker::{Env, Response};

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
    /// What the worker cannot do because an optional binding is missing.
    pub warnings: Vec<String>,
}

impl Health {
    pub fn of(info: &WorkerInfo, env: &Env) -> Self {
        let mut bindings: BTreeMap<_, _> = info
            .bindings
            .iter()
            .map(|b| (b.name(), b.is_present(env)))
            .collect();
        let ok = bindings.values().all(|present| *present);
        let mut warnings = Vec::new();
        for (binding, loss) in info.optional {
            let present = binding.is_present(env);
            bindings.insert(binding.name(), present);
            if !present {
                warnings.push(format!("{} is not set: {loss}", binding.name()));
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
        }
    }
}

/// 200 when every required binding is present, 503 otherwise, with the report either way.
pub fn respond(info: &WorkerInfo, env: &Env) -> worker::Result<Response> {
    let health = Health::of(info, env);
    json_response(if health.ok { 200 } else { 503 }, &health)
}
