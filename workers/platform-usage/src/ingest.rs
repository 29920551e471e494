//! The telemetry queue consumer: each batch is decoded, aggregated in memory, checked against the
//! ledger in one D1 round trip, decided on, and committed in a second; KV is written only for
//! transitions. A message that cannot be used is recorded and acknowledged; a storage failure
//! retries the whole batch, which the ledger makes idempotent.

use platform_core::budget::Period;
use platform_core::telemetry::{Rejection, Telemetry};
use platform_core::usage::{BatchUsage, Subject};
use platform_core::{FeatureKey, UtcDay};
use platform_db::usage::ledger::{self, RejectKind, Transaction, UsageRow};
use platform_kv::families::{BudgetWarn, BudgetWarnMonthly};
use platform_kv::workers::WorkersClock;
use platform_kv::{Store, Timestamp};
use platform_worker::skeleton::Stamp;
use platform_worker::{alerts, ApiError, PlatformDb};
use serde::Serialize;
use worker::wasm_bindgen::JsValue;
use worker::{Env, MessageExt, QueueRetryOptionsBuilder, RawMessage};

use crate::decide::{decide, Inputs, Plan};
use crate::{broadcast, context};

/// Seconds before a batch that failed on storage is delivered again.
const RETRY_DELAY_SECONDS: u32 = 30;

/// One delivered message, decoded.
struct Incoming {
    message: RawMessage,
    id: String,
    payload: String,
    parsed: Result<Telemetry, Rejection>,
}

/// The structured line each batch ends with: the platform meters itself.
#[derive(Debug, Default, Serialize)]
pub struct BatchReport {
    pub event: &'static str,
    pub queue: String,
    pub messages: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub features: usize,
    pub kv_reads: u32,
    pub kv_writes: u32,
    /// D1 round trips, as the database counted them.
    pub d1_calls: u32,
    pub transitions: usize,
    pub warnings: usize,
    pub outcome: &'static str,
}

/// The worker's store (platform-worker's, named for this worker).
pub fn metered_store(env: &Env) -> Result<platform_worker::PlatformStore, ApiError> {
    platform_worker::store(env, crate::INFO.id)
}

/// The worker's database (platform-worker's, named for this worker), counting its round trips.
pub fn database(env: &Env) -> Result<PlatformDb, ApiError> {
    platform_worker::db(env, crate::INFO.id)
}

fn decode(message: RawMessage) -> Incoming {
    let id = message.id();
    let enqueued_at = message.timestamp().as_millis();
    let body = message.body();
    let payload = js_json(&body);
    let parsed = serde_wasm_bindgen::from_value::<serde_json::Value>(body)
        .map_err(|e| Rejection {
            field: "$".into(),
            reason: format!("not JSON: {e}"),
        })
        .and_then(|value| Telemetry::parse(&value, enqueued_at));
    Incoming {
        message,
        id,
        payload,
        parsed,
    }
}

/// The payload as JSON text, for the record and for replay.
fn js_json(value: &JsValue) -> String {
    worker::js_sys::JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Handles a batch of the telemetry queue. Settles every message itself.
pub async fn telemetry(messages: Vec<RawMessage>, queue: &str, env: &Env, stamp: Stamp) -> BatchReport {
    let incoming: Vec<Incoming> = messages.into_iter().map(decode).collect();
    let mut report = BatchReport {
        event: "telemetry_batch",
        queue: queue.to_owned(),
        messages: incoming.len(),
        ..BatchReport::default()
    };
    let db = database(env);
    let result = match &db {
        Ok(db) => ingest(&incoming, queue, env, db, stamp, &mut report).await,
        Err(error) => Err(error.clone()),
    };
    report.d1_calls = db.as_ref().map_or(0, |db| db.backend().counts().round_trips);
    match result {
        Ok(()) => {
            report.outcome = "ok";
            incoming.iter().for_each(|m| m.message.ack());
        }
        Err(error) => {
            report.outcome = "retried";
            worker::console_error!("telemetry batch retried: {error}");
            let now = worker::Date::now().as_millis();
            stamp.record(env, Some(&error.message), now).await;
            let delay = QueueRetryOptionsBuilder::new()
                .with_delay_seconds(RETRY_DELAY_SECONDS)
                .build();
            incoming.iter().for_each(|m| m.message.retry_with_options(&delay));
        }
    }
    report
}

async fn ingest(
    incoming: &[Incoming],
    queue: &str,
    env: &Env,
    db: &PlatformDb,
    stamp: Stamp,
    report: &mut BatchReport,
) -> Result<(), ApiError> {
    let store = metered_store(env)?;
    let now = store.now_ms();
    let today = UtcDay::containing(now);

    let accepted: Vec<(&Incoming, &Telemetry)> = incoming
        .iter()
        .filter_map(|m| m.parsed.as_ref().ok().map(|t| (m, t)))
        .collect();
    let mut all = BatchUsage::default();
    accepted.iter().for_each(|(_, telemetry)| all.add(telemetry));
    let features = all.features();
    report.features = features.len();

    let ids: Vec<String> = accepted.iter().map(|(m, _)| m.id.clone()).collect();
    let (day, month) = (today.to_string(), today.month().to_string());
    let snapshot = ledger::snapshot(db, &ids, &features, [&day, &month]).await?;
    for skipped in &snapshot.skipped {
        worker::console_warn!("ledger row ignored: {skipped}");
    }

    let fresh: Vec<&(&Incoming, &Telemetry)> = accepted
        .iter()
        .filter(|(m, _)| !snapshot.seen.contains(&m.id))
        .collect();
    report.duplicates = accepted.len() - fresh.len();
    let mut usage = BatchUsage::default();
    fresh.iter().for_each(|(_, telemetry)| usage.add(telemetry));

    let touched = usage.features();
    let limits = context::feature_limits(&store, &touched).await?;
    let budgets = context::budgets(&store).await?;
    let settings = context::settings(&store, db).await?.settings;
    let plan = decide(&Inputs {
        now,
        usage: &usage,
        before: &snapshot.totals,
        feature_breakers: &snapshot.feature_breakers,
        project_breakers: &snapshot.project_breakers,
        warned: &snapshot.warned,
        limits: &limits,
        budgets: &budgets,
        settings: &settings,
    });

    let mut tx = Transaction::new(now);
    tx.mark_seen(&fresh.iter().map(|(m, _)| m.id.clone()).collect::<Vec<_>>());
    tx.add_usage(&usage_rows(&usage));
    tx.heartbeats(&usage.heartbeats);
    for rejected in incoming.iter().filter(|m| m.parsed.is_err()) {
        if let Err(rejection) = &rejected.parsed {
            report.rejected += 1;
            worker::console_warn!("telemetry message {} rejected: {rejection}", rejected.id);
            tx.reject(
                RejectKind::Rejected,
                &rejected.id,
                queue,
                &rejection.to_string(),
                &rejected.payload,
            );
        }
    }
    record(&mut tx, &plan);
    tx.also(stamp.busy(db, now));
    tx.commit(db, "recording a telemetry batch").await?;

    publish(&store, &plan).await;
    report.transitions = plan.transitions();
    report.warnings = plan.warnings.len();
    if !plan.alerts.is_empty() {
        let delivery = alerts::deliver_pending(env, &store, db).await;
        if let Err(error) = delivery {
            worker::console_warn!("alerts left pending: {error}");
        }
    }
    let counts = store.kv().counts();
    report.kv_reads = counts.reads;
    report.kv_writes = counts.writes + counts.deletes;
    Ok(())
}

fn usage_rows(usage: &BatchUsage) -> Vec<UsageRow> {
    let mut rows = Vec::new();
    rows.extend(
        usage
            .daily
            .iter()
            .map(|((f, day), t)| (Subject::Feature(f.clone()), day.to_string(), t.clone())),
    );
    rows.extend(
        usage
            .monthly
            .iter()
            .map(|((f, month), t)| (Subject::Feature(f.clone()), month.to_string(), t.clone())),
    );
    rows.extend(
        usage
            .project_daily()
            .into_iter()
            .map(|((p, day), t)| (Subject::Project(p), day.to_string(), t)),
    );
    rows.extend(
        usage
            .project_monthly()
            .into_iter()
            .map(|((p, m), t)| (Subject::Project(p), m.to_string(), t)),
    );
    rows
}

/// The plan's records, in the batch's transaction.
pub fn record(tx: &mut Transaction, plan: &Plan) {
    for (feature, breaker) in &plan.feature_trips {
        tx.set_feature_breaker(feature, breaker);
    }
    for (project, breaker) in &plan.project_changes {
        tx.set_project_breaker(project, breaker);
    }
    for (feature, warning) in &plan.warnings {
        tx.warned(feature, warning.metric, &warning.period.id(), &warning.covers);
    }
    plan.events.iter().for_each(|event| tx.event(event.record()));
    plan.alerts
        .iter()
        .for_each(|alert| tx.push(alerts::enqueue(alert, tx.now())));
}

/// Broadcasts the plan's transitions and writes the warning markers. D1 already holds the record,
/// so a KV failure is logged and repaired by the hourly reconciliation.
pub async fn publish<K: platform_kv::Kv>(store: &Store<K, WorkersClock>, plan: &Plan) {
    for (feature, breaker) in &plan.feature_trips {
        if let Err(error) = broadcast::feature_opened(store, feature, breaker).await {
            worker::console_error!("breaker of {feature} not broadcast: {error}");
        }
    }
    for (project, breaker) in &plan.project_changes {
        if let Err(error) = broadcast::project_changed(store, project, breaker).await {
            worker::console_error!("level of project {project} not broadcast: {error}");
        }
    }
    for (feature, warning) in &plan.warnings {
        if let Err(error) = warning_marker(store, feature, warning).await {
            worker::console_warn!("warning marker of {feature} not written: {error}");
        }
    }
}

async fn warning_marker<K: platform_kv::Kv>(
    store: &Store<K, WorkersClock>,
    feature: &FeatureKey,
    warning: &platform_core::budget::Warning,
) -> Result<(), platform_kv::StoreError> {
    let now = Timestamp(store.now_ms());
    match warning.period {
        Period::Day(_) => {
            store
                .put(
                    &BudgetWarn::key(feature, warning.metric, warning.threshold)?,
                    &now,
                )
                .await
        }
        Period::Month(_) => {
            store
                .put(
                    &BudgetWarnMonthly::key(feature, warning.metric, warning.threshold)?,
                    &now,
                )
                .await
        }
    }
}

/// Handles a batch of the dead-letter queue: every message is recorded for inspection and replay.
/// Returns the report and, when the batch is retried, why.
pub async fn dead_letters(
    messages: Vec<RawMessage>,
    queue: &str,
    telemetry_queue: &str,
    env: &Env,
) -> (BatchReport, Option<String>) {
    let mut report = BatchReport {
        event: "dead_letter_batch",
        queue: queue.to_owned(),
        messages: messages.len(),
        ..BatchReport::default()
    };
    let db = database(env);
    let result = async {
        let db = db.as_ref().map_err(Clone::clone)?;
        let mut tx = Transaction::new(worker::Date::now().as_millis());
        let reason = format!("exhausted its retries on {telemetry_queue}");
        for message in &messages {
            tx.reject(
                RejectKind::DeadLetter,
                &message.id(),
                queue,
                &reason,
                &js_json(&message.body()),
            );
        }
        tx.commit(db, "recording dead letters").await?;
        Ok::<(), ApiError>(())
    }
    .await;
    report.d1_calls = db.as_ref().map_or(0, |db| db.backend().counts().round_trips);
    report.rejected = messages.len();
    match result {
        Ok(()) => {
            report.outcome = "ok";
            messages.iter().for_each(|m| m.ack());
            (report, None)
        }
        Err(error) => {
            report.outcome = "retried";
            worker::console_error!("dead letters retried: {error}");
            messages.iter().for_each(|m| m.retry());
            (report, Some(error.message))
        }
    }
}
