//! What one invocation carries while it works: bindings, the clock, the GitHub client, the write
//! budgets (hourly `ERROR_RATE` per script, daily issue caps per script and for the account) and
//! a report of what it did.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use platform_core::alert::AlertSubject;
use platform_core::{UtcDay, UtcHour};
use platform_errors::milestone::DAY_MS;
use platform_kv::families::ErrorRate;
use platform_kv::PlatformWorker;
use platform_worker::alerts::{self, Alert};
use platform_worker::{ApiError, PlatformDb, PlatformStore};
use serde::Serialize;
use serde_json::Value;
use worker::{Env, Method};

use crate::github::{Github, GithubError};
use crate::ledger::{fingerprints, state, DailyIssue, FactKey};

/// GitHub writes per script per UTC hour, and issue creations per script per UTC day.
pub const HOURLY_LIMIT_VAR: &str = "ERROR_HOURLY_LIMIT";
pub const DAILY_LIMIT_VAR: &str = "ERROR_DAILY_LIMIT";
/// Issue creations per UTC day over every script: a flood across many Workers stays bounded.
pub const ACCOUNT_DAILY_LIMIT_VAR: &str = "ERROR_ACCOUNT_DAILY_LIMIT";
/// How often a lasting refusal of GitHub is recalled.
const GITHUB_ALERT_QUIET_MS: u64 = 3_600_000;
/// Where errors of unmapped scripts are filed (optional `owner/name`).
pub const DEFAULT_REPOSITORY_VAR: &str = "DEFAULT_REPOSITORY";

/// What an invocation did; logged as one JSON line.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub events: u32,
    pub malformed: u32,
    pub occurrences: u32,
    pub fingerprints: u32,
    /// Matches of shadow and approved patterns recorded with the batch's counts.
    pub pattern_matches: u32,
    /// D1 round trips of the batch's counts (the handler's stamp rides in them), from the meter.
    pub d1_round_trips: u32,
    pub kv_writes: u32,
    pub github_calls: u32,
    pub created: u32,
    pub reopened: u32,
    pub comments: u32,
    pub relabelled: u32,
    pub deferred: u32,
    /// Events put on the collector's queue, to be recorded by a later run.
    pub deferred_events: u32,
    /// D1 statements of the invocation (production allows 1,000 per invocation).
    pub d1_statements: u32,
    pub failed: u32,
    pub errors: Vec<String>,
}

impl Report {
    /// The report of an invocation that could not start (a binding is missing).
    pub fn failed(error: ApiError) -> Self {
        Self {
            errors: vec![error.log_message()],
            ..Self::default()
        }
    }
}

pub struct Ctx<'a> {
    pub env: &'a Env,
    pub db: PlatformDb,
    pub store: PlatformStore,
    pub github: Option<Github>,
    pub now: u64,
    /// Set when GitHub refused auth or asked to wait: no further calls this invocation.
    pub halted: bool,
    /// When GitHub said to come back, if it did.
    pub resume_at: Option<u64>,
    hourly_limit: i64,
    daily_limit: u64,
    account_daily_limit: u64,
    /// Per script: writes already counted in `ERROR_RATE` this hour, and writes made now.
    counted: BTreeMap<String, i64>,
    pub writes: BTreeMap<String, i64>,
    pub report: Report,
}

fn var_number(env: &Env, name: &str, default: u64) -> u64 {
    env.var(name)
        .ok()
        .and_then(|v| v.to_string().trim().parse().ok())
        .unwrap_or(default)
}

/// The account's daily cap on issue creations.
pub fn account_daily_limit(env: &Env) -> u64 {
    var_number(env, ACCOUNT_DAILY_LIMIT_VAR, 200)
}

impl<'a> Ctx<'a> {
    pub fn new(env: &'a Env, now: u64) -> Result<Self, ApiError> {
        Ok(Self {
            env,
            db: platform_worker::db(env, PlatformWorker::ErrorCollector)?,
            store: platform_worker::store(env, PlatformWorker::ErrorCollector)?,
            github: Github::from_env(env),
            now,
            halted: false,
            resume_at: None,
            hourly_limit: var_number(env, HOURLY_LIMIT_VAR, 10) as i64,
            daily_limit: var_number(env, DAILY_LIMIT_VAR, 50),
            account_daily_limit: account_daily_limit(env),
            counted: BTreeMap::new(),
            writes: BTreeMap::new(),
            report: Report::default(),
        })
    }

    pub fn default_repository(&self) -> Option<String> {
        self.env
            .var(DEFAULT_REPOSITORY_VAR)
            .ok()
            .map(|v| v.to_string())
            .filter(|v| v.contains('/'))
    }

    /// D1 round trips this invocation made so far, as the database's meter counts them.
    pub fn round_trips(&self) -> u32 {
        self.db.backend().counts().round_trips
    }

    /// D1 statements this invocation sent so far.
    pub fn statements(&self) -> u32 {
        self.db.backend().counts().statements
    }

    pub fn hour(&self) -> UtcHour {
        UtcHour::containing(self.now)
    }

    /// Whether `script` may make one more GitHub write this hour. Reads `ERROR_RATE` once per
    /// script per invocation.
    pub async fn may_write(&mut self, script: &str) -> bool {
        if self.halted || self.github.is_none() {
            return false;
        }
        if !self.counted.contains_key(script) {
            let counted = match ErrorRate::key(script, self.hour()) {
                Ok(key) => self.store.get(&key).await.ok().flatten().unwrap_or(0),
                Err(_) => 0,
            };
            self.counted.insert(script.to_owned(), counted);
        }
        let counted = self.counted.get(script).copied().unwrap_or(0);
        let made = self.writes.get(script).copied().unwrap_or(0);
        counted + made < self.hourly_limit
    }

    pub fn wrote(&mut self, script: &str) {
        *self.writes.entry(script.to_owned()).or_insert(0) += 1;
    }

    /// Why no further issue may be created for `script` today, if a daily cap says so: the
    /// script's own, or the account's. Both are counted in D1, in one query.
    pub async fn daily_cap_reached(&mut self, script: &str) -> Result<Option<&'static str>, ApiError> {
        let today = UtcDay::containing(self.now).start_ms();
        let created = fingerprints::created_since(&self.db, today, Some(script)).await?;
        let (account, by_script) = (created.account, created.script);
        if by_script >= self.daily_limit {
            return Ok(Some("daily issue cap of the script"));
        }
        if account >= self.account_daily_limit {
            let alert = Alert {
                subject: AlertSubject::AccountDailyCap {
                    day: UtcDay::containing(self.now),
                },
                text: format!(
                    ":warning: Error collector: {account} GitHub issues were created today, the account's \
                     daily cap ({ACCOUNT_DAILY_LIMIT_VAR}={}). Errors are still counted in D1; new issues \
                     wait for the next UTC day. Look for a flood: GET /errors?status=open.",
                    self.account_daily_limit
                ),
            };
            // Once a day: the subject names the day.
            self.raise(&alert, DAY_MS).await;
            return Ok(Some("daily issue cap of the account"));
        }
        Ok(None)
    }

    /// Stores an alert about the collector itself, unless raised within `quiet_ms`; a failure is
    /// reported.
    pub async fn raise(&mut self, alert: &Alert, quiet_ms: u64) {
        if let Err(error) = alerts::raise(&self.db, alert, quiet_ms, self.now).await {
            self.fail("raising an alert", error.log_message());
        }
    }

    /// Creates an issue in `repository` (`owner/name`) and returns its number.
    pub async fn create_issue(
        &mut self,
        script: Option<&str>,
        repository: &str,
        payload: &Value,
    ) -> Result<u64, GithubError> {
        let path = format!("/repos/{repository}/issues");
        let issue = self
            .github_call(script, Method::Post, &path, Some(payload))
            .await?;
        // GitHub accepted it but the answer cannot be read: the issue is found by its marker
        // before anything is filed again.
        issue
            .get("number")
            .and_then(Value::as_u64)
            .filter(|&n| n > 0)
            .ok_or_else(|| GithubError {
                status: 201,
                message:
                    "GitHub accepted the issue but its answer has no issue number; it is looked up by its \
                          fingerprint before filing again"
                        .to_owned(),
                retry_at: None,
            })
    }

    /// The number of an issue in `repository` whose body carries `marker`, among the most
    /// recently created ones: a creation whose answer was lost is found, not filed twice.
    pub async fn find_filed(&mut self, repository: &str, marker: &str) -> Result<Option<u64>, GithubError> {
        let path = format!("/repos/{repository}/issues?state=all&sort=created&direction=desc&per_page=50");
        let issues = self.github_call(None, Method::Get, &path, None).await?;
        let found = issues.as_array().into_iter().flatten().find_map(|issue| {
            let body = issue.get("body").and_then(Value::as_str)?;
            body.contains(marker)
                .then(|| issue.get("number").and_then(Value::as_u64))
                .flatten()
        });
        Ok(found)
    }

    /// Files an issue claimed for the day: recorded once GitHub accepted it, the claim given back
    /// when GitHub refused, so a later run can try again.
    pub async fn file_daily_issue(
        &mut self,
        daily: &DailyIssue<'_>,
        repository: &str,
        payload: &Value,
    ) -> Result<Result<u64, GithubError>, ApiError> {
        match self.create_issue(None, repository, payload).await {
            Ok(number) => {
                daily.record(&self.db, repository, number, self.now).await?;
                Ok(Ok(number))
            }
            Err(error) => {
                daily.release(&self.db).await?;
                Ok(Err(error))
            }
        }
    }

    /// One GitHub call. Writes count against `script`'s hourly budget (operator and daily issues
    /// pass `None`); a refusal to wait or of the credentials halts the invocation; every failure
    /// is kept for `/health`, and a refused token or permission is alerted on. Boxed: one copy
    /// of the call serves its dozen call sites (each would otherwise inline it into its own
    /// future, kilobytes of wasm apiece).
    pub fn github_call<'b>(
        &'b mut self,
        script: Option<&'b str>,
        method: Method,
        path: &'b str,
        body: Option<&'b Value>,
    ) -> Pin<Box<dyn Future<Output = Result<Value, GithubError>> + 'b>> {
        Box::pin(self.github_call_now(script, method, path, body))
    }

    async fn github_call_now(
        &mut self,
        script: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, GithubError> {
        let Some(github) = self.github.as_ref() else {
            return Err(GithubError {
                status: 0,
                message: "GITHUB_TOKEN is not set".to_owned(),
                retry_at: None,
            });
        };
        self.report.github_calls += 1;
        let result = github.call(method.clone(), path, body, self.now).await;
        if let (Some(script), true) = (script, method != Method::Get) {
            self.wrote(script);
        }
        if let Err(error) = &result {
            if error.halts() {
                self.halted = true;
                self.resume_at = self.resume_at.max(error.retry_at);
            }
            if let Err(e) = state::set(&self.db, FactKey::LastGithubError, &error.describe(), self.now).await
            {
                self.fail("recording a GitHub error", e);
            }
            if let Some(refusal) = error.refused_access() {
                let alert = Alert {
                    subject: AlertSubject::GitHubRefusal { refusal },
                    text: format!(
                        ":rotating_light: Error collector: GitHub refused {method:?} {path}: {}. Errors are \
                         still recorded in D1 and filed once GitHub accepts the token (GITHUB_TOKEN needs \
                         Issues read and write on every mapped repository).",
                        error.describe()
                    ),
                };
                self.raise(&alert, GITHUB_ALERT_QUIET_MS).await;
            }
        }
        result
    }

    pub fn fail(&mut self, what: &str, error: impl std::fmt::Display) {
        self.report.errors.push(format!("{what}: {error}"));
    }

    /// Adds this invocation's writes to `ERROR_RATE`: one KV write per script that wrote.
    pub async fn flush_rates(&mut self) {
        let writes = std::mem::take(&mut self.writes);
        for (script, n) in writes {
            if n == 0 {
                continue;
            }
            let result = match ErrorRate::key(&script, self.hour()) {
                Ok(key) => self
                    .store
                    .increment(&key, n)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(()) => self.report.kv_writes += 1,
                Err(e) => self.fail("ERROR_RATE", e),
            }
        }
    }
}
