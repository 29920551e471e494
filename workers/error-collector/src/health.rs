//! `GET /health`: the common report plus GitHub (configured, authorised), unmapped scripts seen,
//! the last successful issue write, today's issue creations against the account's cap, and each
//! handler's runs (a stale or failing one is a warning).

use platform_core::handlers::HandlerSpec;
use platform_core::UtcDay;
use platform_db::errors::{CollectorState, Fact};
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

    let github = match Github::from_env(env) {
        None => json!({ "configured": false, "authorised": false }),
        Some(github) => match github.call(Method::Get, "/user", None, now).await {
            Ok(user) => json!({ "configured": true, "authorised": true, "login": user.get("login") }),
            Err(error) => {
                warnings.push(format!("GitHub refused the token: {}", error.describe()));
                json!({ "configured": true, "authorised": false, "error": error.describe() })
            }
        },
    };
    let (unmapped, facts, created_today) = match platform_worker::db(env, info.id) {
        Ok(db) => {
            let unmapped = listing::unmapped_scripts(&db, 100).await.unwrap_or_default();
            let facts = state::read(&db).await.unwrap_or_default();
            let today = UtcDay::containing(now).start_ms();
            let created = fingerprints::created_since(&db, today, None)
                .await
                .unwrap_or_default();
            (unmapped, facts, created.account)
        }
        Err(_) => (Vec::new(), CollectorState::default(), 0),
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
