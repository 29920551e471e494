//! Keeps each fingerprint's GitHub issue: creates it once (atomic D1 claim, KV lock as a hint),
//! reopens it on regression unless silenced, comments on milestones, relabels on escalation.

use platform_core::time::iso8601;
use platform_core::UtcDay;
use platform_errors::lifecycle::{backoff_ms, decide, Action};
use platform_errors::priority::{labels, MUTED_LABEL, REGRESSION_LABEL, SILENCING_LABELS};
use platform_errors::render::{body, occurrence_comment, IssueFacts};
use platform_errors::Priority;
use platform_kv::families::{ErrorFingerprint, IssueLock, TransientWindow};
use platform_kv::{Json, JsonObject};
use platform_worker::{d1, ApiError};
use serde_json::{json, Value};
use worker::Method;

use crate::context::Ctx;
use crate::github::GithubError;
use crate::ledger::{self, Column, Row};

/// Body size used when GitHub refused the full request (422).
const SHORT_BODY: usize = 8_000;

fn issue_path(row: &Row, number: u64) -> String {
    format!(
        "/repos/{}/issues/{number}",
        row.repository.as_deref().unwrap_or("")
    )
}

/// Makes the issue match the row after a batch counted it.
pub async fn sync(ctx: &mut Ctx<'_>, row: &Row) -> Result<(), ApiError> {
    match decide(&row.state(), ctx.now) {
        Action::Nothing => Ok(()),
        Action::Create => create(ctx, row).await,
        Action::Reopen => reopen(ctx, row).await,
        Action::Update { comment, relabel } => update(ctx, row, comment, relabel).await,
    }
}

async fn call(
    ctx: &mut Ctx<'_>,
    script: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, GithubError> {
    ctx.github_call(Some(script), method, path, body).await
}

fn facts(row: &Row) -> (String, String, Vec<String>) {
    (
        iso8601(row.first_seen as u64),
        iso8601(row.last_seen as u64),
        row.logs(),
    )
}

fn issue_body(row: &Row) -> String {
    let (first, last, logs) = facts(row);
    body(&IssueFacts {
        fingerprint: &row.fingerprint,
        project: &row.project,
        script: &row.script,
        kind: row.kind(),
        priority: row.priority(),
        category: row.category.as_deref(),
        occurrences: row.occurrences as u64,
        first_seen: &first,
        last_seen: &last,
        message: &row.message,
        sample: &row.sample,
        context: &row.last_context,
        logs: &logs,
    })
}

/// Caches the fingerprint's state in KV (a state change only, never per occurrence).
pub async fn cache_state(
    ctx: &mut Ctx<'_>,
    fingerprint: &str,
    status: &str,
    issue: Option<u64>,
    muted: bool,
) {
    let Ok(key) = ErrorFingerprint::key(fingerprint) else {
        return;
    };
    let mut value = JsonObject::new();
    value.insert("status".into(), json!(status));
    value.insert("issue".into(), json!(issue));
    value.insert("muted".into(), json!(muted));
    value.insert("updated_at".into(), json!(ctx.now));
    match ctx.store.put(&key, &Json(value)).await {
        Ok(()) => ctx.report.kv_writes += 1,
        Err(e) => ctx.fail("ERROR_FINGERPRINT", e),
    }
}

async fn create(ctx: &mut Ctx<'_>, row: &Row) -> Result<(), ApiError> {
    if ctx.github.is_none() {
        return Ok(());
    }
    if ctx.halted {
        // GitHub refused this invocation: the retry cron takes it when GitHub said to come back.
        ctx.report.deferred += 1;
        let at = ctx.resume_at.unwrap_or(ctx.now + backoff_ms(1));
        return ledger::creation_failed(&ctx.db, row, "GitHub asked to wait", Some(at), false, ctx.now).await;
    }
    let day = UtcDay::containing(ctx.now);
    let window = match row.category.as_deref() {
        Some(category) => TransientWindow::key(&row.script, category, day).ok(),
        None => None,
    };
    if let Some(key) = &window {
        if ctx.store.get(key).await?.is_some() {
            return Ok(()); // This category already has today's issue for this script.
        }
    }
    if !ctx.may_write(&row.script).await {
        ctx.report.deferred += 1;
        let next_hour = ctx.hour().next_start_ms();
        return ledger::creation_failed(
            &ctx.db,
            row,
            "hourly GitHub write limit",
            Some(next_hour),
            false,
            ctx.now,
        )
        .await;
    }
    if let Some(cap) = ctx.daily_cap_reached(&row.script).await? {
        ctx.report.deferred += 1;
        return ledger::creation_failed(&ctx.db, row, cap, Some(day.next_start_ms()), false, ctx.now).await;
    }
    let owner = format!("{}:{}", row.fingerprint, ctx.now);
    let lock = IssueLock::key(&row.fingerprint)?;
    if !ctx.store.try_lock(&lock, &owner, 60).await.unwrap_or(true) {
        return Ok(());
    }
    ctx.report.kv_writes += 1;
    if !ledger::claim_creation(&ctx.db, &row.fingerprint, ctx.now).await? {
        return Ok(());
    }
    let repository = row.repository.as_deref().unwrap_or("");
    let full = json!({
        "title": row.title,
        "body": issue_body(row),
        "labels": labels(row.kind(), row.priority(), row.category.is_some()),
    });
    let mut result = ctx.create_issue(Some(&row.script), repository, &full).await;
    if matches!(&result, Err(e) if e.status == 422) {
        // Without the optional fields (labels) and with a shorter body.
        let short: String = issue_body(row).chars().take(SHORT_BODY).collect();
        let minimal = json!({ "title": row.title, "body": short });
        result = ctx.create_issue(Some(&row.script), repository, &minimal).await;
    }
    match result {
        Ok(number) => {
            ledger::created(&ctx.db, row, number, ctx.now).await?;
            ctx.report.created += 1;
            cache_state(ctx, &row.fingerprint, "open", Some(number), false).await;
            if let Some(key) = &window {
                match ctx.store.mark_once(key).await {
                    Ok(_) => ctx.report.kv_writes += 1,
                    Err(e) => ctx.fail("TRANSIENT", e),
                }
            }
            Ok(())
        }
        Err(error) => {
            ctx.report.failed += 1;
            let _ = ctx.store.unlock(&lock, &owner).await;
            ledger::creation_failed(&ctx.db, row, &error.describe(), error.retry_at, true, ctx.now).await
        }
    }
}

fn silenced(issue: &Value) -> bool {
    issue
        .get("labels")
        .and_then(Value::as_array)
        .is_some_and(|labels| {
            labels.iter().any(|l| {
                let name = l.get("name").and_then(Value::as_str).or(l.as_str()).unwrap_or("");
                SILENCING_LABELS.contains(&name)
            })
        })
}

/// Reopens with `cf:regression`, unless the issue carries `cf:muted`/`cf:wont-fix` (then the
/// fingerprint is muted). Returns whether it reopened.
async fn regress(ctx: &mut Ctx<'_>, row: &Row, number: u64, issue: &Value) -> Result<bool, ApiError> {
    if silenced(issue) {
        ledger::set(&ctx.db, &row.fingerprint, Column::Muted, d1::flag(true)).await?;
        cache_state(ctx, &row.fingerprint, &row.status, Some(number), true).await;
        return Ok(false);
    }
    let path = issue_path(row, number);
    let steps = [
        (Method::Patch, path.clone(), json!({ "state": "open" })),
        (
            Method::Post,
            format!("{path}/labels"),
            json!({ "labels": [REGRESSION_LABEL] }),
        ),
        (
            Method::Post,
            format!("{path}/comments"),
            json!({ "body": occurrence_comment(row.occurrences as u64, &iso8601(row.last_seen as u64), &row.last_context, true) }),
        ),
    ];
    for (method, step_path, payload) in steps {
        if let Err(error) = call(ctx, &row.script, method, &step_path, Some(&payload)).await {
            ctx.report.failed += 1;
            return Err(ApiError::new(502, error.describe()));
        }
    }
    ctx.report.reopened += 1;
    cache_state(ctx, &row.fingerprint, "open", Some(number), false).await;
    Ok(true)
}

/// Puts a claimed reopening back, so that a later occurrence tries again.
async fn restore(ctx: &Ctx<'_>, row: &Row) -> Result<(), ApiError> {
    ledger::set(&ctx.db, &row.fingerprint, Column::Status, d1::text("resolved")).await
}

async fn reopen(ctx: &mut Ctx<'_>, row: &Row) -> Result<(), ApiError> {
    let Some(number) = row.issue() else { return Ok(()) };
    if !ctx.may_write(&row.script).await || !ledger::claim_reopen(&ctx.db, row, ctx.now).await? {
        return Ok(());
    }
    let issue = match call(ctx, &row.script, Method::Get, &issue_path(row, number), None).await {
        Ok(issue) => issue,
        Err(error) => {
            restore(ctx, row).await?;
            return Err(ApiError::new(502, error.describe()));
        }
    };
    match regress(ctx, row, number, &issue).await {
        Ok(true) => Ok(()),
        Ok(false) => restore(ctx, row).await,
        Err(error) => {
            restore(ctx, row).await?;
            Err(error)
        }
    }
}

async fn update(
    ctx: &mut Ctx<'_>,
    row: &Row,
    comment: bool,
    relabel: Option<Priority>,
) -> Result<(), ApiError> {
    let Some(number) = row.issue() else { return Ok(()) };
    if !ctx.may_write(&row.script).await || !ledger::claim_update(&ctx.db, row, ctx.now).await? {
        return Ok(());
    }
    let path = issue_path(row, number);
    let issue = call(ctx, &row.script, Method::Get, &path, None)
        .await
        .map_err(|e| ApiError::new(502, e.describe()))?;
    if issue.get("state").and_then(Value::as_str) == Some("closed") {
        // Closed on GitHub while the error went on: a regression.
        return regress(ctx, row, number, &issue).await.map(|_| ());
    }
    if let Some(priority) = relabel {
        let payload = json!({ "labels": [priority.label()] });
        call(
            ctx,
            &row.script,
            Method::Post,
            &format!("{path}/labels"),
            Some(&payload),
        )
        .await
        .map_err(|e| ApiError::new(502, e.describe()))?;
        if let Some(previous) = row.state().issue_priority {
            // Best effort: the issue keeps both labels if GitHub refuses.
            let stale = format!("{path}/labels/{}", previous.label());
            if let Err(error) = call(ctx, &row.script, Method::Delete, &stale, None).await {
                ctx.fail("removing the previous priority label", error.describe());
            }
        }
        ledger::set(
            &ctx.db,
            &row.fingerprint,
            Column::IssuePriority,
            d1::text(priority.as_str()),
        )
        .await?;
        ctx.report.relabelled += 1;
    }
    if comment {
        let text = occurrence_comment(
            row.occurrences as u64,
            &iso8601(row.last_seen as u64),
            &row.last_context,
            false,
        );
        call(
            ctx,
            &row.script,
            Method::Post,
            &format!("{path}/comments"),
            Some(&json!({ "body": text })),
        )
        .await
        .map_err(|e| ApiError::new(502, e.describe()))?;
        ctx.report.comments += 1;
    }
    Ok(())
}

/// The operator's mute/unmute/resolve, mirrored on GitHub where there is an issue (best effort:
/// D1 is the record).
pub async fn operator(ctx: &mut Ctx<'_>, row: &Row, action: &str) -> Result<(), ApiError> {
    let number = row.issue();
    let (column, value) = match action {
        "mute" => (Column::Muted, d1::flag(true)),
        "unmute" => (Column::Muted, d1::flag(false)),
        _ => (Column::Status, d1::text("resolved")),
    };
    ledger::set(&ctx.db, &row.fingerprint, column, value).await?;
    let muted = match action {
        "mute" => true,
        "unmute" => false,
        _ => row.muted != 0.0,
    };
    let status = if action == "resolve" {
        "resolved"
    } else {
        row.status.as_str()
    };
    if let Some(number) = number {
        let path = issue_path(row, number);
        let step = match action {
            "mute" => Some((
                Method::Post,
                format!("{path}/labels"),
                Some(json!({ "labels": [MUTED_LABEL] })),
            )),
            "unmute" => Some((Method::Delete, format!("{path}/labels/{MUTED_LABEL}"), None)),
            _ => Some((
                Method::Patch,
                path.clone(),
                Some(json!({ "state": "closed", "state_reason": "completed" })),
            )),
        };
        if let Some((method, step_path, payload)) = step {
            // An operator's own actions do not use up the script's automatic write budget.
            if let Err(error) = ctx.github_call(None, method, &step_path, payload.as_ref()).await {
                ctx.fail("GitHub", error.describe());
            }
        }
    }
    cache_state(ctx, &row.fingerprint, status, number, muted).await;
    Ok(())
}
