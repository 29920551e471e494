//! `POST /github/webhook`: GitHub's `issues` events, signed with `GITHUB_WEBHOOK_SECRET`. A person
//! closing, reopening or muting an issue on GitHub changes the fingerprint's state at once: the
//! next occurrence of an error closed by hand reopens it with `cf:regression`.

use platform_errors::webhook::{issue_change, signature_valid};
use platform_worker::ApiError;
use serde_json::{json, Value};
use worker::{Env, Request};

use crate::context::Ctx;
use crate::issues;
use crate::ledger::fingerprints;
use platform_db::errors::deliveries;

pub const GITHUB_WEBHOOK_SECRET: &str = "GITHUB_WEBHOOK_SECRET";

pub async fn receive(req: &mut Request, env: &Env, now: u64) -> Result<Value, ApiError> {
    let secret = env
        .secret(GITHUB_WEBHOOK_SECRET)
        .map(|s| s.to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::unavailable("the GITHUB_WEBHOOK_SECRET secret is not set"))?;
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let signature =
        header("X-Hub-Signature-256").ok_or_else(|| ApiError::unauthorized("missing X-Hub-Signature-256"))?;
    let event = header("X-GitHub-Event").unwrap_or_default();
    let delivery = header("X-GitHub-Delivery");
    let body = req
        .bytes()
        .await
        .map_err(|e| ApiError::bad_request(format!("unreadable body: {e}")))?;
    if !signature_valid(&secret, &body, &signature) {
        return Err(ApiError::forbidden(
            "X-Hub-Signature-256 is not the body's HMAC under GITHUB_WEBHOOK_SECRET",
        ));
    }
    if event != "issues" {
        // `ping` when the hook is created; other events are not subscribed to by the setup.
        return Ok(json!({ "event": event, "applied": false }));
    }
    let payload: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    let Some(change) = issue_change(&payload).map_err(ApiError::bad_request)? else {
        return Ok(json!({ "event": event, "applied": false }));
    };
    let mut ctx = Ctx::new(env, now)?;
    // GitHub names each delivery; a replay of one already applied is acknowledged, not applied.
    let delivery = delivery
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty() && id.len() <= 100)
        .ok_or_else(|| ApiError::bad_request("missing X-GitHub-Delivery (GitHub names every delivery)"))?;
    if !deliveries::claim(&ctx.db, &delivery, now).await? {
        return Ok(json!({ "event": event, "applied": false, "duplicate": delivery }));
    }
    let applied = match fingerprints::apply_issue_change(&ctx.db, &change).await {
        Ok(applied) => applied,
        Err(error) => {
            // GitHub redelivers a failed delivery: let that one apply.
            if let Err(release) = deliveries::release(&ctx.db, &delivery).await {
                ctx.fail("releasing the delivery", release);
            }
            return Err(error.into());
        }
    };
    let Some(row) = applied else {
        // An issue the collector did not file (a digest, a gap alert, a person's own).
        return Ok(json!({ "event": event, "applied": false }));
    };
    issues::cache_state(
        &mut ctx,
        &row.fingerprint,
        row.status,
        Some(row.issue_number),
        row.muted,
    )
    .await;
    Ok(json!({
        "event": event,
        "applied": true,
        "fingerprint": row.fingerprint,
        "status": row.status,
        "muted": row.muted,
    }))
}
