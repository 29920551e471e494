//! The scheduled work: every few minutes, reset the trips whose period has ended, deliver pending
//! alerts and drop old ledger rows; every hour, repair the KV broadcast of open breakers.

use platform_core::{EpochMs, FeatureKey, ProjectId};
use platform_kv::families::{ConfigFeatureStatus, ConfigGlobalStatus, ConfigProjectStatus};
use platform_kv::{BreakerSignal, TypedKey};
use platform_worker::{alerts, d1, ApiError};
use serde::{Deserialize, Serialize};
use worker::Env;

use crate::broadcast;
use crate::decide::Event;
use crate::ingest::{database, metered_store};
use crate::ledger::{
    FeatureBreakerRow, ProjectBreakerRow, Transaction, FEATURE_BREAKER_COLUMNS, PROJECT_BREAKER_COLUMNS,
};

const DAY_MS: EpochMs = 86_400_000;
/// What the ledger forgets, and after how many days. Message ids outlive a queue's retention (14
/// days at most); warnings outlive their month; usage totals and breakers are kept.
const RETENTION: [(&str, u64); 4] = [
    ("DELETE FROM telemetry_seen WHERE seen_at < ?", 15),
    ("DELETE FROM budget_warnings WHERE sent_at < ?", 62),
    (
        "DELETE FROM alert_outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
        30,
    ),
    ("DELETE FROM breaker_events WHERE at < ?", 400),
];

#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    pub event: &'static str,
    pub features_reset: usize,
    pub projects_resumed: usize,
    pub alerts: Option<alerts::Delivery>,
    pub repaired: usize,
}

pub async fn sweep(env: &Env, now: EpochMs) -> Result<SweepReport, ApiError> {
    let store = metered_store(env)?;
    let db = database(env)?;
    let due = [
        d1::statement(
            &db,
            &format!(
                "SELECT {FEATURE_BREAKER_COLUMNS} FROM feature_breakers \
                 WHERE open = 1 AND manual = 0 AND auto_reset_at IS NOT NULL AND auto_reset_at <= ?"
            ),
            &[d1::ms(now)],
        )?,
        d1::statement(
            &db,
            &format!(
                "SELECT {PROJECT_BREAKER_COLUMNS} FROM project_breakers \
                 WHERE level = 'paused' AND manual = 0 AND auto_reset_at IS NOT NULL AND auto_reset_at <= ?"
            ),
            &[d1::ms(now)],
        )?,
    ];
    let results = d1::batch(&db, due.into()).await?;
    let features: Vec<FeatureBreakerRow> = d1::rows(&results[0])?;
    let projects: Vec<ProjectBreakerRow> = d1::rows(&results[1])?;

    let mut tx = Transaction::new(&db, now);
    let mut reset_features = Vec::new();
    for row in &features {
        let (Ok(feature), Some(closed)) = (FeatureKey::parse(&row.feature_key), row.breaker().sweep(now))
        else {
            continue;
        };
        tx.set_feature_breaker(&feature, &closed)?;
        tx.event(&Event {
            scope: "feature",
            subject: feature.to_string(),
            event: "reset",
            reason: Some("budget period ended".into()),
        })?;
        tx.alert(&alerts::Alert {
            kind: "reset",
            subject: format!("{feature}:{now}"),
            text: format!(":white_check_mark: {feature} is running again: its budget period ended"),
        })?;
        reset_features.push(feature);
    }
    let mut resumed = Vec::new();
    for row in &projects {
        let (Ok(project), Some(active)) = (ProjectId::parse(&row.project), row.breaker().sweep(now)) else {
            continue;
        };
        tx.set_project_breaker(&project, &active)?;
        tx.event(&Event {
            scope: "project",
            subject: project.to_string(),
            event: "active",
            reason: Some("budget period ended".into()),
        })?;
        resumed.push((project, active));
    }
    for (sql, kept) in RETENTION {
        tx.push(d1::statement(
            &db,
            sql,
            &[d1::ms(now.saturating_sub(kept * DAY_MS))],
        )?);
    }
    tx.commit().await?;

    for feature in &reset_features {
        if let Err(error) = broadcast::feature_closed(&store, feature).await {
            worker::console_error!("reset of {feature} not broadcast: {error}");
        }
        worker::console_log!(
            "{}",
            serde_json::json!({"event": "breaker_reset", "feature": feature.as_str()})
        );
    }
    for (project, active) in &resumed {
        if let Err(error) = broadcast::project_changed(&store, project, active).await {
            worker::console_error!("resume of {project} not broadcast: {error}");
        }
        worker::console_log!(
            "{}",
            serde_json::json!({"event": "project_resumed", "project": project.as_str()})
        );
    }
    let alerts = alerts::deliver_pending(env, &store, &db).await?;
    Ok(SweepReport {
        event: "sweep",
        features_reset: reset_features.len(),
        projects_resumed: resumed.len(),
        alerts: Some(alerts),
        repaired: 0,
    })
}

#[derive(Deserialize)]
struct GlobalRow {
    enabled: f64,
}

/// Rewrites the stop keys of open breakers that KV lost (a failed broadcast, a key deleted by hand).
pub async fn reconcile(env: &Env) -> Result<SweepReport, ApiError> {
    let store = metered_store(env)?;
    let db = database(env)?;
    let queries = vec![
        d1::statement(
            &db,
            &format!("SELECT {FEATURE_BREAKER_COLUMNS} FROM feature_breakers WHERE open = 1"),
            &[],
        )?,
        d1::statement(
            &db,
            &format!("SELECT {PROJECT_BREAKER_COLUMNS} FROM project_breakers WHERE level = 'paused'"),
            &[],
        )?,
        d1::statement(&db, "SELECT enabled FROM global_stop WHERE id = 1", &[])?,
    ];
    let results = d1::batch(&db, queries).await?;
    let features: Vec<FeatureBreakerRow> = d1::rows(&results[0])?;
    let projects: Vec<ProjectBreakerRow> = d1::rows(&results[1])?;
    let global: Vec<GlobalRow> = d1::rows(&results[2])?;
    let mut repaired = 0;

    let open: Vec<(
        FeatureKey,
        platform_kv::Key<ConfigFeatureStatus>,
        &FeatureBreakerRow,
    )> = features
        .iter()
        .filter_map(|row| {
            let feature = FeatureKey::parse(&row.feature_key).ok()?;
            let key = ConfigFeatureStatus::key(&feature).ok()?;
            Some((feature, key, row))
        })
        .collect();
    let keys: Vec<&dyn TypedKey<Value = BreakerSignal>> = open.iter().map(|(_, key, _)| key as _).collect();
    let signals = store.get_bulk(&keys).await?;
    for ((feature, _, row), signal) in open.iter().zip(signals) {
        if !matches!(signal, Ok(Some(BreakerSignal::Stop))) {
            broadcast::feature_opened(&store, feature, &row.breaker()).await?;
            repaired += 1;
        }
    }
    for row in &projects {
        let Ok(project) = ProjectId::parse(&row.project) else {
            continue;
        };
        if !matches!(
            store.get(&ConfigProjectStatus::key(&project)?).await,
            Ok(Some(BreakerSignal::Stop))
        ) {
            broadcast::project_changed(&store, &project, &row.breaker()).await?;
            repaired += 1;
        }
    }
    if global.first().is_some_and(|row| row.enabled != 0.0)
        && !matches!(
            store.get(&ConfigGlobalStatus::key()?).await,
            Ok(Some(BreakerSignal::Stop))
        )
    {
        broadcast::global_stop(&store, true).await?;
        repaired += 1;
    }
    Ok(SweepReport {
        event: "reconcile",
        repaired,
        ..SweepReport::default()
    })
}
