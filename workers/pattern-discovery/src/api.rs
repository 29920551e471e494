//! The operator's routes: the patterns with their evidence, and approve / reject / disable.

use platform_db::patterns::{self, Change, Pattern};
use platform_patterns::lifecycle::{act, Action};
use platform_patterns::Status;
use platform_worker::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::Env;

use crate::cache;
use crate::run::{self, ID};

/// Fingerprints a pattern's page lists at most.
const SILENCED: u32 = 50;

/// A pattern with what it matched live: matches per UTC day and in all.
fn with_evidence(
    row: &Pattern,
    evidence: Option<&platform_patterns::lifecycle::Evidence>,
) -> Result<Value, ApiError> {
    let mut value = serde_json::to_value(row).map_err(|e| ApiError::internal("encoding a pattern", e))?;
    let by_day = evidence.map(run::matches_by_day).unwrap_or_default();
    let total: u64 = by_day.values().sum();
    if let Value::Object(fields) = &mut value {
        fields.insert("matches".into(), json!(total));
        fields.insert("matches_by_day".into(), json!(by_day));
    }
    Ok(value)
}

/// `GET /patterns?status=&limit=`: every status when none is named.
pub async fn list(env: &Env, status: Option<String>, limit: u32) -> Result<Value, ApiError> {
    let statuses = match status.as_deref().filter(|s| !s.is_empty()) {
        None => Status::ALL.to_vec(),
        Some(raw) => vec![Status::parse(raw).ok_or_else(|| {
            let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!("status must be one of {}", known.join(", ")))
        })?],
    };
    let db = platform_worker::db(env, ID)?;
    let rows = patterns::with_status(&db, &statuses, limit).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let evidence = patterns::evidence(&db, &ids).await?;
    let listed = rows
        .iter()
        .map(|row| with_evidence(row, evidence.get(&row.id)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "patterns": listed }))
}

fn checked_id(id: &str) -> Result<&str, ApiError> {
    let valid = id.len() == 20 && id.starts_with("pat-") && id[4..].bytes().all(|b| b.is_ascii_hexdigit());
    if valid {
        Ok(id)
    } else {
        Err(ApiError::bad_request(format!(
            "{id:?} is not a pattern id (pat- and 16 hex digits)"
        )))
    }
}

async fn found(db: &platform_worker::PlatformDb, id: &str) -> Result<Pattern, ApiError> {
    patterns::get(db, checked_id(id)?)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no pattern {id}")))
}

/// `GET /patterns/:id`: the pattern, its matches per day, and the fingerprints it matched live
/// (those it silences once approved) next to those its backtest matched.
pub async fn show(env: &Env, id: &str) -> Result<Value, ApiError> {
    let db = platform_worker::db(env, ID)?;
    let row = found(&db, id).await?;
    let evidence = patterns::evidence(&db, std::slice::from_ref(&row.id)).await?;
    let silenced = patterns::silenced(&db, &row.id, SILENCED).await?;
    let mut value = with_evidence(&row, evidence.get(&row.id))?;
    if let Value::Object(fields) = &mut value {
        fields.insert("would_silence".into(), json!(silenced));
    }
    Ok(value)
}

/// The body of approve, reject and disable.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Who decided (kept on the pattern).
    pub by: Option<String>,
    /// Why (kept as the pattern's reason when it leaves the path).
    pub reason: Option<String>,
}

fn text(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > 200 => Err(ApiError::bad_request(format!(
            "{field} is longer than 200 characters"
        ))),
        other => Ok(other),
    }
}

/// `POST /patterns/:id/{approve,reject,disable}`. Approving runs the safety check again over
/// today's stored errors; every change rewrites the KV lists.
pub async fn decide(
    env: &Env,
    id: &str,
    action: Action,
    body: Decision,
    now: u64,
) -> Result<Value, ApiError> {
    let by = text("by", body.by)?.unwrap_or_else(|| "admin".to_owned());
    let reason = text("reason", body.reason)?;
    let db = platform_worker::db(env, ID)?;
    let store = platform_worker::store(env, ID)?;
    let row = found(&db, id).await?;
    let next = act(row.status, action).map_err(|why| ApiError::new(409, why))?;
    let mut backtest = None;
    if action == Action::Approve {
        let corpus = run::corpus(&db, now).await?;
        let test = run::recheck(&row, &corpus).map_err(|refusal| {
            ApiError::new(409, format!("the safety check refuses {}: {refusal}", row.id))
        })?;
        backtest = serde_json::to_string(&test).ok();
    }
    let change = Change {
        reason: if next == Status::Approved {
            None
        } else {
            reason.as_deref()
        },
        approved: next == Status::Approved,
        by: Some(&by),
        backtest,
        ..Change::default()
    };
    let moved =
        patterns::move_one(&db, patterns::transition(&row.id, row.status, next, &change, now)).await?;
    if !moved {
        return Err(ApiError::new(
            409,
            format!(
                "{} changed while it was being {}; try again",
                row.id,
                action.done()
            ),
        ));
    }
    let refreshed = cache::refresh(&db, &store).await?;
    let row = found(&db, &row.id).await?;
    Ok(json!({ "pattern": row, "cache": refreshed }))
}
