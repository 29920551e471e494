//! `GET /health`: the common report plus GitHub (configured, authorised), unmapped scripts seen,
//! the last successful issue write, today's issue creations against the account's cap, and each
//! handler's runs (a stale or failing one is a warning).

use platform_core::handlers::HandlerSpec;
use platform_core::UtcDay;
use platform_db::errors::{CollectorState, Fact, FactKey};
use platform_errors::UNMAPPED_PROJECT;
use platform_worker::health::Health;
use platform_worker::response::json_response;
use platform_worker::WorkerInfo;
use serde_json::{json, Value};
use worker::{Env, Method, Response};

use crate::context;
use crate::github::Github;
use crate::ledger::{fingerprints, listing, state};

pub async fn respond(
    info: &WorkerInfo,
    env: &Env,
    handlers: &[HandlerSpec],
    now: u64,
) -> worker::Result<Response> {
    let health = Health::of(info, env)
        .with_handlers(info, env, handlers, now)
        .await;
    let status = if health.ok { 200 } else { 503 };
    let mut warnings = health.warnings.clone();
    let mut report = serde_json::to_value(&health).unwrap_or(Value::Null);

    let db = platform_worker::db(env, info.id).ok();
    let facts = match &db {
        Some(db) => state::read(db).await.unwrap_or_default(),
        None => CollectorState::default(),
    };
    let github = match Github::from_env(env) {
        None => json!({ "configured": false, "authorised": false }),
        Some(github) => {
            let tag = github.tag();
            let recorded = facts.github_check.clone().filter(|fact| fresh(fact, now));
            let check = match recorded.and_then(|fact| verdict_for(&fact, &tag)) {
                Some(recorded) => recorded,
                None => check_token(&github, &tag, db.as_ref(), now).await,
            };
            let checked_at = platform_core::time::iso8601(check.at);
            match check.value.split_once(':') {
                Some(("ok", login)) => {
                    json!({ "configured": true, "authorised": true, "login": login, "checked_at": checked_at })
                }
                _ => {
                    let reason = check.value.strip_prefix("refused:").unwrap_or(&check.value);
                    warnings.push(format!("GitHub refused the token: {reason}"));
                    json!({ "configured": true, "authorised": false, "error": reason, "checked_at": checked_at })
                }
            }
        }
    };
    let (unmapped, created_today) = match &db {
        Some(db) => {
            let unmapped = listing::unmapped_scripts(db, 100).await.unwrap_or_default();
            let today = UtcDay::containing(now).start_ms();
            let created = fingerprints::created_since(db, today, None)
                .await
                .unwrap_or_default();
            (unmapped, created.account)
        }
        None => (Vec::new(), 0),
    };
    let account_cap = context::account_daily_limit(env);
    if created_today >= account_cap {
        warnings.push(format!(
            "the account's daily issue cap ({account_cap}) is reached: new issues wait for the next UTC day"
        ));
    }
    if !unmapped.is_empty() {
        warnings.push(format!(
            "errors from scripts without SCRIPT_MAP are recorded under project {UNMAPPED_PROJECT}: {}",
            unmapped.join(", ")
        ));
    }
    let fact = |fact: &Option<Fact>| {
        fact.as_ref()
            .map(|f| json!({ "value": f.value, "at": platform_core::time::iso8601(f.at) }))
    };
    if let Value::Object(map) = &mut report {
        map.insert("github".into(), github);
        map.insert("unmapped_scripts".into(), json!(unmapped));
        map.insert("last_issue_write".into(), json!(fact(&facts.last_issue_write)));
        map.insert("last_github_error".into(), json!(fact(&facts.last_github_error)));
        map.insert(
            "issues_created_today".into(),
            json!({ "count": created_today, "account_daily_limit": account_cap }),
        );
        map.insert("warnings".into(), json!(warnings));
    }
    json_response(status, &report)
}

/// How long a check of the token stands: `/health` is public and polled (the sentinel every five
/// minutes), and each caller must not cost a GitHub call against the token's rate limit.
const CHECK_STANDS_MS: u64 = 3_600_000;

/// The recorded verdict, if it was about this token (`{tag} ok:{login}` or `{tag} refused:…`).
fn verdict_for(fact: &Fact, tag: &str) -> Option<Fact> {
    let (recorded_tag, value) = fact.value.split_once(' ')?;
    (recorded_tag == tag).then(|| Fact {
        value: value.to_owned(),
        at: fact.at,
    })
}

fn fresh(check: &Fact, now: u64) -> bool {
    now.saturating_sub(check.at) < CHECK_STANDS_MS && check.at <= now
}

/// Asks GitHub who the token is (`GET /user`) and records a verdict (accepted, or refused with
/// 401/403), so the next hour's `/health` reads it instead of asking again. An outage or a rate
/// limit is no verdict on the token: reported, not recorded, asked again next time.
async fn check_token(github: &Github, tag: &str, db: Option<&platform_worker::PlatformDb>, now: u64) -> Fact {
    let (value, verdict) = match github.call(Method::Get, "/user", None, now).await {
        Ok(user) => {
            let login = user.get("login").and_then(Value::as_str).unwrap_or("");
            (format!("ok:{login}"), true)
        }
        Err(error) => (
            format!("refused:{}", error.describe()),
            matches!(error.status, 401 | 403),
        ),
    };
    if let (Some(db), true) = (db, verdict) {
        let recorded = format!("{tag} {value}");
        if let Err(error) = state::set(db, FactKey::GithubCheck, &recorded, now).await {
            worker::console_warn!("the GitHub token check was not recorded: {error}");
        }
    }
    Fact { value, at: now }
}
