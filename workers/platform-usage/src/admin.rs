//! The admin API. Every route needs the admin bearer token (checked by the router); bodies are
//! strict JSON, and anything malformed or unknown is a 400 that says what was wrong.

use std::collections::BTreeMap;

use platform_core::breaker::{FeatureBreaker, ProjectBreaker};
use platform_core::{EpochMs, FeatureKey, ProjectId, UtcDay};
use platform_worker::{alerts, d1, ApiError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::Env;

use crate::decide::Event;
use crate::ingest::{database, metered_store};
use crate::ledger::{
    FeatureBreakerRow, ProjectBreakerRow, Transaction, FEATURE_BREAKER_COLUMNS, PROJECT_BREAKER_COLUMNS,
};
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    reason: Option<String>,
}

async fn feature_breaker(db: &worker::D1Database, feature: &FeatureKey) -> Result<FeatureBreaker, ApiError> {
    let sql = format!("SELECT {FEATURE_BREAKER_COLUMNS} FROM feature_breakers WHERE feature_key = ?");
    let row: Option<FeatureBreakerRow> =
        d1::query_first(db, "reading a breaker", &sql, &[d1::text(feature.as_str())]).await?;
    Ok(row.map(|row| row.breaker()).unwrap_or_default())
}

async fn project_breaker(db: &worker::D1Database, project: &ProjectId) -> Result<ProjectBreaker, ApiError> {
    let sql = format!("SELECT {PROJECT_BREAKER_COLUMNS} FROM project_breakers WHERE project = ?");
    let row: Option<ProjectBreakerRow> = d1::query_first(
        db,
        "reading a project breaker",
        &sql,
        &[d1::text(project.as_str())],
    )
    .await?;
    Ok(row.map(|row| row.breaker()).unwrap_or_default())
}

fn event(scope: &'static str, subject: &str, event: &'static str, reason: Option<String>) -> Event {
    Event {
        scope,
        subject: subject.to_owned(),
        event,
        reason,
    }
}

/// `POST /features/{key}/disable`: a manual trip, never reset automatically.
pub async fn disable_feature(env: &Env, feature: FeatureKey, body: ReasonBody) -> Result<Value, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    let now = store.now_ms();
    let reason = body
        .reason
        .unwrap_or_else(|| "disabled by an operator".to_owned());
    let disabled = feature_breaker(&db, &feature).await?.disable(&reason, now);
    let mut tx = Transaction::new(&db, now);
    tx.set_feature_breaker(&feature, &disabled)?;
    tx.event(&event("feature", feature.as_str(), "disable", Some(reason)))?;
    tx.commit().await?;
    broadcast::feature_opened(&store, &feature, &disabled).await?;
    Ok(json!({ "feature": feature, "breaker": disabled }))
}

/// `POST /features/{key}/enable`: closes the breaker, manual or automatic.
pub async fn enable_feature(env: &Env, feature: FeatureKey) -> Result<Value, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    let now = store.now_ms();
    let Some(enabled) = feature_breaker(&db, &feature).await?.enable(now) else {
        return Ok(json!({ "feature": feature, "changed": false }));
    };
    let mut tx = Transaction::new(&db, now);
    tx.set_feature_breaker(&feature, &enabled)?;
    tx.event(&event(
        "feature",
        feature.as_str(),
        "enable",
        Some("enabled by an operator".into()),
    ))?;
    tx.commit().await?;
    broadcast::feature_closed(&store, &feature).await?;
    Ok(json!({ "feature": feature, "changed": true, "breaker": enabled }))
}

/// `POST /projects/{slug}/pause` and `/resume`.
pub async fn set_project(
    env: &Env,
    project: ProjectId,
    pause: Option<ReasonBody>,
) -> Result<Value, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    let now = store.now_ms();
    let current = project_breaker(&db, &project).await?;
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
    let mut tx = Transaction::new(&db, now);
    tx.set_project_breaker(&project, &next)?;
    tx.event(&event("project", project.as_str(), name, next.reason.clone()))?;
    tx.commit().await?;
    broadcast::project_changed(&store, &project, &next).await?;
    Ok(json!({ "project": project, "changed": true, "breaker": next }))
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
    let mut tx = Transaction::new(&db, now);
    tx.push(d1::statement(
        &db,
        "INSERT OR REPLACE INTO global_stop (id, enabled, reason, since) VALUES (1, ?, ?, ?)",
        &[d1::flag(body.enabled), d1::text(&reason), d1::ms(now)],
    )?);
    tx.event(&event(
        "global",
        "*",
        if body.enabled { "stop" } else { "release" },
        Some(reason.clone()),
    ))?;
    if body.enabled {
        tx.alert(&alerts::Alert {
            kind: "global",
            // Each stop an operator orders is news.
            subject: now.to_string(),
            text: format!(":octagonal_sign: global stop: {reason}"),
        })?;
    }
    tx.commit().await?;
    broadcast::global_stop(&store, body.enabled).await?;
    if body.enabled {
        // Stored first, so a failed delivery is retried by the sweep.
        if let Err(error) = alerts::deliver_pending(env, &store, &db).await {
            worker::console_warn!("alerts left pending: {}", error.message);
        }
    }
    Ok(json!({ "stopped": body.enabled, "reason": reason, "since": now }))
}

#[derive(Deserialize)]
struct UsageRow {
    subject: String,
    period: String,
    metric: String,
    value: f64,
}

#[derive(Deserialize)]
struct GlobalRow {
    enabled: f64,
    reason: Option<String>,
    since: f64,
}

#[derive(Serialize)]
struct TrippedFeature {
    feature: String,
    manual: bool,
    reason: Option<String>,
    since: Option<EpochMs>,
    until: Option<EpochMs>,
    consecutive_trips: u64,
    usage_today: BTreeMap<String, f64>,
    daily_budget: Option<platform_core::MetricLimits>,
}

/// `GET /status`: the global stop, every paused or warned project, every open breaker with its
/// reason, since, until and today's usage against its budget.
pub async fn status(env: &Env) -> Result<Value, ApiError> {
    let (store, db) = (metered_store(env)?, database(env)?);
    let today = UtcDay::containing(store.now_ms()).to_string();
    let queries = vec![
        d1::statement(&db, "SELECT enabled, reason, since FROM global_stop WHERE id = 1", &[])?,
        d1::statement(&db, &format!("SELECT {PROJECT_BREAKER_COLUMNS} FROM project_breakers WHERE level != 'active' ORDER BY project"), &[])?,
        d1::statement(&db, &format!("SELECT {FEATURE_BREAKER_COLUMNS} FROM feature_breakers WHERE open = 1 ORDER BY feature_key"), &[])?,
        d1::statement(
            &db,
            "SELECT u.subject, u.period, u.metric, u.value FROM usage_totals u JOIN feature_breakers b \
             ON b.feature_key = u.subject WHERE b.open = 1 AND u.kind = 'feature' AND u.period = ?",
            &[d1::text(&today)],
        )?,
        d1::statement(&db, "SELECT count(*) AS value, '' AS subject, '' AS period, '' AS metric FROM alert_outbox WHERE sent_at IS NULL", &[])?,
    ];
    let results = d1::batch(&db, queries).await?;
    let global: Vec<GlobalRow> = d1::rows(&results[0])?;
    let projects: Vec<ProjectBreakerRow> = d1::rows(&results[1])?;
    let features: Vec<FeatureBreakerRow> = d1::rows(&results[2])?;
    let usage: Vec<UsageRow> = d1::rows(&results[3])?;
    let pending: Vec<UsageRow> = d1::rows(&results[4])?;

    let keys: Vec<FeatureKey> = features
        .iter()
        .filter_map(|row| FeatureKey::parse(&row.feature_key).ok())
        .collect();
    let limits = context::feature_limits(&store, &keys).await?;
    let tripped: Vec<TrippedFeature> = features
        .iter()
        .map(|row| {
            let breaker = row.breaker();
            let usage_today = usage
                .iter()
                .filter(|u| u.subject == row.feature_key && u.period == today)
                .map(|u| (u.metric.clone(), u.value))
                .collect();
            let daily_budget = FeatureKey::parse(&row.feature_key)
                .ok()
                .and_then(|f| limits.get(&f)?.daily.clone());
            TrippedFeature {
                feature: row.feature_key.clone(),
                manual: breaker.manual,
                reason: breaker.reason,
                since: breaker.tripped_at,
                until: breaker.auto_reset_at,
                consecutive_trips: breaker.consecutive_trips,
                usage_today,
                daily_budget,
            }
        })
        .collect();
    let projects: Vec<Value> = projects
        .iter()
        .map(|row| {
            let breaker = row.breaker();
            json!({
                "project": row.project,
                "level": platform_kv::ProjectState::from(breaker.level).as_str(),
                "manual": breaker.manual,
                "reason": breaker.reason,
                "since": breaker.since,
                "until": breaker.auto_reset_at,
            })
        })
        .collect();
    let global = global.first().filter(|row| row.enabled != 0.0);
    Ok(json!({
        "global": {
            "stopped": global.is_some(),
            "reason": global.and_then(|row| row.reason.clone()),
            "since": global.map(|row| row.since as EpochMs),
        },
        "projects": projects,
        "features": tripped,
        "alerts": {
            "webhook_configured": alerts::webhook(env).is_some(),
            "pending": pending.first().map_or(0, |row| row.value as u64),
        },
    }))
}

/// `GET /features/{key}/usage?days=N`: daily totals, newest first.
pub async fn feature_usage(env: &Env, feature: FeatureKey, days: u32) -> Result<Value, ApiError> {
    let db = database(env)?;
    let now = worker::Date::now().as_millis();
    let since = UtcDay::containing(now.saturating_sub(u64::from(days.saturating_sub(1)) * 86_400_000));
    let rows: Vec<UsageRow> = d1::query(
        &db,
        "reading usage",
        "SELECT subject, period, metric, value FROM usage_totals \
         WHERE kind = 'feature' AND subject = ? AND length(period) = 10 AND period >= ? ORDER BY period DESC",
        &[d1::text(feature.as_str()), d1::text(&since.to_string())],
    )
    .await?;
    let mut by_day: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for row in rows {
        by_day
            .entry(row.period)
            .or_default()
            .insert(row.metric, row.value);
    }
    let days: Vec<Value> = by_day
        .into_iter()
        .rev()
        .map(|(day, metrics)| json!({ "day": day, "metrics": metrics }))
        .collect();
    Ok(json!({ "feature": feature, "days": days }))
}

#[derive(Serialize, Deserialize)]
struct EventRow {
    id: f64,
    at: f64,
    scope: String,
    subject: String,
    event: String,
    reason: Option<String>,
}

/// `GET /events?limit=N`: breaker transitions, newest first.
pub async fn events(env: &Env, limit: u32) -> Result<Value, ApiError> {
    let db = database(env)?;
    let rows: Vec<EventRow> = d1::query(
        &db,
        "reading events",
        "SELECT id, at, scope, subject, event, reason FROM breaker_events ORDER BY id DESC LIMIT ?",
        &[d1::number(limit)],
    )
    .await?;
    Ok(json!({ "events": rows }))
}

#[derive(Serialize, Deserialize)]
struct RejectRow {
    id: f64,
    kind: String,
    message_id: String,
    queue: String,
    reason: String,
    payload: String,
    received_at: f64,
    status: String,
}

const REJECT_COLUMNS: &str = "id, kind, message_id, queue, reason, payload, received_at, status";

/// `GET /dlq`: telemetry that was rejected or dead-lettered and is still pending.
pub async fn dlq(env: &Env) -> Result<Value, ApiError> {
    let db = database(env)?;
    let sql = format!(
        "SELECT {REJECT_COLUMNS} FROM telemetry_rejects WHERE status = 'pending' ORDER BY id LIMIT 500"
    );
    let rows: Vec<RejectRow> = d1::query(&db, "reading rejected telemetry", &sql, &[]).await?;
    Ok(json!({ "messages": rows }))
}

/// `POST /dlq/{id}/replay` (the stored payload, unchanged, back onto the telemetry queue) and
/// `POST /dlq/{id}/discard`.
pub async fn resolve_dlq(env: &Env, id: &str, replay: bool) -> Result<Value, ApiError> {
    let db = database(env)?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a message number")))?;
    let sql = format!("SELECT {REJECT_COLUMNS} FROM telemetry_rejects WHERE id = ?");
    let row: Option<RejectRow> =
        d1::query_first(&db, "reading rejected telemetry", &sql, &[d1::number(id as f64)]).await?;
    let row = row.ok_or_else(|| ApiError::not_found(format!("no rejected message {id}")))?;
    if row.status != "pending" {
        return Err(ApiError::new(
            409,
            format!("message {id} was {} already", row.status),
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
    let status = if replay { "replayed" } else { "discarded" };
    d1::execute(
        &db,
        "updating rejected telemetry",
        "UPDATE telemetry_rejects SET status = ?, resolved_at = ? WHERE id = ?",
        &[
            d1::text(status),
            d1::ms(worker::Date::now().as_millis()),
            d1::number(id as f64),
        ],
    )
    .await?;
    Ok(json!({ "id": id, "status": status }))
}
