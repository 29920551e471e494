//! The admin API. Every route needs the admin bearer token (checked by the router); bodies are
//! strict JSON, and anything malformed or unknown is a 400 that says what was wrong.

use std::collections::BTreeMap;

use platform_core::alert::AlertSubject;
use platform_core::breaker::ProjectBreaker;
use platform_core::time::{iso8601, iso_fields};
use platform_core::{EpochMs, FeatureKey, ProjectId, UtcDay};
use platform_db::usage::admin::{self as ledger, RejectStatus};
use platform_db::usage::ledger::{EventRecord, Transaction};
use platform_worker::{alerts, ApiError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::Env;

use crate::ingest::{database, metered_store};
use crate::{broadcast, context};

/// The producer binding replays go to.
pub const TELEMETRY_BINDING: &str = "PLATFORM_TELEMETRY";

/// A feature key from its path parameter (decoded by the router).
pub fn feature_key(raw: &str) -> Result<FeatureKey, ApiError> {
    FeatureKey::parse(raw).map_err(|e| ApiError::bad_request(e.to_string()))
}

pub fn project_id(raw: &str) -> Result<ProjectId, ApiError> {
    ProjectId::parse(raw).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// How far back usage makes a feature known to an operator's action: a billing month and a day.
const KNOWN_WITHIN_DAYS: u64 = 32;

/// Refuses an action on a feature the platform knows nothing of (most likely a typo): a 404, not a
/// silent success that guards nothing.
async fn known_feature(
    db: &platform_worker::PlatformDb,
    feature: &FeatureKey,
    now: EpochMs,
) -> Result<(), ApiError> {
    let since = UtcDay::containing(now.saturating_sub(KNOWN_WITHIN_DAYS * 86_400_000)).to_string();
    if ledger::feature_known(db, feature, &since).await? {
        return Ok(());
    }
    Err(ApiError::not_found(format!(
        "unknown feature {feature}: services.yaml does not declare it and it has sent no telemetry; \
         check the key (project:category:feature) against `GET /status` or the config"
    )))
}

async fn known_project(db: &platform_worker::PlatformDb, project: &ProjectId) -> Result<(), ApiError> {
    if ledger::project_known(db, project).await? {
        return Ok(());
    }
    Err(ApiError::not_found(format!(
        "unknown project {project}: services.yaml does not declare it and none of its features has sent telemetry"
    )))
}

/// A breaker as the admin API answers it: its instants in ISO 8601.
fn breaker_view(breaker: &impl Serialize) -> Value {
    let mut view = serde_json::to_value(breaker).unwrap_or(Value::Null);
    iso_fields(
        &mut view,
        &[
            "tripped_at",
            "auto_reset_at",
            "last_reset_at",
            "exempt_until",
            "since",
        ],
    );
    view
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    reason: Option<String>,
}

fn event<'a>(scope: &'a str, subject: &'a str, event: &'a str, reason: Option<&'a str>) -> EventRecord<'a> {
    EventRecord {
        scope,
        subject,
        event,
        reason,
    }
}

/// `POST /features/{key}/disable`: a manual trip, never reset automatically.
pub async fn disable_feature(env: &Env, feature: FeatureKey, body: ReasonBody) -> Result<Value, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    let now = store.now_ms();
    known_feature(&db, &feature, now).await?;
    let reason = body
        .reason
        .unwrap_or_else(|| "disabled by an operator".to_owned());
    let disabled = ledger::feature_breaker(&db, &feature)
        .await?
        .disable(&reason, now);
    let mut tx = Transaction::new(now);
    tx.set_feature_breaker(&feature, &disabled);
    tx.event(event("feature", feature.as_str(), "disable", Some(&reason)));
    tx.commit(&db, "disabling a feature").await?;
    broadcast::feature_opened(&store, &feature, &disabled).await?;
    Ok(json!({ "feature": feature, "breaker": breaker_view(&disabled) }))
}

/// `POST /features/{key}/enable`: closes the breaker, manual or automatic.
pub async fn enable_feature(env: &Env, feature: FeatureKey) -> Result<Value, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    let now = store.now_ms();
    known_feature(&db, &feature, now).await?;
    let Some(enabled) = ledger::feature_breaker(&db, &feature).await?.enable(now) else {
        return Ok(json!({ "feature": feature, "changed": false }));
    };
    let mut tx = Transaction::new(now);
    tx.set_feature_breaker(&feature, &enabled);
    tx.event(event(
        "feature",
        feature.as_str(),
        "enable",
        Some("enabled by an operator"),
    ));
    tx.commit(&db, "enabling a feature").await?;
    broadcast::feature_closed(&store, &feature).await?;
    Ok(json!({ "feature": feature, "changed": true, "breaker": breaker_view(&enabled) }))
}

/// `POST /projects/{slug}/pause` and `/resume`.
pub async fn set_project(
    env: &Env,
    project: ProjectId,
    pause: Option<ReasonBody>,
) -> Result<Value, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    if let Some(other) = ledger::project_in_another_case(&db, &project).await? {
        return Err(ApiError::new(
            409,
            format!(
                "project {:?} is {other:?} in another case: consumers read both through \
                 PROJECT:{}:STATUS; use {other:?}",
                project.as_str(),
                project.upper_slug()
            ),
        ));
    }
    let now = store.now_ms();
    known_project(&db, &project).await?;
    let current = ledger::project_breaker(&db, &project).await?;
    let (next, name) = match pause {
        Some(body) => {
            let reason = body.reason.unwrap_or_else(|| "paused by an operator".to_owned());
            (Some(ProjectBreaker::pause(&reason, now)), "pause")
        }
        None => (current.resume(now), "resume"),
    };
    let Some(next) = next else {
        return Ok(json!({ "project": project, "changed": false }));
    };
    let mut tx = Transaction::new(now);
    tx.set_project_breaker(&project, &next);
    tx.event(event("project", project.as_str(), name, next.reason.as_deref()));
    tx.commit(&db, "changing a project's level").await?;
    broadcast::project_changed(&store, &project, &next).await?;
    Ok(json!({ "project": project, "changed": true, "breaker": breaker_view(&next) }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalStopBody {
    enabled: bool,
    reason: Option<String>,
}

/// `POST /global-stop`: stops every consumer; ingestion and evaluation go on.
pub async fn global_stop(env: &Env, body: GlobalStopBody) -> Result<Value, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    let now = store.now_ms();
    let reason = body.reason.unwrap_or_else(|| {
        if body.enabled {
            "stopped by an operator"
        } else {
            "released by an operator"
        }
        .into()
    });
    let mut tx = Transaction::new(now);
    tx.push(ledger::set_global_stop(body.enabled, &reason, now));
    tx.event(event(
        "global",
        "*",
        if body.enabled { "stop" } else { "release" },
        Some(&reason),
    ));
    if body.enabled {
        let alert = alerts::Alert {
            subject: AlertSubject::GlobalStop { at: now },
            text: format!(":octagonal_sign: global stop: {reason}"),
        };
        tx.push(alerts::enqueue(&alert, now));
    }
    tx.commit(&db, "setting the global stop").await?;
    broadcast::global_stop(&store, body.enabled).await?;
    if body.enabled {
        // Stored first, so a failed delivery is retried by the sweep.
        if let Err(error) = alerts::deliver_pending(env, &store, &db).await {
            worker::console_warn!("alerts left pending: {error}");
        }
    }
    Ok(json!({ "stopped": body.enabled, "reason": reason, "since": iso8601(now) }))
}

#[derive(Serialize)]
struct TrippedFeature {
    feature: String,
    manual: bool,
    reason: Option<String>,
    #[serde(serialize_with = "platform_core::time::serialize_iso8601_opt")]
    since: Option<EpochMs>,
    #[serde(serialize_with = "platform_core::time::serialize_iso8601_opt")]
    until: Option<EpochMs>,
    consecutive_trips: u64,
    usage_today: BTreeMap<String, f64>,
    daily_budget: Option<platform_core::MetricLimits>,
}

/// `GET /status`: the global stop, every paused or warned project, every open breaker with its
/// reason, since, until and today's usage against its budget.
pub async fn status(env: &Env) -> Result<StatusView, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    let today = UtcDay::containing(store.now_ms()).to_string();
    let status = ledger::status(&db, &today).await?;
    let keys: Vec<FeatureKey> = status.features.iter().map(|row| row.feature.clone()).collect();
    let limits = context::feature_limits(&store, &keys).await?;
    let tripped: Vec<TrippedFeature> = status
        .features
        .iter()
        .map(|row| {
            let breaker = row.breaker.clone();
            let usage_today = status
                .usage_today
                .iter()
                .filter(|u| u.subject.id() == row.feature.as_str() && u.period == today)
                .map(|u| (u.metric.budget_name().to_owned(), u.value))
                .collect();
            TrippedFeature {
                feature: row.feature.to_string(),
                manual: breaker.manual,
                reason: breaker.reason,
                since: breaker.tripped_at,
                until: breaker.auto_reset_at,
                consecutive_trips: breaker.consecutive_trips,
                usage_today,
                daily_budget: limits.get(&row.feature).and_then(|l| l.daily.clone()),
            }
        })
        .collect();
    let projects: Vec<ProjectView> = status
        .projects
        .iter()
        .map(|row| ProjectView {
            project: row.project.to_string(),
            level: row.breaker.level.as_str(),
            manual: row.breaker.manual,
            reason: row.breaker.reason.clone(),
            since: row.breaker.since,
            until: row.breaker.auto_reset_at,
        })
        .collect();
    let global = status.global.as_ref().filter(|row| row.enabled);
    Ok(StatusView {
        global: GlobalView {
            stopped: global.is_some(),
            reason: global.and_then(|row| row.reason.clone()),
            since: global.map(|row| row.since),
        },
        projects,
        features: tripped,
        alerts: AlertsView {
            webhook_configured: alerts::webhook(env).is_ok_and(|url| url.is_some()),
            pending: status.pending_alerts,
        },
        account_usage: crate::collect::status(env).await,
    })
}

/// `GET /status`'s answer.
#[derive(Serialize)]
pub struct StatusView {
    global: GlobalView,
    projects: Vec<ProjectView>,
    features: Vec<TrippedFeature>,
    alerts: AlertsView,
    account_usage: Value,
}

#[derive(Serialize)]
struct GlobalView {
    stopped: bool,
    reason: Option<String>,
    #[serde(serialize_with = "platform_core::time::serialize_iso8601_opt")]
    since: Option<EpochMs>,
}

#[derive(Serialize)]
struct ProjectView {
    project: String,
    level: &'static str,
    manual: bool,
    reason: Option<String>,
    #[serde(serialize_with = "platform_core::time::serialize_iso8601_opt")]
    since: Option<EpochMs>,
    #[serde(serialize_with = "platform_core::time::serialize_iso8601_opt")]
    until: Option<EpochMs>,
}

#[derive(Serialize)]
struct AlertsView {
    webhook_configured: bool,
    pending: u64,
}

/// `GET /features/{key}/usage?days=N`: daily totals, newest first.
pub async fn feature_usage(env: &Env, feature: FeatureKey, days: u32) -> Result<Value, ApiError> {
    let db = database(env)?;
    let now = worker::Date::now().as_millis();
    let since = UtcDay::containing(now.saturating_sub(u64::from(days.saturating_sub(1)) * 86_400_000));
    let rows = ledger::feature_usage(&db, &feature, &since.to_string()).await?;
    let mut by_day: BTreeMap<String, BTreeMap<&str, f64>> = BTreeMap::new();
    for row in rows {
        by_day
            .entry(row.period)
            .or_default()
            .insert(row.metric.budget_name(), row.value);
    }
    let days: Vec<Value> = by_day
        .into_iter()
        .rev()
        .map(|(day, metrics)| json!({ "day": day, "metrics": metrics }))
        .collect();
    Ok(json!({ "feature": feature, "days": days }))
}

/// `GET /events?limit=N`: breaker transitions, newest first.
pub async fn events(env: &Env, limit: u32) -> Result<Value, ApiError> {
    let db = database(env)?;
    let rows = ledger::events(&db, limit).await?;
    Ok(json!({ "events": rows }))
}

/// `GET /dlq`: telemetry that was rejected or dead-lettered and is still pending.
pub async fn dlq(env: &Env) -> Result<Value, ApiError> {
    let db = database(env)?;
    let rows = ledger::pending_rejects(&db).await?;
    Ok(json!({ "messages": rows }))
}

/// `POST /dlq/{id}/replay` (the stored payload, unchanged, back onto the telemetry queue) and
/// `POST /dlq/{id}/discard`.
pub async fn resolve_dlq(env: &Env, id: &str, replay: bool) -> Result<Value, ApiError> {
    let db = database(env)?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a message number")))?;
    let row = ledger::reject(&db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no rejected message {id}")))?;
    if row.status != RejectStatus::Pending {
        return Err(ApiError::new(
            409,
            format!("message {id} was {} already", row.status.as_str()),
        ));
    }
    if replay {
        // Parsed by the runtime's JSON, so the message is the plain object consumers send.
        let payload = worker::js_sys::JSON::parse(&row.payload)
            .map_err(|_| ApiError::new(409, format!("message {id} is not JSON and cannot be replayed")))?;
        let queue = env
            .queue(TELEMETRY_BINDING)
            .map_err(|_| ApiError::unavailable(format!("binding {TELEMETRY_BINDING} is missing")))?;
        let message =
            worker::RawMessageBuilder::new(payload).build_with_content_type(worker::QueueContentType::Json);
        queue
            .send_raw(message)
            .await
            .map_err(|e| ApiError::internal("replaying a message", e))?;
    }
    let status = if replay {
        RejectStatus::Replayed
    } else {
        RejectStatus::Discarded
    };
    let resolved = ledger::resolve_reject(id, status, worker::Date::now().as_millis());
    db.run("updating rejected telemetry", resolved).await?;
    Ok(json!({ "id": id, "status": status.as_str() }))
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::json;

    use super::{GlobalStopBody, ReasonBody};
    use platform_worker::body::json;

    fn field() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(json!(null)),
            any::<bool>().prop_map(|b| json!(b)),
            any::<i64>().prop_map(|n| json!(n)),
            ".{0,12}".prop_map(|s| json!(s)),
            Just(json!({"nested": [1]})),
        ]
    }

    proptest! {
        #[test]
        fn an_admin_body_means_what_it_says_or_is_refused_with_400(
            enabled in field(), reason in field(), extra in prop::option::of((".{0,6}", field())), duplicate in any::<bool>(),
        ) {
            let mut object = serde_json::Map::new();
            object.insert("enabled".into(), enabled.clone());
            object.insert("reason".into(), reason.clone());
            if let Some((name, value)) = &extra {
                object.insert(name.clone(), value.clone());
            }
            let mut text = serde_json::Value::Object(object).to_string();
            if duplicate {
                text = text.replacen('{', "{\"reason\":null,", 1);
            }
            let unknown = extra.as_ref().is_some_and(|(name, _)| name != "enabled" && name != "reason");
            match json::<GlobalStopBody>(&text) {
                Ok(body) => {
                    prop_assert!(!duplicate && !unknown);
                    prop_assert_eq!(Some(body.enabled), enabled.as_bool());
                    prop_assert_eq!(body.reason.as_deref(), reason.as_str());
                }
                Err(error) => {
                    prop_assert_eq!(error.status, 400);
                    prop_assert!(error.message.starts_with("invalid body: "), "{}", error.message);
                }
            }
            match json::<ReasonBody>(&text) {
                Ok(body) => prop_assert_eq!(body.reason.as_deref(), reason.as_str()),
                Err(error) => prop_assert_eq!(error.status, 400),
            }
        }
    }
}
