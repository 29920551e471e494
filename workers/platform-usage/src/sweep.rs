//! The scheduled work: every few minutes, reset the trips whose period has ended, deliver pending
//! alerts and drop old ledger rows; every hour, repair the KV broadcast of open breakers.

use platform_core::alert::AlertSubject;
use platform_core::EpochMs;
use platform_db::retention::{self, Swept};
use platform_db::usage::ledger::{EventRecord, Transaction};
use platform_db::usage::sweep as ledger;
use platform_kv::families::{ConfigFeatureStatus, ConfigGlobalStatus, ConfigProjectStatus};
use platform_kv::{BreakerSignal, TypedKey};
use platform_worker::{alerts, ApiError};
use serde::Serialize;
use worker::Env;

use crate::broadcast;
use crate::ingest::{database, metered_store};

#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    pub event: &'static str,
    pub features_reset: usize,
    pub projects_resumed: usize,
    pub alerts: Option<alerts::Delivery>,
    pub repaired: usize,
    /// Breakers whose broadcast could not be repaired (logged each); the others were.
    pub failed: usize,
    /// Rows the retention sweep deleted, per table (the registry's retention, in the sweep's
    /// transaction).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retention: Vec<Swept>,
}

fn log_skipped(skipped: &[String]) {
    for row in skipped {
        worker::console_warn!("breaker row ignored: {row}");
    }
}

const DAY_MS: EpochMs = 86_400_000;
/// The sweep runs every five minutes: the one starting the UTC day applies the retention.
const RETENTION_WINDOW_MS: EpochMs = 5 * 60_000;

pub async fn sweep(env: &Env, now: EpochMs) -> Result<SweepReport, ApiError> {
    let store = metered_store(env)?;
    let db = database(env)?;
    let due = ledger::due_resets(&db, now).await?;
    log_skipped(&due.skipped);

    let mut tx = Transaction::new(now);
    let mut reset_features = Vec::new();
    for row in &due.features {
        let Some(closed) = row.breaker.sweep(now) else {
            continue;
        };
        let feature = &row.feature;
        tx.set_feature_breaker(feature, &closed);
        tx.event(EventRecord {
            scope: "feature",
            subject: feature.as_str(),
            event: "reset",
            reason: Some("budget period ended"),
        });
        let alert = alerts::Alert {
            subject: AlertSubject::Reset {
                feature: feature.clone(),
                at: now,
            },
            text: format!(":white_check_mark: {feature} is running again: its budget period ended"),
        };
        tx.push(alerts::enqueue(&alert, now));
        reset_features.push(feature.clone());
    }
    let mut resumed = Vec::new();
    for row in &due.projects {
        let Some(active) = row.breaker.sweep(now) else {
            continue;
        };
        tx.set_project_breaker(&row.project, &active);
        tx.event(EventRecord {
            scope: "project",
            subject: row.project.as_str(),
            event: "active",
            reason: Some("budget period ended"),
        });
        resumed.push((row.project.clone(), active));
    }
    // The registry's retention, in the same transaction (one round trip for the whole sweep), in
    // the day's first sweep only: a delete by a column no index leads reads its whole table, and
    // retentions are counted in days.
    let retention_due = now % DAY_MS < RETENTION_WINDOW_MS;
    let statements = if retention_due {
        retention::statements(db.worker(), now)
    } else {
        Vec::new()
    };
    let (tables, deletes): (Vec<_>, Vec<_>) = statements.into_iter().unzip();
    let kept = tables.len();
    deletes.into_iter().for_each(|statement| tx.push(statement));
    let outcomes = tx.commit(&db, "recording the sweep").await?;
    let retention: Vec<Swept> = tables
        .into_iter()
        .zip(
            outcomes
                .get(outcomes.len().saturating_sub(kept)..)
                .unwrap_or_default(),
        )
        .map(|(table, outcome)| Swept {
            table,
            deleted: outcome.changes,
        })
        .collect();

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
        retention,
        ..SweepReport::default()
    })
}

/// Rewrites the stop keys of open breakers that KV lost (a failed broadcast, a key deleted by hand).
/// A row that cannot be repaired is logged and counted, and the sweep goes on with the others.
pub async fn reconcile(env: &Env) -> Result<SweepReport, ApiError> {
    let store = metered_store(env)?;
    let db = database(env)?;
    let open = ledger::open_breakers(&db).await?;
    log_skipped(&open.skipped);
    let (mut repaired, mut failed) = (0, 0);
    let mut tally = |subject: &str, result: Result<bool, ApiError>| match result {
        Ok(true) => repaired += 1,
        Ok(false) => {}
        Err(error) => {
            failed += 1;
            worker::console_error!("breaker of {subject} not repaired: {error}");
        }
    };

    let mut features = Vec::new();
    for row in &open.features {
        match ConfigFeatureStatus::key(&row.feature) {
            Ok(key) => features.push((key, row)),
            Err(error) => tally(row.feature.as_str(), Err(error.into())),
        }
    }
    let keys: Vec<&dyn TypedKey<Value = BreakerSignal>> = features.iter().map(|(key, _)| key as _).collect();
    let signals = store.get_bulk(&keys).await?;
    for ((_, row), signal) in features.iter().zip(signals) {
        let result = if matches!(signal, Ok(Some(BreakerSignal::Stop))) {
            Ok(false)
        } else {
            broadcast::feature_opened(&store, &row.feature, &row.breaker)
                .await
                .map(|()| true)
                .map_err(ApiError::from)
        };
        tally(row.feature.as_str(), result);
    }
    for row in &open.projects {
        let result = async {
            let key = ConfigProjectStatus::key(&row.project)?;
            if matches!(store.get(&key).await, Ok(Some(BreakerSignal::Stop))) {
                return Ok(false);
            }
            broadcast::project_changed(&store, &row.project, &row.breaker).await?;
            Ok::<bool, ApiError>(true)
        };
        tally(row.project.as_str(), result.await);
    }
    if open.global_stopped {
        let result = async {
            if matches!(
                store.get(&ConfigGlobalStatus::key()?).await,
                Ok(Some(BreakerSignal::Stop))
            ) {
                return Ok(false);
            }
            broadcast::global_stop(&store, true).await?;
            Ok::<bool, ApiError>(true)
        };
        tally("the global stop", result.await);
    }
    Ok(SweepReport {
        event: "reconcile",
        repaired,
        failed,
        ..SweepReport::default()
    })
}
