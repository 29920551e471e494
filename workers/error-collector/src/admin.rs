//! Operator routes over the fingerprint record: list, show, mute/unmute, resolve.

use platform_core::time::iso_fields;
use platform_db::errors::{Filter, Listed};
use platform_errors::fingerprint::is_fingerprint;
use platform_errors::Priority;
use platform_kv::PlatformWorker;
use platform_worker::skeleton::Cx;
use platform_worker::ApiError;
use serde_json::Value;
use worker::Env;

use crate::context::Ctx;
use crate::issues;
use crate::ledger::{fingerprints, listing, Fingerprint};

/// The instants of a fingerprint row, answered in ISO 8601.
const TIME_FIELDS: &[&str] = &[
    "first_seen",
    "last_seen",
    "claimed_at",
    "next_attempt_at",
    "notified_at",
];

/// `GET /errors?project=&script=&status=&priority=&limit=`.
pub async fn list(cx: &Cx) -> Result<Value, ApiError> {
    let env = &cx.env;
    let param = |name: &str| cx.query(name).ok().flatten().filter(|v| !v.is_empty());
    let priority = param("priority")
        .map(|p| Priority::parse(&p).ok_or_else(|| ApiError::bad_request("priority must be P0..P4")))
        .transpose()?;
    let status = param("status")
        .map(|s| {
            Listed::parse(&s).ok_or_else(|| ApiError::bad_request("status must be open, resolved or muted"))
        })
        .transpose()?;
    let limit = match param("limit") {
        None => 100,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit must be a whole number from 1 to 500"))?,
    };
    let db = platform_worker::db(env, PlatformWorker::ErrorCollector)?;
    let (project, script) = (param("project"), param("script"));
    let filter = Filter {
        project: project.as_deref(),
        script: script.as_deref(),
        status,
        priority,
        limit,
    };
    let rows = listing::list(&db, &filter).await?;
    let mut rows = serde_json::to_value(rows).map_err(|e| ApiError::internal("encoding errors", e))?;
    iso_fields(&mut rows, TIME_FIELDS);
    Ok(serde_json::json!({ "errors": rows }))
}

async fn row(env: &Env, fingerprint: &str) -> Result<Fingerprint, ApiError> {
    if !is_fingerprint(fingerprint) {
        return Err(ApiError::bad_request(
            "a fingerprint is 32 lower-case hex characters",
        ));
    }
    let db = platform_worker::db(env, PlatformWorker::ErrorCollector)?;
    fingerprints::get(&db, fingerprint)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no error with fingerprint {fingerprint}")))
}

/// `GET /errors/{fingerprint}`.
pub async fn show(env: &Env, fingerprint: &str) -> Result<Value, ApiError> {
    let row = row(env, fingerprint).await?;
    let mut answer = serde_json::to_value(row).map_err(|e| ApiError::internal("encoding an error", e))?;
    iso_fields(&mut answer, TIME_FIELDS);
    Ok(answer)
}

/// `POST /errors/{fingerprint}/{mute|unmute|resolve}`.
pub async fn act(env: &Env, fingerprint: &str, action: &str, now: u64) -> Result<Value, ApiError> {
    let found = row(env, fingerprint).await?;
    let mut ctx = Ctx::new(env, now)?;
    issues::operator(&mut ctx, &found, action).await?;
    show(env, fingerprint).await
}

/// `GET /scripts`: every script whose tail events reach the collector, with the last one's time
/// (recorded at most every ten minutes per isolate), newest first. A script missing here has
/// never named the collector as its tail consumer, or has not run in 90 days.
pub async fn scripts(env: &Env) -> Result<Value, ApiError> {
    let db = platform_worker::db(env, PlatformWorker::ErrorCollector)?;
    let scripts = platform_db::errors::tail_scripts::list(&db).await?;
    let listed: Vec<Value> = scripts
        .iter()
        .map(|s| {
            serde_json::json!({
                "script": s.script,
                "last_event_at": platform_core::time::iso8601(s.last_event_at),
            })
        })
        .collect();
    Ok(serde_json::json!({ "scripts": listed }))
}
