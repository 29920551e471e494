//! The collector's routes and reports: `GET /usage/account`, `POST /usage/backfill`, its part of
//! `/status` and of `/health`.

use platform_core::account::collect::{self, parse_bound, settled_until};
use platform_core::account::datasets::{DATASETS, HOUR_MS};
use platform_core::account::report::{summarize, By};
use platform_core::time::iso8601;
use platform_core::EpochMs;
use platform_db::account as table;
use platform_kv::families::{D1Writes24h, D1WritesTimestamp, UsageSamplingMode};
use platform_kv::Timestamp;
use platform_worker::{ApiError, PlatformStore};
use serde_json::{json, Map, Value};
use worker::Env;

/// The longest range `/usage/account` reads (the datasets' shortest retention).
const MAX_REPORT_DAYS: u64 = 31;
/// Collection this far behind the settled hour is a warning.
const BEHIND_WARNING_MS: EpochMs = 3 * HOUR_MS;

fn bound(name: &str, raw: Option<&str>, default: EpochMs) -> Result<EpochMs, ApiError> {
    match raw {
        None => Ok(default),
        Some(raw) => parse_bound(raw).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name}={raw:?} is not a date (YYYY-MM-DD) or an ISO 8601 instant"
            ))
        }),
    }
}

/// `GET /usage/account?from&to&by=product|project|script`: the collected hours in `[from, to)`
/// (default: the last 24 settled hours), grouped.
pub async fn account(
    env: &Env,
    from: Option<&str>,
    to: Option<&str>,
    by: Option<&str>,
    now: EpochMs,
) -> Result<Value, ApiError> {
    let by_name = by.unwrap_or("product");
    let grouping = By::parse(by_name).ok_or_else(|| {
        ApiError::bad_request(format!("by={by_name:?}: expected product, project or script"))
    })?;
    let to = bound("to", to, settled_until(now))?;
    let from = bound("from", from, to.saturating_sub(24 * HOUR_MS))?;
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    if to - from > MAX_REPORT_DAYS * 24 * HOUR_MS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_REPORT_DAYS} days per request: narrow from and to"
        )));
    }
    let db = crate::ingest::database(env)?;
    let mut skipped = Vec::new();
    let hours = table::hours(&db, from, to, &mut skipped).await?;
    let mut collected = Map::new();
    for dataset in DATASETS {
        let count = hours.iter().filter(|hour| hour.dataset == dataset.id).count();
        collected.insert(dataset.id.into(), count.into());
    }
    let rows: Vec<Value> = summarize(
        hours.iter().map(|h| (h.hour_at, h.lines.as_slice(), h.exactness)),
        grouping,
    )
    .iter()
    .map(|row| row.to_json())
    .collect();
    Ok(json!({
        "from": iso8601(from),
        "to": iso8601(to),
        "by": by_name,
        "source": "Cloudflare GraphQL Analytics (estimates: not billing-authoritative)",
        "rows": rows,
        "hours_in_range": (to - from).div_ceil(HOUR_MS),
        "hours_collected": collected,
        "skipped": skipped,
    }))
}

/// `POST /usage/backfill?from&to`: re-collects up to a day of settled hours, replacing them. The
/// cursor is left where it is.
pub async fn backfill(env: &Env, from: &str, to: &str, now: EpochMs) -> Result<Value, ApiError> {
    let jobs = collect::backfill(now, from, to).map_err(ApiError::bad_request)?;
    let credentials = crate::cloudflare::Credentials::required(env).map_err(ApiError::unavailable)?;
    let db = crate::ingest::database(env)?;
    let owners = super::attribution(&db).await;
    let ran = super::run(&credentials, &jobs, &owners, now).await;
    if !ran.statements.is_empty() {
        db.batch("storing account usage", ran.statements.clone()).await?;
    }
    let mut summary = ran.summary();
    summary["from"] = iso8601(jobs.iter().map(|j| j.from).min().unwrap_or_default()).into();
    summary["to"] = iso8601(jobs.iter().map(|j| j.to).max().unwrap_or_default()).into();
    if let Some(seconds) = ran.retry_after_s {
        summary["retry_after_seconds"] = seconds.into();
    }
    Ok(summary)
}

/// The collector's part of `/status`.
pub async fn status(env: &Env) -> Value {
    match status_of(env).await {
        Ok(value) => value,
        Err(error) => json!({ "error": error.to_string() }),
    }
}

async fn status_of(env: &Env) -> Result<Value, ApiError> {
    let store = crate::ingest::metered_store(env)?;
    let db = crate::ingest::database(env)?;
    let cursor = super::load(&store).await?;
    let writes = store.get(&D1Writes24h::key()?).await.ok().flatten();
    let measured = store.get(&D1WritesTimestamp::key()?).await.ok().flatten();
    let mode = store.get(&UsageSamplingMode::key()?).await.ok().flatten();
    let limit = crate::context::settings(&store, &db)
        .await?
        .settings
        .d1_write_limit;
    let owners = super::attribution(&db).await;
    let stored = super::footprint::stored_gb_seconds(&store, owners.projects().into_iter()).await?;
    // Maps filled by insert, not collected: a collected map sorts (more wasm).
    let mut gb_seconds = Map::new();
    for (project, _, value) in stored {
        gb_seconds.insert(project.to_owned(), value.unwrap_or(0.0).into());
    }
    let state = &cursor.state;
    let mut behind = Map::new();
    for (id, at) in &state.behind {
        behind.insert(id.clone(), iso8601(*at).into());
    }
    let mut failures = Map::new();
    for (id, failure) in &state.failures {
        failures.insert(id.clone(), json!({ "reason": failure.reason, "at": failure.at }));
    }
    Ok(json!({
        "collected_until": cursor.at.map(iso8601),
        "sampling_mode": mode.map_or("FULL", |m| m.as_str()),
        "d1_writes_24h": writes,
        "d1_write_limit": limit,
        "d1_writes_percent": writes.filter(|_| limit > 0).map(|w| (w as f64 * 100.0 / limit as f64).round()),
        "d1_writes_measured_at": measured.map(|Timestamp(at)| iso8601(at)),
        "do_gb_seconds_24h": gb_seconds,
        "behind": behind,
        "failures": failures,
        "retry_after": state.retry_after.map(iso8601),
    }))
}

/// What `/health` says about collection: missing credentials, failing datasets, a wait the API
/// asked for, a cursor that fell behind.
pub async fn health_warnings(env: &Env, store: &PlatformStore, now: EpochMs) -> Vec<String> {
    match crate::cloudflare::Credentials::from_env(env) {
        // The skeleton's warning for the missing secret says it.
        Ok(None) => return Vec::new(),
        Err(reason) => return vec![reason],
        Ok(Some(_)) => {}
    }
    let cursor = match super::load(store).await {
        Ok(cursor) => cursor,
        Err(error) => return vec![format!("account usage state unreadable: {error}")],
    };
    let state = &cursor.state;
    let mut warnings: Vec<String> = state
        .failures
        .iter()
        .map(|(dataset, failure)| {
            let since = state
                .behind_of(dataset)
                .map_or_else(String::new, |at| format!(", behind since {}", iso8601(at)));
            format!(
                "account usage {dataset} failed at {}{since}: {}",
                failure.at, failure.reason
            )
        })
        .collect();
    if let Some(until) = state.retry_after.filter(|until| *until > now) {
        warnings.push(format!(
            "account usage: the GraphQL API asked to wait until {} (429)",
            iso8601(until)
        ));
    }
    let late = cursor.at.is_some_and(|at| {
        settled_until(now).saturating_sub(at) > BEHIND_WARNING_MS.max(cursor.pace.interval_hours() * HOUR_MS)
    });
    if late {
        warnings.push(format!(
            "account usage is collected only until {}: the hourly collection is behind",
            cursor.at.map(iso8601).unwrap_or_default()
        ));
    }
    warnings
}
