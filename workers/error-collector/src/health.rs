//! `GET /health`: the common report plus GitHub (configured, authorised), unmapped scripts seen,
//! the last successful issue write, today's issue creations against the account's cap, and each
//! handler's runs (a stale or failing one is a warning).

use platform_core::handlers::HandlerSpec;
use platform_core::UtcDay;
use platform_errors::UNMAPPED_PROJECT;
use platform_worker::health::Health;
use platform_worker::response::json_response;
use platform_worker::{d1, WorkerInfo};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Method, Response};

use crate::github::Github;
use crate::{context, ledger};

#[derive(Deserialize)]
struct Script {
    script: String,
}

#[derive(Deserialize)]
struct Fact {
    key: String,
    value: String,
    at: f64,
}

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
    let (unmapped, facts, created_today) = match platform_worker::database(env) {
        Ok(db) => {
            let unmapped: Vec<Script> = d1::query(
                &db,
                "listing unmapped scripts",
                "SELECT DISTINCT script FROM error_fingerprints WHERE project = ?1 ORDER BY script LIMIT 100",
                &[d1::text(UNMAPPED_PROJECT)],
            )
            .await
            .unwrap_or_default();
            let facts: Vec<Fact> = d1::query(
                &db,
                "reading collector state",
                "SELECT key, value, at FROM error_collector_state",
                &[],
            )
            .await
            .unwrap_or_default();
            let today = UtcDay::containing(now).start_ms();
            let created = ledger::created_since(&db, today, None).await.unwrap_or_default();
            (unmapped, facts, created.account as u64)
        }
        Err(_) => (Vec::new(), Vec::new(), 0),
    };
    let account_cap = context::account_daily_limit(env);
    if created_today >= account_cap {
        warnings.push(format!(
            "the account's daily issue cap ({account_cap}) is reached: new issues wait for the next UTC day"
        ));
    }
    let unmapped: Vec<String> = unmapped.into_iter().map(|s| s.script).collect();
    if !unmapped.is_empty() {
        warnings.push(format!(
            "errors from scripts without SCRIPT_MAP are recorded under project {UNMAPPED_PROJECT}: {}",
            unmapped.join(", ")
        ));
    }
    let fact = |key: &str| {
        facts
            .iter()
            .find(|f| f.key == key)
            .map(|f| json!({ "value": f.value, "at": platform_core::time::iso8601(f.at as u64) }))
    };
    if let Value::Object(map) = &mut report {
        map.insert("github".into(), github);
        map.insert("unmapped_scripts".into(), json!(unmapped));
        map.insert("last_issue_write".into(), json!(fact("last_issue_write")));
        map.insert("last_github_error".into(), json!(fact("last_github_error")));
        map.insert(
            "issues_created_today".into(),
            json!({ "count": created_today, "account_daily_limit": account_cap }),
        );
        map.insert("warnings".into(), json!(warnings));
    }
    json_response(status, &report)
}
