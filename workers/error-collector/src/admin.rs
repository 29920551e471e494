//! Operator routes over the fingerprint record: list, show, mute/unmute, resolve.

use platform_errors::fingerprint::is_fingerprint;
use platform_errors::Priority;
use platform_worker::{d1, ApiError};
use serde::Serialize;
use serde_json::Value;
use worker::{Env, Request};

use crate::context::Ctx;
use crate::{issues, ledger};

#[derive(Debug, Serialize, serde::Deserialize)]
struct Summary {
    fingerprint: String,
    project: String,
    script: String,
    kind: String,
    category: Option<String>,
    priority: String,
    title: String,
    occurrences: f64,
    first_seen: f64,
    last_seen: f64,
    status: String,
    muted: f64,
    issue_number: Option<f64>,
    repository: Option<String>,
    last_error: Option<String>,
}

/// `GET /errors?project=&script=&status=&priority=&limit=`.
pub async fn list(req: &Request, env: &Env) -> Result<Value, ApiError> {
    let url = req.url().map_err(|e| ApiError::bad_request(e.to_string()))?;
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    if let Some(priority) = param("priority") {
        Priority::parse(&priority).ok_or_else(|| ApiError::bad_request("priority must be P0..P4"))?;
    }
    if let Some(status) = param("status") {
        if !["open", "resolved", "muted"].contains(&status.as_str()) {
            return Err(ApiError::bad_request("status must be open, resolved or muted"));
        }
    }
    let limit = match param("limit") {
        None => 100,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit must be a whole number from 1 to 500"))?,
    };
    let db = platform_worker::database(env)?;
    let rows: Vec<Summary> = d1::query(
        &db,
        "listing errors",
        "SELECT fingerprint, project, script, kind, category, priority, title, occurrences, first_seen, last_seen, \
         status, muted, issue_number, repository, last_error FROM error_fingerprints \
         WHERE (?1 IS NULL OR project = ?1) AND (?2 IS NULL OR script = ?2) \
         AND (?3 IS NULL OR (?3 = 'muted' AND muted = 1) OR (?3 != 'muted' AND status = ?3 AND muted = 0)) \
         AND (?4 IS NULL OR priority = ?4) ORDER BY last_seen DESC LIMIT ?5",
        &[
            d1::optional_text(param("project").as_deref()),
            d1::optional_text(param("script").as_deref()),
            d1::optional_text(param("status").as_deref()),
            d1::optional_text(param("priority").as_deref()),
            d1::number(limit),
        ],
    )
    .await?;
    Ok(serde_json::json!({ "errors": rows }))
}

async fn row(env: &Env, fingerprint: &str) -> Result<ledger::Row, ApiError> {
    if !is_fingerprint(fingerprint) {
        return Err(ApiError::bad_request(
            "a fingerprint is 32 lower-case hex characters",
        ));
    }
    let db = platform_worker::database(env)?;
    ledger::get(&db, fingerprint)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no error with fingerprint {fingerprint}")))
}

/// `GET /errors/{fingerprint}`.
pub async fn show(env: &Env, fingerprint: &str) -> Result<Value, ApiError> {
    let row = row(env, fingerprint).await?;
    serde_json::to_value(row).map_err(|e| ApiError::internal("encoding an error", e))
}

/// `POST /errors/{fingerprint}/{mute|unmute|resolve}`.
pub async fn act(env: &Env, fingerprint: &str, action: &str, now: u64) -> Result<Value, ApiError> {
    let found = row(env, fingerprint).await?;
    let mut ctx = Ctx::new(env, now)?;
    issues::operator(&mut ctx, &found, action).await?;
    show(env, fingerprint).await
}
