//! `POST /gap-alerts`: the sentinel's coverage-gap issue, at most once per project per UTC day.
//! `GAP_ALERT:{project}:{date}` is written only after GitHub accepted the issue; a D1 row claims
//! the day first so two concurrent calls cannot both file.

use platform_core::{ProjectId, UtcDay};
use platform_errors::render::{gap_issue, GAP_LABELS};
use platform_kv::families::GapAlert;
use platform_worker::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::Env;

use crate::context::Ctx;
use crate::ledger::{listing, DailyIssue, DailyKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapRequest {
    project: String,
    /// `owner/name`; else a repository the project's errors go to, else DEFAULT_REPOSITORY.
    repository: Option<String>,
    coverage: Option<f64>,
    #[serde(default)]
    details: Value,
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
    let known = listing::project_repository(&ctx.db, project.as_str()).await?;
    let repository = request
        .repository
        .filter(|r| r.split('/').count() == 2)
        .or(known)
        .or_else(|| ctx.default_repository())
        .ok_or_else(|| ApiError::bad_request("no repository known for this project: pass `repository`"))?;
    let day_text = day.to_string();
    let daily = DailyIssue {
        kind: DailyKind::Gap,
        project: project.as_str(),
        day,
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
