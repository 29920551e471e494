//! The platform's own footprint over the last 24 collected hours, from what Cloudflare reported:
//! rows written to the platform's D1 database (`platform-usage:d1-writes-24h` and the instant it
//! was measured), the sampling mode those writes set, and each project's Durable Object GB-s.
//! Each key is written only when its value moved enough to matter.

use platform_core::account::attribution::Attribution;
use platform_core::account::sampling::Pace;
use platform_core::account::AccountMetric;
use platform_core::{EpochMs, ProjectId};
use platform_db::account as table;
use platform_kv::families::{D1Writes24h, D1WritesTimestamp, DoGbSeconds24h, UsageSamplingMode};
use platform_kv::{Key, SamplingMode, Timestamp, TypedKey};
use platform_worker::{ApiError, PlatformDb, PlatformStore};
use serde_json::{json, Value};
use worker::Env;

const DAY_MS: EpochMs = 86_400_000;

/// Updates the footprint keys; a failure is logged and reported, never failing the collection.
pub async fn update(
    env: &Env,
    store: &PlatformStore,
    db: &PlatformDb,
    owners: &Attribution,
    pace: Pace,
    now: EpochMs,
) -> Value {
    match measure(env, store, db, owners, pace, now).await {
        Ok(report) => report,
        Err(error) => {
            worker::console_error!("the platform's footprint keys were not updated: {error}");
            json!({ "error": error.to_string() })
        }
    }
}

/// Whether a figure moved by more than 1 % (of `scale`, at least 1).
fn moved(old: f64, new: f64, scale: f64) -> bool {
    (new - old).abs() >= (scale / 100.0).max(1.0)
}

async fn measure(
    env: &Env,
    store: &PlatformStore,
    db: &PlatformDb,
    owners: &Attribution,
    pace: Pace,
    now: EpochMs,
) -> Result<Value, ApiError> {
    let mut skipped = Vec::new();
    let hours = table::dataset_hours(
        db,
        &["d1", "do_periodic"],
        now.saturating_sub(DAY_MS),
        now,
        &mut skipped,
    )
    .await?;
    for problem in &skipped {
        worker::console_warn!("account usage row skipped: {problem}");
    }
    let own_db = env
        .var(super::PLATFORM_DB_ID)
        .map(|v| v.to_string())
        .unwrap_or_default();
    let mut writes = 0.0;
    let mut gb_seconds: Vec<(&str, f64)> = owners.projects().into_iter().map(|p| (p, 0.0)).collect();
    for line in hours.iter().flat_map(|hour| &hour.lines) {
        match (line.metric, line.project.as_deref()) {
            (AccountMetric::D1RowsWritten, _) if !own_db.is_empty() && line.resource == own_db => {
                writes += line.amount
            }
            (AccountMetric::DoGbSeconds, Some(project)) => {
                match gb_seconds.iter_mut().find(|(owner, _)| *owner == project) {
                    Some((_, total)) => *total += line.amount,
                    None => gb_seconds.push((project, line.amount)),
                }
            }
            _ => {}
        }
    }
    let writes = writes.round() as i64;
    let limit = crate::context::settings(store, db).await?.settings.d1_write_limit;
    let counted = store.get(&D1Writes24h::key()?).await.ok().flatten();
    if counted.is_none_or(|old| moved(old as f64, writes as f64, limit as f64)) {
        store.put(&D1Writes24h::key()?, &writes).await?;
        store.put(&D1WritesTimestamp::key()?, &Timestamp(now)).await?;
    }
    let next = pace.next(writes.max(0) as u64, limit);
    if next != pace {
        store
            .put(&UsageSamplingMode::key()?, &SamplingMode::from(next))
            .await?;
        worker::console_log!(
            "{}",
            json!({ "event": "sampling-mode", "from": pace.name(), "to": next.name(),
                    "d1_writes_24h": writes, "d1_write_limit": limit })
        );
    }
    let stored = stored_gb_seconds(store, gb_seconds.iter().map(|(project, _)| *project)).await?;
    let mut written = Vec::new();
    for ((_, key, old), (_, amount)) in stored.iter().zip(&gb_seconds) {
        let changed = match old {
            // Absent reads as none used.
            None => *amount > 0.0,
            Some(old) => moved(*old, *amount, old.max(*amount)),
        };
        if changed {
            store.put(key, amount).await?;
            written.push(key.as_str().to_owned());
        }
    }
    Ok(json!({
        "d1_writes_24h": writes,
        "d1_write_limit": limit,
        "sampling_mode": next.name(),
        "do_gb_seconds_written": written,
    }))
}

/// Each project's stored `platform-usage:do-gb-seconds-24h:{project}`, in one bulk read.
pub async fn stored_gb_seconds<'a>(
    store: &PlatformStore,
    projects: impl Iterator<Item = &'a str>,
) -> Result<Vec<(&'a str, Key<DoGbSeconds24h>, Option<f64>)>, ApiError> {
    let mut keys = Vec::new();
    for project in projects {
        // Projects come from validated config; one that is not a slug has no key.
        if let Ok(id) = ProjectId::parse(project) {
            keys.push((project, DoGbSeconds24h::key(&id)?));
        }
    }
    let typed: Vec<&dyn TypedKey<Value = f64>> = keys
        .iter()
        .map(|(_, key)| key as &dyn TypedKey<Value = f64>)
        .collect();
    let stored = store.get_bulk(&typed).await?;
    Ok(keys
        .into_iter()
        .zip(stored)
        .map(|((project, key), value)| (project, key, value.ok().flatten()))
        .collect())
}
