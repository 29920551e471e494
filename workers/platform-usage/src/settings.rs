//! `GET /settings` and `PUT /settings`: the effective settings, read through the
//! `CONFIG:SETTINGS:ALL` cache over the D1 `settings` table, and validated changes to them.

use std::collections::BTreeMap;

use platform_core::settings::{Resolved, Settings};
use platform_db::usage::settings as ledger;
use platform_kv::families::{SettingValue, SettingsAll};
use platform_kv::primitives::Source;
use platform_worker::ApiError;
use serde::Serialize;
use serde_json::Value;
use worker::Env;

use crate::context;
use crate::ingest::{database, metered_store};

#[derive(Debug, Serialize)]
pub struct SettingsView {
    #[serde(flatten)]
    resolved: Resolved,
    /// Whether the answer came from the KV cache rather than D1.
    cached: bool,
}

pub async fn get(env: &Env) -> Result<SettingsView, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    let (resolved, source) = context::effective(&store, &db).await?;
    Ok(SettingsView {
        resolved,
        cached: source == Source::Cache,
    })
}

/// Validates every given setting, then stores them all and drops the caches; or, if any is
/// invalid, stores nothing and says what was wrong with each.
pub async fn put(env: &Env, changes: BTreeMap<String, Value>) -> Result<SettingsView, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    let mut candidate = Settings::default();
    let mut values = Vec::new();
    let mut problems = Vec::new();
    for (key, value) in &changes {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Array(items) => items
                .iter()
                .map(|item| item.to_string())
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        match candidate.set(key, &text) {
            Ok(()) => values.push((key.clone(), text)),
            Err(problem) => problems.push(problem.to_string()),
        }
    }
    if changes.is_empty() {
        problems.push("no settings given".to_owned());
    }
    if !problems.is_empty() {
        return Err(ApiError::bad_request(problems.join("; ")));
    }
    let now = store.now_ms();
    db.batch("storing settings", ledger::put(&values, now)).await?;
    store.delete(&SettingsAll::key()?).await?;
    for (key, _) in &values {
        store.delete(&SettingValue::key(key)?).await?;
    }
    context::forget_settings();
    get(env).await
}
