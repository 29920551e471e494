//! `POST /gap-alerts`: the sentinel's coverage-gap issue, at most once per project per UTC day.
//! `GAP_ALERT:{project}:{date}` is written only after GitHub accepted the issue; a D1 row claims
//! the day first so two concurrent calls cannot both file.

use platform_core::{ProjectId, UtcDay};
use platform_errors::render::{gap_issue, GAP_LABELS};
use platform_kv::families::GapAlert;
use platform_worker::{d1, ApiError};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::Env;

use crate::context::Ctx;
use crate::ledger;

#[derive(Debug, Deserialize)]
pub struct GapRequest {
    project: String,
    /// `owner/name`; else a repository the project's errors go to, else DEFAULT_REPOSITORY.
    repository: Option<String>,
    coverage: Option<f64>,
    #[serde(default)]
    details: Value,
}

#[derive(Deserialize)]
struct Repo {
    repository: String,
}

pub async fn file(env: &Env, request: GapRequest, now: u64) -> Result<Value, ApiError> {
    let project = ProjectId::parse(&request.project).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let day = UtcDay::containing(now);
    let mut ctx = Ctx::new(env, now)?;
    let key = GapAlert::key(&project, day)?;
    if ctx.store.get(&key).await?.is_some() {
        return Ok(json!({ "filed": false, "reason": "already filed today" }));
    }
    if ctx.github.is_none() {
        return Err(ApiError::unavailable("GITHUB_TOKEN is not set"));
    }
    let known: Option<Repo> = d1::query_first(
        &ctx.db,
        "finding the project's repository",
        "SELECT repository FROM error_fingerprints WHERE project = ?1 AND repository IS NOT NULL LIMIT 1",
        &[d1::text(project.as_str())],
    )
    .await?;
    let repository = request
        .repository
        .filter(|r| r.split('/').count() == 2)
        .or(known.map(|k| k.repository))
        .or_else(|| ctx.default_repository())
        .ok_or_else(|| ApiError::bad_request("no repository known for this project: pass `repository`"))?;
    let day_text = day.to_string();
    let daily = ledger::DailyIssue {
        kind: "gap",
        project: project.as_str(),
        day: &day_text,
    };
    if !daily.claim(&ctx.db, now).await? {
        return Ok(json!({ "filed": false, "reason": "already filed or being filed today" }));
    }
    let details = match &request.details {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let (title, body) = gap_issue(
        project.as_str(),
        &day_text,
        request.coverage,
        &platform_errors::redact::redact(&details),
    );
    let payload = json!({ "title": title, "body": body, "labels": GAP_LABELS });
    match ctx.file_daily_issue(&daily, &repository, &payload).await? {
        Ok(number) => {
            ctx.store.mark_once(&key).await?;
            Ok(json!({ "filed": true, "issue": number, "repository": repository }))
        }
        Err(error) => Err(ApiError::new(502, error.describe())),
    }
}
