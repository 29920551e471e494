//! `POST /gap-alerts`: the sentinel's coverage-gap issue, at most once per project per UTC day.
//! `GAP_ALERT:{project}:{date}` is written only after GitHub accepted the issue; a D1 row claims
//! the day first so two concurrent calls cannot both file.

use platform_core::{ProjectId, UtcDay};
use platform_errors::render::{gap_issue, GAP_LABELS};
use platform_kv::families::GapAlert;
use platform_worker::{d1, ApiError};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Method};

use crate::context::Ctx;
use crate::github::Github;
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

#[derive(Deserialize)]
struct Claimed {
    #[allow(dead_code)]
    day: String,
}

pub async fn file(env: &Env, request: GapRequest, now: u64) -> Result<Value, ApiError> {
    let project = ProjectId::parse(&request.project).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let day = UtcDay::containing(now);
    let ctx = Ctx::new(env, now)?;
    let key = GapAlert::key(&project, day)?;
    if ctx.store.get(&key).await?.is_some() {
        return Ok(json!({ "filed": false, "reason": "already filed today" }));
    }
    let github = Github::from_env(env).ok_or_else(|| ApiError::unavailable("GITHUB_TOKEN is not set"))?;
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
    let claimed: Vec<Claimed> = d1::query(
        &ctx.db,
        "claiming the day's gap issue",
        "INSERT INTO error_daily_issues (kind, project, day, claimed_at) VALUES ('gap', ?1, ?2, ?3) \
         ON CONFLICT (kind, project, day) DO UPDATE SET claimed_at = excluded.claimed_at \
         WHERE issue_number IS NULL AND claimed_at <= ?4 RETURNING day",
        &[
            d1::text(project.as_str()),
            d1::text(&day.to_string()),
            d1::ms(now),
            d1::ms(now.saturating_sub(60_000)),
        ],
    )
    .await?;
    if claimed.is_empty() {
        return Ok(json!({ "filed": false, "reason": "already filed or being filed today" }));
    }
    let details = match &request.details {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let (title, body) = gap_issue(
        project.as_str(),
        &day.to_string(),
        request.coverage,
        &platform_errors::redact::redact(&details),
    );
    let payload = json!({ "title": title, "body": body, "labels": GAP_LABELS });
    match github
        .call(
            Method::Post,
            &format!("/repos/{repository}/issues"),
            Some(&payload),
            now,
        )
        .await
    {
        Ok(issue) => {
            let number = issue.get("number").and_then(Value::as_u64).unwrap_or(0);
            d1::execute(
                &ctx.db,
                "recording the gap issue",
                "UPDATE error_daily_issues SET issue_number = ?1 WHERE kind = 'gap' AND project = ?2 AND day = ?3",
                &[d1::number(number as f64), d1::text(project.as_str()), d1::text(&day.to_string())],
            )
            .await?;
            ctx.store.mark_once(&key).await?;
            ledger::state(
                &ctx.db,
                "last_issue_write",
                &format!("{repository}#{number}"),
                now,
            )
            .await?;
            Ok(json!({ "filed": true, "issue": number, "repository": repository }))
        }
        Err(error) => {
            d1::execute(
                &ctx.db,
                "releasing the gap claim",
                "DELETE FROM error_daily_issues WHERE kind = 'gap' AND project = ?1 AND day = ?2 AND issue_number IS NULL",
                &[d1::text(project.as_str()), d1::text(&day.to_string())],
            )
            .await?;
            Err(ApiError::new(502, error.describe()))
        }
    }
}
