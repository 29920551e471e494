//! Keeps each fingerprint's GitHub issue: creates it once (atomic D1 claim, KV lock as a hint),
//! reopens it on regression unless silenced, comments on milestones, relabels on escalation.

use platform_core::time::iso8601;
use platform_core::UtcDay;
use platform_errors::lifecycle::{backoff_ms, decide, Action};
use platform_errors::priority::{labels, MUTED_LABEL, REGRESSION_LABEL, SILENCING_LABELS};
use platform_errors::render::{body, marker, occurrence_comment, IssueFacts};
use platform_errors::Priority;
use platform_kv::families::{ErrorFingerprint, IssueLock, TransientWindow};
use platform_kv::{Json, JsonObject};
use platform_worker::ApiError;
use serde_json::{json, Value};
use worker::Method;

use crate::context::Ctx;
use crate::github::GithubError;
use crate::ledger::{self, fingerprints, Fingerprint as Row, Status};

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

fn issue_body(row: &Row) -> String {
    let (first, last) = (iso8601(row.first_seen), iso8601(row.last_seen));
    body(&IssueFacts {
        fingerprint: &row.fingerprint,
        project: &row.project,
        script: &row.script,
        kind: row.kind,
        priority: row.priority,
        category: row.category.as_deref(),
        occurrences: row.occurrences,
        first_seen: &first,
        last_seen: &last,
        message: &row.message,
        sample: &row.sample,
        context: &row.last_context,
        logs: &row.last_logs,
    })
}

/// Caches the fingerprint's state in KV (a state change only, never per occurrence).
pub async fn cache_state(
    ctx: &mut Ctx<'_>,
    fingerprint: &str,
    status: Status,
    issue: Option<u64>,
    muted: bool,
) {
    let Ok(key) = ErrorFingerprint::key(fingerprint) else {
        return;
    };
    let mut value = JsonObject::new();
    value.insert("status".into(), json!(status.as_str()));
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
    if !fingerprints::claim_creation(&ctx.db, &row.fingerprint, ctx.now).await? {
        return Ok(());
    }
    let repository = row.repository.as_deref().unwrap_or("");
    if row.attempts > 0 {
        // An earlier attempt may have reached GitHub with its answer lost (a 502, a timeout, an
        // unreadable 201): find that issue before filing another.
        match ctx.find_filed(repository, &marker(&row.fingerprint)).await {
            Ok(Some(number)) => return filed(ctx, row, repository, number, window.as_ref()).await,
            Ok(None) => {}
            Err(error) => {
                ctx.report.failed += 1;
                let _ = ctx.store.unlock(&lock, &owner).await;
                let what = format!("looking for an issue filed before: {}", error.describe());
                return ledger::creation_failed(&ctx.db, row, &what, error.retry_at, false, ctx.now).await;
            }
        }
    }
    let full = json!({
        "title": row.title,
        "body": issue_body(row),
        "labels": labels(row.kind, row.priority, row.category.is_some()),
    });
    let mut result = ctx.create_issue(Some(&row.script), repository, &full).await;
    if matches!(&result, Err(e) if e.status == 422) {
        // Without the optional fields (labels) and with a shorter body.
        // The marker stays: it is how a lost answer is found again.
        let mut short: String = issue_body(row).chars().take(SHORT_BODY).collect();
        short.push_str(&format!("\n\n{}\n", marker(&row.fingerprint)));
        let minimal = json!({ "title": row.title, "body": short });
        result = ctx.create_issue(Some(&row.script), repository, &minimal).await;
    }
    match result {
        Ok(number) => {
            ctx.report.created += 1;
            filed(ctx, row, repository, number, window.as_ref()).await
        }
        Err(error) => {
            ctx.report.failed += 1;
            let _ = ctx.store.unlock(&lock, &owner).await;
            ledger::creation_failed(&ctx.db, row, &error.describe(), error.retry_at, true, ctx.now).await
        }
    }
}

/// Records the issue GitHub holds for `row` (created now, or found after a lost answer).
async fn filed(
    ctx: &mut Ctx<'_>,
    row: &Row,
    repository: &str,
    number: u64,
    window: Option<&platform_kv::Key<TransientWindow>>,
) -> Result<(), ApiError> {
    fingerprints::created(&ctx.db, &row.fingerprint, repository, number, ctx.now).await?;
    cache_state(ctx, &row.fingerprint, Status::Open, Some(number), false).await;
    if let Some(key) = window {
        match ctx.store.mark_once(key).await {
            Ok(_) => ctx.report.kv_writes += 1,
            Err(e) => ctx.fail("TRANSIENT", e),
        }
    }
    Ok(())
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
        fingerprints::set_muted(&ctx.db, &row.fingerprint, true).await?;
        cache_state(ctx, &row.fingerprint, row.status, Some(number), true).await;
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
            json!({ "body": occurrence_comment(row.occurrences, &iso8601(row.last_seen), &row.last_context, true) }),
        ),
    ];
    for (method, step_path, payload) in steps {
        if let Err(error) = call(ctx, &row.script, method, &step_path, Some(&payload)).await {
            ctx.report.failed += 1;
            return Err(ApiError::new(502, error.describe()));
        }
    }
    ctx.report.reopened += 1;
    cache_state(ctx, &row.fingerprint, Status::Open, Some(number), false).await;
    Ok(true)
}

/// Puts a claimed reopening back, so that a later occurrence tries again.
async fn restore(ctx: &Ctx<'_>, row: &Row) -> Result<(), ApiError> {
    Ok(fingerprints::set_status(&ctx.db, &row.fingerprint, Status::Resolved).await?)
}

async fn reopen(ctx: &mut Ctx<'_>, row: &Row) -> Result<(), ApiError> {
    let Some(number) = row.issue_number else {
        return Ok(());
    };
    if !ctx.may_write(&row.script).await
        || !fingerprints::claim_reopen(&ctx.db, &row.fingerprint, ctx.now).await?
    {
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
    let Some(number) = row.issue_number else {
        return Ok(());
    };
    if !ctx.may_write(&row.script).await || !fingerprints::claim_update(&ctx.db, row, ctx.now).await? {
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
        if let Some(previous) = row.issue_priority {
            // Best effort: the issue keeps both labels if GitHub refuses.
            let stale = format!("{path}/labels/{}", previous.label());
            if let Err(error) = call(ctx, &row.script, Method::Delete, &stale, None).await {
                ctx.fail("removing the previous priority label", error.describe());
            }
        }
        fingerprints::set_issue_priority(&ctx.db, &row.fingerprint, priority).await?;
        ctx.report.relabelled += 1;
    }
    if comment {
        let text = occurrence_comment(row.occurrences, &iso8601(row.last_seen), &row.last_context, false);
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
    let number = row.issue_number;
    let (status, muted) = match action {
        "mute" => (row.status, true),
        "unmute" => (row.status, false),
        _ => (Status::Resolved, row.muted),
    };
    match action {
        "mute" | "unmute" => fingerprints::set_muted(&ctx.db, &row.fingerprint, muted).await?,
        _ => fingerprints::set_status(&ctx.db, &row.fingerprint, status).await?,
    }
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
