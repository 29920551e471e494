//! `GET /settings`: the effective settings, read through the `CONFIG:SETTINGS:ALL` cache over the
//! D1 `settings` table.

use platform_core::settings::{Resolved, Settings};
use platform_kv::families::SettingsAll;
use platform_kv::primitives::Source;
use platform_kv::Json;
use platform_worker::{ApiError, PlatformStore, PLATFORM_DB};
use serde::{Deserialize, Serialize};
use worker::{D1Database, Env};

#[derive(Debug, Serialize)]
pub struct SettingsView {
    #[serde(flatten)]
    resolved: Resolved,
    /// Whether the answer came from the KV cache rather than D1.
    cached: bool,
}

pub async fn get(env: &Env) -> Result<SettingsView, ApiError> {
    let store = platform_worker::store(env, crate::INFO.id)?;
    let db = env
        .d1(PLATFORM_DB)
        .map_err(|_| ApiError::unavailable(format!("binding {PLATFORM_DB} is missing")))?;
    let (resolved, source) = effective(&store, &db).await?;
    Ok(SettingsView {
        resolved,
        cached: source == Source::Cache,
    })
}

/// The settings every decision uses: cached for an hour, recomputed from D1 on a miss.
pub async fn effective(
    store: &PlatformStore,
    db: &D1Database,
) -> Result<(Resolved, Source), ApiError> {
    let key = SettingsAll::key()?;
    let (Json(resolved), source, cache_error) = store
        .get_or_set(&key, async || -> Result<_, ApiError> {
            Ok(Json(read_rows(db).await?))
        })
        .await?;
    if let Some(error) = cache_error {
        worker::console_warn!("settings cache not written: {error}");
    }
    if source == Source::Computed {
        for problem in &resolved.problems {
            worker::console_warn!("{problem}; the default applies");
        }
    }
    Ok((resolved, source))
}

#[derive(Debug, Deserialize)]
struct Row {
    key: String,
    value: String,
}

async fn read_rows(db: &D1Database) -> Result<Resolved, ApiError> {
    let rows: Vec<Row> = db
        .prepare("SELECT key, value FROM settings ORDER BY key")
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|e| ApiError::internal("reading settings", e))?;
    Ok(Settings::resolve(
        rows.iter()
            .map(|row| (row.key.as_str(), row.value.as_str())),
    ))
}
