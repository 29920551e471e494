//! The telemetry queue consumer: each batch is decoded, aggregated in memory and counted in one D1
//! transaction that also reads the state after it; the decision's records, when it changed
//! anything, are a second. KV is written only for transitions. A message that cannot be used is
//! recorded and acknowledged; a storage failure retries the whole batch, which the receipts make
//! idempotent: a redelivered batch is refused whole, and only its new messages are counted.

use platform_core::budget::Period;
use platform_core::dead_letter::DeadLetter;
use platform_core::telemetry::{Rejection, Telemetry};
use platform_core::usage::{BatchUsage, MetricTotals, Subject};
use platform_core::{EpochMs, FeatureKey, UtcDay};
use platform_db::usage::ledger::{self, ByMinute, RejectKind, Snapshot, Totals, Transaction};
use platform_db::{DbError, Statement};
use platform_kv::families::{BudgetWarn, BudgetWarnMonthly};
use platform_kv::workers::WorkersClock;
use platform_kv::{Store, Timestamp};
use platform_worker::skeleton::Stamp;
use platform_worker::{alerts, ApiError, PlatformDb};
use serde::Serialize;
use worker::wasm_bindgen::JsValue;
use worker::{
    BatchMessageBuilder, Env, MessageExt, QueueContentType, QueueRetryOptionsBuilder, RawMessage,
    RawMessageBuilder,
};

use crate::decide::{decide, Inputs, Plan};
use crate::{broadcast, context};

/// Seconds before a batch that failed on storage is delivered again.
const RETRY_DELAY_SECONDS: u32 = 30;
/// Seconds before dead letters D1 refused are delivered again: with the consumer's 100 retries
/// (wrangler/platform-usage.toml), they outlast an outage of more than eight hours.
const DEAD_LETTER_RETRY_SECONDS: u32 = 300;
/// The producer of the dead-letter queue itself: a letter D1 has refused for hours is sent again.
pub const DEAD_LETTER_BINDING: &str = "PLATFORM_TELEMETRY_DLQ";

/// One delivered message, decoded.
struct Incoming {
    message: RawMessage,
    id: String,
    /// When the message was sent to the queue: a redelivery keeps it.
    enqueued_at: EpochMs,
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
    /// Messages counted without some of their metrics: names this version does not know.
    pub ignored_metrics: usize,
    pub features: usize,
    pub kv_reads: u32,
    pub kv_writes: u32,
    /// D1 round trips, as the database counted them.
    pub d1_calls: u32,
    /// D1 rows read and written, as D1 bills them.
    pub d1_rows_read: u64,
    pub d1_rows_written: u64,
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
    // Read from the body's JSON text, which is also what is kept for replay: a body that has no
    // JSON form (a cycle, a BigInt) is refused with that reason instead of trapping the decoder.
    let (payload, parsed) = match json_text(&body) {
        Ok(text) => {
            let parsed = serde_json::from_str::<serde_json::Value>(&text)
                .map_err(|e| Rejection {
                    field: "$".into(),
                    reason: format!("not JSON: {e}"),
                })
                .and_then(|value| Telemetry::parse(&value, enqueued_at));
            (text, parsed)
        }
        Err(reason) => {
            let rejection = Rejection {
                field: "$".into(),
                reason: format!("has no JSON form: {reason}"),
            };
            (format!("{body:?}"), Err(rejection))
        }
    };
    Incoming {
        message,
        id,
        enqueued_at,
        payload,
        parsed,
    }
}

/// The value as JSON text, or why it has none.
fn json_text(value: &JsValue) -> Result<String, String> {
    match worker::js_sys::JSON::stringify(value) {
        Ok(text) => text.as_string().ok_or_else(|| "it is undefined".to_owned()),
        Err(error) => Err(format!("{error:?}")),
    }
}

/// The payload as JSON text, for the record and for replay.
fn js_json(value: &JsValue) -> String {
    json_text(value).unwrap_or_else(|_| format!("{value:?}"))
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
    if let Ok(db) = &db {
        let counts = db.backend().counts();
        report.d1_calls = counts.round_trips;
        report.d1_rows_read = counts.rows_read;
        report.d1_rows_written = counts.rows_written;
    }
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
    let (day, month) = (today.to_string(), today.month().to_string());
    let periods = [day.as_str(), month.as_str()];

    for (id, rejection) in incoming
        .iter()
        .filter_map(|m| Some((&m.id, m.parsed.as_ref().err()?)))
    {
        worker::console_warn!("telemetry message {id} rejected: {rejection}");
    }
    for (m, telemetry) in accepted.iter().filter(|(_, t)| !t.ignored.is_empty()) {
        report.ignored_metrics += 1;
        let names = telemetry.ignored.join(", ");
        worker::console_warn!(
            "telemetry message {}: metrics not understood, ignored: {names}",
            m.id
        );
    }
    // Counted as new, the common case, in one round trip; a redelivery is refused whole and its
    // new messages counted in two more.
    let stamp = stamp.busy(db, now);
    let stamp = stamp.as_ref();
    let receipts = by_minute(accepted.iter().map(|(m, _)| *m));
    let counting = count(
        incoming,
        queue,
        db,
        stamp,
        now,
        (&receipts, &all),
        &features,
        periods,
        report,
    );
    let snapshot = match counting.await {
        Err(error) if ledger::already_counted(&error) => {
            let counted = ledger::counted(db, &receipts).await?;
            report.duplicates = counted.len();
            let fresh: Vec<&(&Incoming, &Telemetry)> = accepted
                .iter()
                .filter(|(m, _)| !counted.contains(&m.id))
                .collect();
            let mut usage = BatchUsage::default();
            fresh.iter().for_each(|(_, telemetry)| usage.add(telemetry));
            let receipts = by_minute(fresh.iter().map(|(m, _)| *m));
            count(
                incoming,
                queue,
                db,
                stamp,
                now,
                (&receipts, &usage),
                &features,
                periods,
                report,
            )
            .await?
        }
        counted => counted?,
    };
    for skipped in &snapshot.skipped {
        worker::console_warn!("ledger row ignored: {skipped}");
    }

    // Decided over every message of the batch, duplicates too: if the records of an earlier
    // delivery's decision were lost, this one makes them again.
    let limits = context::feature_limits(&store, &all.used_features()).await?;
    let budgets = context::budgets(&store).await?;
    let settings = context::settings(&store, db).await?.settings;
    let before = before_batch(&snapshot.totals, &all, today);
    let plan = decide(&Inputs {
        now,
        usage: &all,
        before: &before,
        feature_breakers: &snapshot.feature_breakers,
        project_breakers: &snapshot.project_breakers,
        warned: &snapshot.warned,
        limits: &limits,
        budgets: &budgets,
        settings: &settings,
    });
    let mut tx = Transaction::new(now);
    record(&mut tx, &plan);
    tx.commit(db, "recording a telemetry batch's decision").await?;

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

/// The messages' ids by receipt minute.
fn by_minute<'a>(messages: impl Iterator<Item = &'a Incoming>) -> ByMinute {
    let mut ids = ByMinute::new();
    for message in messages {
        ids.entry(ledger::minute_of(message.enqueued_at))
            .or_default()
            .push(message.id.clone());
    }
    ids
}

/// Counts the messages (receipts, usage, activity, heartbeats), keeps the rejected ones and the
/// handler's stamp, and reads the state after it: one transaction, one round trip.
#[allow(clippy::too_many_arguments)] // one call site per attempt; a struct would only rename them
async fn count(
    incoming: &[Incoming],
    queue: &str,
    db: &PlatformDb,
    stamp: Option<&Statement>,
    now: EpochMs,
    (receipts, usage): (&ByMinute, &BatchUsage),
    features: &[FeatureKey],
    periods: [&str; 2],
    report: &mut BatchReport,
) -> Result<Snapshot, DbError> {
    let mut tx = Transaction::new(now);
    tx.count(receipts, usage);
    report.rejected = 0;
    for rejected in incoming {
        if let Err(rejection) = &rejected.parsed {
            report.rejected += 1;
            tx.reject(
                RejectKind::Rejected,
                &rejected.id,
                queue,
                &rejection.to_string(),
                &rejected.payload,
            );
        }
    }
    tx.also(stamp.cloned());
    tx.commit_and_read(db, features, periods).await
}

/// The totals before the batch's messages, in the current day and month: what [`decide`] adds
/// the batch to.
fn before_batch(after: &Totals, batch: &BatchUsage, today: UtcDay) -> Totals {
    let mut before = after.clone();
    let mut take = |subject: Subject, period: String, amounts: &MetricTotals| {
        if let Some(totals) = before.get_mut(&(subject, period)) {
            for (metric, amount) in amounts {
                if let Some(total) = totals.get_mut(metric) {
                    *total = (*total - amount).max(0.0);
                }
            }
        }
    };
    for ((feature, day), amounts) in batch.daily.iter().filter(|((_, d), _)| *d == today) {
        take(Subject::Feature(feature.clone()), day.to_string(), amounts);
        take(Subject::Project(feature.project()), day.to_string(), amounts);
    }
    for ((feature, month), amounts) in batch.monthly.iter().filter(|((_, m), _)| *m == today.month()) {
        take(Subject::Feature(feature.clone()), month.to_string(), amounts);
        take(Subject::Project(feature.project()), month.to_string(), amounts);
    }
    before
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
    // A copy sent again is recorded as the letter it carries: under its first id and queue.
    let letters: Vec<DeadLetter> = messages
        .iter()
        .map(|m| DeadLetter::received(&m.id(), queue, js_json(&m.body())))
        .collect();
    let db = database(env);
    let result = async {
        let db = db.as_ref().map_err(Clone::clone)?;
        let mut tx = Transaction::new(worker::Date::now().as_millis());
        let reason = format!("exhausted its retries on {telemetry_queue}");
        for letter in &letters {
            tx.reject(
                RejectKind::DeadLetter,
                &letter.id,
                &letter.queue,
                &reason,
                &letter.payload,
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
            let delay = QueueRetryOptionsBuilder::new()
                .with_delay_seconds(DEAD_LETTER_RETRY_SECONDS)
                .build();
            // The runtime would drop a letter after its last retry: an old one is sent again,
            // as a new message, and acknowledged only once the copy is on the queue.
            let now = worker::Date::now().as_millis();
            let (old, young): (Vec<_>, Vec<_>) = messages
                .iter()
                .zip(&letters)
                .partition(|(m, _)| DeadLetter::due_for_resend(m.timestamp().as_millis(), now));
            young.iter().for_each(|(m, _)| m.retry_with_options(&delay));
            if !old.is_empty() {
                match resend(env, old.iter().map(|(_, letter)| *letter)).await {
                    Ok(()) => old.iter().for_each(|(m, _)| m.ack()),
                    Err(error) => {
                        worker::console_error!("dead letters not sent again, retried: {error}");
                        old.iter().for_each(|(m, _)| m.retry_with_options(&delay));
                    }
                }
            }
            (report, Some(error.message))
        }
    }
}

/// Sends copies of the letters to the dead-letter queue, in one call.
async fn resend<'a>(env: &Env, letters: impl Iterator<Item = &'a DeadLetter>) -> Result<(), String> {
    let queue = env
        .queue(DEAD_LETTER_BINDING)
        .map_err(|_| format!("binding {DEAD_LETTER_BINDING} is missing"))?;
    let mut copies = Vec::new();
    for letter in letters {
        // Parsed by the runtime's JSON, so the copy is a plain object like the letter was.
        let body = worker::js_sys::JSON::parse(&letter.resent()).map_err(|e| format!("{e:?}"))?;
        copies.push(RawMessageBuilder::new(body).build_with_content_type(QueueContentType::Json));
    }
    queue
        .send_raw_batch(BatchMessageBuilder::new().messages(copies).build())
        .await
        .map_err(|e| e.to_string())
}
