//! The account's own usage, collected hourly from Cloudflare's GraphQL Analytics API: one request
//! per dataset (platform_core::account::datasets), hours stored by replacing their rows in
//! `account_usage`, the cursor and each lagging dataset in the Usage & Sampling keys.

mod api;
mod footprint;
mod routes;

pub use routes::{account, backfill, health_warnings, status};

use platform_core::account::attribution::Attribution;
use platform_core::account::collect::{self, Job, Outcome, Plan, State};
use platform_core::account::sampling::Pace;
use platform_core::time::iso8601;
use platform_core::EpochMs;
use platform_db::account as table;
use platform_db::Statement;
use platform_kv::families::{PrevHourAccount, PrevHourTimestamp, UsageSamplingMode};
use platform_kv::{Json, StoreError, Timestamp};
use platform_worker::{ApiError, PlatformDb, PlatformStore};
use serde_json::{json, Value};
use worker::Env;

use crate::cloudflare::Credentials;

/// The id of the platform's own D1 database, whose rows written are the platform's D1 footprint.
pub const PLATFORM_DB_ID: &str = "PLATFORM_DB_ID";

/// Usage lines per statement: keeps each bound JSON value far under D1's size limits.
const LINES_PER_STATEMENT: usize = 4_000;

/// Where collection stands.
struct Cursor {
    at: Option<EpochMs>,
    state: State,
    pace: Pace,
}

async fn load(store: &PlatformStore) -> Result<Cursor, ApiError> {
    let at = store
        .get(&PrevHourTimestamp::key()?)
        .await?
        .map(|Timestamp(at)| at);
    let state = match store.get(&PrevHourAccount::key()?).await {
        Ok(found) => found
            .map(|Json(object)| State::from_json(&Value::Object(object)))
            .transpose()
            .unwrap_or_else(|error| {
                worker::console_warn!("the collection state is unreadable ({error}): starting afresh");
                None
            })
            .unwrap_or_default(),
        Err(StoreError::Value { key, error }) => {
            worker::console_warn!("{key} ignored: {error}");
            State::default()
        }
        Err(other) => return Err(other.into()),
    };
    let pace = match store.get(&UsageSamplingMode::key()?).await {
        Ok(mode) => mode.map_or(Pace::Full, Pace::from),
        Err(error) => {
            worker::console_warn!("sampling mode unreadable ({error}): FULL applies");
            Pace::Full
        }
    };
    Ok(Cursor { at, state, pace })
}

/// Who owns each script and resource, from the applied config (one D1 read). Without it every
/// line is unattributed, never dropped.
async fn attribution(db: &PlatformDb) -> Attribution {
    match platform_db::config::latest(db).await {
        Ok(Some(row)) => row
            .document
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .map(|document| Attribution::from_config_json(&document))
            .unwrap_or_default(),
        Ok(None) => Attribution::default(),
        Err(error) => {
            worker::console_warn!("config unreadable, usage left unattributed: {error}");
            Attribution::default()
        }
    }
}

/// What a set of jobs did: each outcome, the statements that store what was collected, whether
/// the API asked to wait, and what was odd.
#[derive(Default)]
struct Ran {
    outcomes: Vec<(Job, Outcome)>,
    statements: Vec<Statement>,
    retry_after_s: Option<u64>,
    warnings: Vec<String>,
}

impl Ran {
    fn summary(&self) -> Value {
        let mut collected = Vec::new();
        let mut failed = serde_json::Map::new();
        for (job, outcome) in &self.outcomes {
            match outcome {
                Outcome::Collected => collected.push(job.dataset.id),
                Outcome::Failed(reason) => {
                    failed.insert(job.dataset.id.to_owned(), reason.as_str().into());
                }
                Outcome::NotSent => {
                    failed.insert(
                        job.dataset.id.to_owned(),
                        "not sent: the API asked to wait".into(),
                    );
                }
            }
        }
        json!({ "collected": collected, "failed": failed, "warnings": self.warnings })
    }
}

/// Runs each job as its own request; after a 429 the rest wait for the next run.
async fn run(credentials: &Credentials, jobs: &[Job], owners: &Attribution, now: EpochMs) -> Ran {
    let mut ran = Ran::default();
    for job in jobs {
        if ran.retry_after_s.is_some() {
            ran.outcomes.push((*job, Outcome::NotSent));
            continue;
        }
        let body = job.dataset.request(&credentials.account, job.from, job.to);
        let outcome = match api::post(&credentials.token, body).await {
            Ok(answer) => match job.dataset.parse(&answer, job.from, job.to, owners) {
                Ok(parsed) => {
                    let id = job.dataset.id;
                    ran.warnings
                        .extend(parsed.warnings.iter().map(|w| format!("{id}: {w}")));
                    match store_hours(id, &parsed.hours, now) {
                        Ok(statements) => {
                            ran.statements.extend(statements);
                            Outcome::Collected
                        }
                        Err(error) => Outcome::Failed(error.to_string()),
                    }
                }
                Err(reason) => Outcome::Failed(reason),
            },
            Err(failure) => {
                ran.retry_after_s = failure.retry_after_s;
                Outcome::Failed(failure.reason)
            }
        };
        if let Outcome::Failed(reason) = &outcome {
            worker::console_warn!("account usage {}: {reason}", job.dataset.id);
        }
        ran.outcomes.push((*job, outcome));
    }
    ran
}

fn store_hours(
    dataset: &str,
    hours: &[platform_core::account::datasets::HourLines],
    now: EpochMs,
) -> Result<Vec<Statement>, platform_db::DbError> {
    let mut statements = Vec::new();
    let mut chunk = Vec::new();
    let mut lines = 0;
    for hour in hours {
        if !chunk.is_empty() && lines + hour.lines.len() > LINES_PER_STATEMENT {
            statements.push(table::replace_hours(dataset, &chunk, now)?);
            chunk.clear();
            lines = 0;
        }
        lines += hour.lines.len();
        chunk.push((hour.start, hour.lines.as_slice(), hour.exactness));
    }
    if !chunk.is_empty() {
        statements.push(table::replace_hours(dataset, &chunk, now)?);
    }
    Ok(statements)
}

/// The hourly cron: collects the hours the plan names, stores them in one D1 batch, then moves
/// the cursor. KV is written only where something changed: the cursor once an hour.
pub async fn hourly(env: &Env, at: EpochMs) -> Result<Value, ApiError> {
    let credentials = match Credentials::required(env) {
        Ok(credentials) => credentials,
        Err(reason) => return Ok(json!({ "skipped": reason })),
    };
    let store = crate::ingest::metered_store(env)?;
    let db = crate::ingest::database(env)?;
    let loaded = load(&store).await?;
    let (jobs, cursor, gaps) = match collect::plan(at, loaded.at, &loaded.state, loaded.pace) {
        Plan::Wait { until } => {
            return Ok(json!({ "waiting": format!("the API asked to wait until {}", iso8601(until)) }))
        }
        Plan::Paced(pace) => {
            return Ok(json!({ "skipped": format!(
                "sampling mode {}: collection runs every {} hours", pace.name(), pace.interval_hours()
            ) }))
        }
        Plan::UpToDate => return Ok(json!({ "up_to_date": loaded.at.map(iso8601) })),
        Plan::Collect { jobs, cursor, gaps } => (jobs, cursor, gaps),
    };
    for gap in &gaps {
        worker::console_warn!("account usage: {gap}");
    }
    let owners = attribution(&db).await;
    let ran = run(&credentials, &jobs, &owners, at).await;
    if !ran.statements.is_empty() {
        db.batch("storing account usage", ran.statements.clone()).await?;
    }
    let mut state = loaded.state.after(&ran.outcomes, cursor, at);
    if let Some(seconds) = ran.retry_after_s {
        state.retry_after = Some(at + seconds * 1000);
    }
    if state != loaded.state {
        store
            .put(&PrevHourAccount::key()?, &Json(state.to_json()))
            .await?;
    }
    if loaded.at != Some(cursor) {
        store.put(&PrevHourTimestamp::key()?, &Timestamp(cursor)).await?;
    }
    let footprint = footprint::update(env, &store, &db, &owners, loaded.pace, at).await;
    let mut summary = ran.summary();
    summary["cursor"] = iso8601(cursor).into();
    summary["gaps"] = json!(gaps);
    summary["footprint"] = footprint;
    Ok(summary)
}
