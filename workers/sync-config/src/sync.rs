//! The three ways state moves: `POST /sync` (validate, plan, and apply the first run), a queue
//! message (the next run of an apply too large for one invocation), and the daily drift check.
//! Each run re-plans from D1's record of written keys, so runs are idempotent and resume anywhere.

use platform_core::config::{validate, Config, Problem};
use platform_core::time::iso8601;
use platform_db::config::{self as db, DriftRow, HistoryRow, NewVersion};
use platform_worker::{ApiError, PlatformDb, PlatformStore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::Env;

use crate::files::{read_body, BadBody};
use platform_sync::state::{
    self, invalidate_settings_cache, D1Plan, Desired, DesiredRows, Failure, KvPlan, Plan, RunReport,
    KV_OPS_PER_RUN,
};
use platform_sync::Summary;

/// The queue that carries an apply across invocations.
pub const SYNC_QUEUE: &str = "SYNC_QUEUE";

/// Delay before a run that follows failed operations (KV allows one write per key per second).
const RETRY_DELAY_SECONDS: u32 = 5;

/// A message on the sync queue: continue applying this history entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Continue {
    pub history_id: u64,
}

/// The answer to `POST /sync`: a status and a JSON body.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

struct Context {
    store: PlatformStore,
    db: PlatformDb,
    env: Env,
}

impl Context {
    fn open(env: &Env) -> Result<Self, ApiError> {
        Ok(Self {
            store: platform_worker::store(env, crate::INFO.id)?,
            db: platform_worker::db(env, crate::INFO.id)?,
            env: env.clone(),
        })
    }

    fn now(&self) -> u64 {
        self.store.now_ms()
    }

    async fn enqueue(&self, history_id: u64, delay_seconds: u32) -> Result<(), ApiError> {
        let queue = self
            .env
            .queue(SYNC_QUEUE)
            .map_err(|_| ApiError::unavailable(format!("binding {SYNC_QUEUE} is missing")))?;
        let message = worker::MessageBuilder::new(Continue { history_id })
            .delay_seconds(delay_seconds)
            .build();
        queue
            .send(message)
            .await
            .map_err(|e| ApiError::internal("queueing the next run", e))
    }

    /// One run of the plan, recorded; queues the next run when work is left.
    async fn advance(
        &self,
        history_id: u64,
        desired: &Desired,
        plan: &KvPlan,
        budget: u32,
    ) -> Result<RunReport, ApiError> {
        let report = state::run(&self.store, desired, plan, budget).await;
        let complete = report.remaining == 0 && report.failed.is_empty();
        for failure in &report.failed {
            worker::console_warn!("sync: {} not applied: {}", failure.key, failure.error);
        }
        db::record_run(
            &self.db,
            history_id,
            &report.written,
            &report.deleted,
            self.now(),
            complete,
        )
        .await?;
        if !complete {
            let delay = if report.failed.is_empty() {
                0
            } else {
                RETRY_DELAY_SECONDS
            };
            self.enqueue(history_id, delay).await?;
        }
        Ok(report)
    }

    async fn plan(&self, config: &Config) -> Result<(Desired, Plan), ApiError> {
        let desired = Desired::of(config).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let (written, rows) = db::recorded(&self.db).await?;
        for problem in &rows.skipped {
            worker::console_warn!("a registry row does not read and is written afresh: {problem}");
        }
        let plan = Plan {
            kv: KvPlan::new(&desired, &written),
            d1: D1Plan::new(&DesiredRows::of(config), &rows),
        };
        Ok((desired, plan))
    }
}

fn config_of(row: &HistoryRow) -> Result<Config, ApiError> {
    let document = row.document.as_deref().unwrap_or("{}");
    serde_json::from_str(document).map_err(|e| ApiError::internal("reading the recorded config", e))
}

/// `POST /sync`: validates both files, plans, and (unless `dry_run`) applies.
pub async fn post(env: &Env, body: &str, dry_run: bool) -> Result<Answer, ApiError> {
    let documents = read_body(body).map_err(|BadBody(reason)| ApiError::bad_request(reason))?;
    let config = match documents.and_then(|(services, budgets)| validate(&services, &budgets)) {
        Ok(config) => config,
        Err(problems) => return Ok(refused(&problems)),
    };
    let context = Context::open(env)?;
    let version = config.version();
    let current = db::latest(&context.db).await?;
    let current_version = current.as_ref().map(|row| row.version.clone());
    let (desired, plan) = context.plan(&config).await?;
    let summary = Summary::of(&config, &desired, &plan);
    let mut body = json!({
        "dry_run": dry_run,
        "version": version,
        "current_version": current_version,
        "summary": summary,
        "plan": plan,
    });
    if dry_run {
        return Ok(Answer { status: 200, body });
    }

    // The same config again: nothing is recorded, and only work left undone (an unfinished
    // apply, rows edited by hand) is done.
    let same = current.as_ref().filter(|row| row.version == version);
    if same.is_some() && plan.is_empty() {
        body["result"] = json!({"complete": true, "recorded": false, "kv_ops": 0, "d1_changes": 0});
        return Ok(Answer { status: 200, body });
    }
    let now = context.now();
    let history_id = match same {
        Some(row) => row.id,
        None => {
            let document =
                serde_json::to_string(&config).map_err(|e| ApiError::internal("encoding the config", e))?;
            let summary =
                serde_json::to_string(&summary).map_err(|e| ApiError::internal("encoding the summary", e))?;
            let new = NewVersion {
                version: &version,
                applied_at: now,
                document: &document,
                summary: &summary,
                kv_total: plan.kv.operations() as u64,
                replaces: current.as_ref().map(|row| row.id),
            };
            db::record_version(&context.db, new)
                .await?
                .ok_or_else(|| busy(current.as_ref()))?
        }
    };
    db::write_rows(&context.db, plan.d1.writes(), now).await?;
    let mut budget = KV_OPS_PER_RUN;
    let mut cache_failures: Vec<Failure> = Vec::new();
    let settings_changed = plan.d1.settings.changes() > 0;
    if settings_changed {
        let (ops, failed) = invalidate_settings_cache(&context.store).await;
        budget -= ops;
        for failure in &failed {
            worker::console_warn!(
                "sync: settings cache key {} not deleted ({}); it expires within the hour",
                failure.key,
                failure.error
            );
        }
        cache_failures = failed;
    }
    let report = context.advance(history_id, &desired, &plan.kv, budget).await?;
    let complete = report.remaining == 0 && report.failed.is_empty();
    body["result"] = json!({
        "complete": complete,
        "recorded": same.is_none(),
        "kv_written": report.written.len(),
        "kv_deleted": report.deleted.len(),
        "kv_ops": report.kv_ops + (KV_OPS_PER_RUN - budget),
        "d1_changes": plan.d1.changes(),
        "settings_cache_invalidated": settings_changed,
        "failed": report.failed.iter().chain(&cache_failures).collect::<Vec<_>>(),
        "remaining": report.remaining + report.failed.len(),
    });
    Ok(Answer {
        status: if complete { 200 } else { 202 },
        body,
    })
}

/// The answer to an apply that lost the race to another one (or came while one was applying).
fn busy(planned_against: Option<&HistoryRow>) -> ApiError {
    let against = planned_against.map_or("no config".to_owned(), |row| format!("config #{}", row.id));
    ApiError::new(
        409,
        format!(
            "another config is being applied (this one was planned against {against}); nothing was \
             written: retry once it completes (GET /config shows its progress)"
        ),
    )
}

fn refused(problems: &[Problem]) -> Answer {
    let count = problems.len();
    Answer {
        status: 400,
        body: json!({
            "error": format!("the config has {count} problem{}; nothing was written", if count == 1 { "" } else { "s" }),
            "problems": problems,
        }),
    }
}

/// A queue message: the next run of an apply, if it is still the current one.
pub async fn resume(env: &Env, message: &Continue) -> Result<(), ApiError> {
    let context = Context::open(env)?;
    let Some(current) = db::latest(&context.db).await? else {
        return Ok(());
    };
    if current.id != message.history_id {
        worker::console_log!(
            "sync: run for config #{} skipped: config #{} ({}) replaced it",
            message.history_id,
            current.id,
            current.version
        );
        return Ok(());
    }
    let config = config_of(&current)?;
    let desired = Desired::of(&config).map_err(|e| ApiError::internal("deriving state", e))?;
    let plan = KvPlan::new(&desired, &db::written(&context.db).await?);
    if plan.operations() == 0 && current.completed_at.is_some() {
        return Ok(());
    }
    let report = context
        .advance(current.id, &desired, &plan, KV_OPS_PER_RUN)
        .await?;
    worker::console_log!(
        "sync: config {} run {}: {} written, {} deleted, {} left",
        current.version,
        current.runs + 1,
        report.written.len(),
        report.deleted.len(),
        report.remaining
    );
    Ok(())
}

/// The daily drift check: every key sync-config wrote is listed; one missing or rewritten is
/// written again from the current config, and the check is recorded.
pub async fn check_drift(env: &Env) -> Result<(), ApiError> {
    let context = Context::open(env)?;
    let Some(current) = db::latest(&context.db).await? else {
        worker::console_log!("drift check: no config has been applied yet");
        return Ok(());
    };
    let config = config_of(&current)?;
    let desired = Desired::of(&config).map_err(|e| ApiError::internal("deriving state", e))?;
    let mut written = db::written(&context.db).await?;
    let (drift, lists) = state::drift(&context.store, &written)
        .await
        .map_err(|e| ApiError::internal("listing the derived keys", e))?;
    let checked = written.len();
    if !drift.is_empty() {
        for found in &drift {
            worker::console_warn!("drift check: {} is {}; repairing it", found.key, found.reason);
            written.remove(&found.key);
        }
        let keys: Vec<String> = drift.iter().map(|d| d.key.clone()).collect();
        db::forget_drift(&context.db, current.id, &keys).await?;
    }
    let plan = KvPlan::new(&desired, &written);
    if plan.operations() > 0 {
        let report = context
            .advance(current.id, &desired, &plan, KV_OPS_PER_RUN.saturating_sub(lists))
            .await?;
        worker::console_log!(
            "drift check: repaired {} key(s), {} left for the next run",
            report.written.len() + report.deleted.len(),
            report.remaining
        );
    }
    let repaired = serde_json::to_string(&drift).unwrap_or_else(|_| "[]".into());
    let check = DriftRow {
        checked_at: context.now(),
        version: current.version.clone(),
        checked: checked as u64,
        repaired,
    };
    db::record_drift_check(&context.db, &check).await?;
    worker::console_log!(
        "drift check: config {}: {checked} key(s) checked, {} drifted",
        current.version,
        drift.len()
    );
    Ok(())
}

/// `GET /config`: the current config, its progress and the last drift check.
pub async fn current(env: &Env) -> Result<Value, ApiError> {
    let database = platform_worker::db(env, crate::INFO.id)?;
    let row = db::latest(&database)
        .await?
        .ok_or_else(|| ApiError::not_found("no config has been applied yet"))?;
    let last_drift_check = db::last_drift_check(&database).await?.map(|check| {
        json!({
            "checked_at": iso8601(check.checked_at),
            "version": check.version,
            "checked": check.checked,
            "repaired": serde_json::from_str::<Value>(&check.repaired).unwrap_or(Value::Null),
        })
    });
    let document = row
        .document
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok());
    let mut body = history_entry(&row);
    body["document"] = document.unwrap_or(Value::Null);
    body["last_drift_check"] = last_drift_check.unwrap_or(Value::Null);
    Ok(body)
}

/// `GET /history`: the configs applied before the current one, newest first.
pub async fn history(env: &Env) -> Result<Value, ApiError> {
    let rows = db::earlier(&platform_worker::db(env, crate::INFO.id)?, 100).await?;
    Ok(json!({ "history": rows.iter().map(history_entry).collect::<Vec<_>>() }))
}

fn history_entry(row: &HistoryRow) -> Value {
    json!({
        "version": row.version,
        "applied_at": iso8601(row.applied_at),
        "completed_at": row.completed_at.map(iso8601),
        "status": if row.completed_at.is_some() { "applied" } else { "applying" },
        "progress": {"kv_done": row.kv_done, "kv_total": row.kv_total, "runs": row.runs},
        "summary": serde_json::from_str::<Value>(&row.summary).unwrap_or(Value::Null),
    })
}
